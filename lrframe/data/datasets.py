"""In-memory datasets as numpy arrays (no torch): scikit-learn's digits and diabetes, or a user's ``.npz``.

Config validation reads only sizes from here, so a bad data setting is reported before torch is
imported. Features are flattened to ``(n, features)`` and standardized with the training split's
per-feature mean and standard deviation; real-valued targets (regression) are standardized the
same way, so a loss of 1 is the variance of the targets.
"""

from __future__ import annotations

import importlib.util
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lrframe.config.errors import ConfigError


@dataclass(frozen=True)
class Split:
    """A seeded train/validation split, standardized, ready to become tensors."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    num_classes: int | None  # None: real-valued targets (regression)

    @property
    def num_targets(self) -> int:
        """Output width a model needs: the classes, or the regression targets per sample."""
        return self.num_classes or (1 if self.y_train.ndim == 1 else self.y_train.shape[1])

    @property
    def num_features(self) -> int:
        return self.x_train.shape[1]


#: samples of the data sets scikit-learn ships (plans the clock without reading them)
LENGTHS = {"digits": 1797, "diabetes": 442}
#: their features per sample (digits: 8x8 pixels)
FEATURES = {"digits": 64, "diabetes": 10}


def sklearn_file(name: str) -> Path:
    """A data file that ships inside scikit-learn (found without importing sklearn, ~0.8 s)."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or spec.origin is None:
        raise ConfigError("data.name", name.split("_")[0], "needs scikit-learn installed (it ships the data file)")
    return Path(spec.origin).parent / "datasets" / "data" / name


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 1797 8x8 handwritten digits: pixels in 0..16 as 64 features, labels 0..9."""
    table = np.loadtxt(sklearn_file("digits.csv.gz"), delimiter=",")
    return table[:, :-1], table[:, -1].astype(np.int64)


def load_diabetes() -> tuple[np.ndarray, np.ndarray]:
    """Efron et al.'s 442 diabetes patients: 10 baseline variables, and disease progression one year
    later (a real number, 25..346) as the regression target."""
    x = np.loadtxt(sklearn_file("diabetes_data_raw.csv.gz"))
    return x, np.loadtxt(sklearn_file("diabetes_target.csv.gz"))


def _npz_member_shape(archive: zipfile.ZipFile, member: str) -> tuple[int, ...]:
    with archive.open(member) as stream:
        major, _ = np.lib.format.read_magic(stream)
        read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
        shape, _, _ = read_header(stream)
    return shape


def npz_length(path: str) -> int:
    """The number of samples in a ``.npz`` with arrays ``X`` and ``y``, read from its headers only."""
    return npz_shape(path)[0]


def npz_features(path: str) -> int:
    """The features per sample of a ``.npz``'s ``X`` (flattened), read from its headers only."""
    return math.prod(npz_shape(path)[1:])


def npz_shape(path: str) -> tuple[int, ...]:
    """The shape of a ``.npz``'s ``X`` (checked against ``y``), read from its headers only."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError("data.path", path, "file not found")
    try:
        with zipfile.ZipFile(file) as archive:
            names = set(archive.namelist())
            if not {"X.npy", "y.npy"} <= names:
                raise ConfigError("data.path", path, "expected a .npz with arrays X and y")
            x_shape, y_shape = _npz_member_shape(archive, "X.npy"), _npz_member_shape(archive, "y.npy")
    except (zipfile.BadZipFile, ValueError, OSError) as error:
        raise ConfigError("data.path", path, f"not a readable .npz ({error})") from None
    if len(x_shape) < 2 or len(y_shape) != 1 or x_shape[0] != y_shape[0]:
        raise ConfigError("data.path", path, f"expected X of shape (n, ...) and y of shape (n,); "
                                             f"got X{x_shape}, y{y_shape}")
    return x_shape


def load_npz(path: str) -> tuple[np.ndarray, np.ndarray]:
    """A user's arrays: ``X`` (n, ...) features and ``y`` (n,): integer class labels 0..k-1
    (classification) or real numbers (regression)."""
    npz_length(path)
    with np.load(path) as arrays:
        x, y = arrays["X"], arrays["y"]
    if np.issubdtype(y.dtype, np.integer):
        if y.min() < 0:
            raise ConfigError("data.path", path, "expected y to hold class labels >= 0 (integers) or real "
                                                 "targets (floats)")
        return x.reshape(len(x), -1).astype(np.float64), y.astype(np.int64)
    if not np.issubdtype(y.dtype, np.floating) or not np.isfinite(y).all():
        raise ConfigError("data.path", path, "expected y to hold class labels (integers) or finite real targets")
    return x.reshape(len(x), -1).astype(np.float64), y.astype(np.float64)


LOADERS = {"digits": load_digits, "diabetes": load_diabetes}


def split_sizes(length: int, val_fraction: float) -> tuple[int, int]:
    """(train, validation) sizes: ceil(val_fraction * n) samples are held out."""
    val = math.ceil(val_fraction * length)
    return length - val, val


def load_split(node: dict) -> Split:
    """Load the configured dataset, split it with ``data.split_seed`` and standardize it."""
    name = node["name"]
    x, y = load_npz(node["path"]) if name == "npz" else LOADERS[name]()
    n_train, _ = split_sizes(len(x), node["val_fraction"])
    order = np.random.default_rng(node["split_seed"]).permutation(len(x))
    train, val = order[:n_train], order[n_train:]
    mean = x[train].mean(axis=0)
    std = x[train].std(axis=0)
    std[std == 0] = 1.0
    scaled = ((x - mean) / std).astype(np.float32)
    if np.issubdtype(y.dtype, np.integer):
        return Split(scaled[train], y[train], scaled[val], y[val], num_classes=int(y.max()) + 1)
    y = ((y - y[train].mean()) / (y[train].std() or 1.0)).astype(np.float32)
    return Split(scaled[train], y[train], scaled[val], y[val], num_classes=None)
