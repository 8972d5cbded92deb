import numpy as np
import pytest
from sklearn.datasets import load_digits as sklearn_digits

from lrframe.data.datasets import load_digits, load_split, split_sizes


def test_digits_equal_scikit_learns_loader():
    x, y = load_digits()
    reference = sklearn_digits()
    np.testing.assert_array_equal(x, reference.data)
    np.testing.assert_array_equal(y, reference.target)


def test_split_is_seeded_disjoint_and_standardized_with_training_statistics():
    node = {"name": "digits", "val_fraction": 0.2, "split_seed": 0}
    first, again = load_split(node), load_split(node)
    np.testing.assert_array_equal(first.x_val, again.x_val)
    assert (len(first.x_train), len(first.x_val)) == split_sizes(1797, 0.2) == (1437, 360)
    assert first.num_classes == 10 and first.num_features == 64
    used = first.x_train.std(axis=0) > 0
    np.testing.assert_allclose(first.x_train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(first.x_train.std(axis=0)[used], 1, atol=1e-4)
    other = load_split({**node, "split_seed": 1})
    assert not np.array_equal(first.y_val, other.y_val)


def test_npz_is_flattened_and_labels_checked(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, X=np.random.default_rng(0).normal(size=(50, 2, 3)), y=np.arange(50) % 4)
    split = load_split({"name": "npz", "path": str(path), "val_fraction": 0.2, "split_seed": 0})
    assert split.x_train.shape == (40, 6) and split.num_classes == 4
    np.savez(path, X=np.zeros((5, 2)), y=np.array([0, -1, 2, 0, 1]))
    with pytest.raises(ValueError, match="class labels >= 0"):
        load_split({"name": "npz", "path": str(path), "val_fraction": 0.2, "split_seed": 0})


def test_npz_real_targets_are_regression_standardized_by_the_training_split(tmp_path):
    path = tmp_path / "r.npz"
    y = np.linspace(10.0, 60.0, 50)
    np.savez(path, X=np.random.default_rng(0).normal(size=(50, 3)), y=y)
    split = load_split({"name": "npz", "path": str(path), "val_fraction": 0.2, "split_seed": 0})
    order = np.random.default_rng(0).permutation(50)
    train = y[order[:40]]
    assert split.num_classes is None and split.num_targets == 1
    np.testing.assert_allclose(split.y_train, (train - train.mean()) / train.std(), rtol=1e-6)
    np.testing.assert_allclose(split.y_val, (y[order[40:]] - train.mean()) / train.std(), rtol=1e-5)


def test_diabetes_is_sklearns_regression_set():
    from sklearn.datasets import load_diabetes

    reference = load_diabetes(scaled=False)
    split = load_split({"name": "diabetes", "val_fraction": 0.2, "split_seed": 0})
    assert split.x_train.shape == (353, 10) and split.x_val.shape == (89, 10) and split.num_classes is None
    order = np.random.default_rng(0).permutation(442)
    target = reference.target[order[:353]]
    np.testing.assert_allclose(split.y_train, (target - target.mean()) / target.std(), rtol=1e-5)
