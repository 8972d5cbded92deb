"""In-memory datasets as numpy arrays (no torch): scikit-learn's digits, or a user's ``.npz``.

Config validation reads only sizes from here, so a bad data setting is reported before torch is
imported. Features are flattened to ``(n, features)`` and standardized with the training split's
per-feature mean and standard deviation.
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
    num_classes: int

    @property
    def num_features(self) -> int:
        return self.x_train.shape[1]


def digits_file() -> Path:
    """The digits data file that ships inside scikit-learn (found without importing sklearn, ~0.8 s)."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or spec.origin is None:
        raise ConfigError("data.name", "digits", "needs scikit-learn installed (it ships the digits file)")
    return Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz"


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 1797 8x8 handwritten digits: pixels in 0..16 as 64 features, labels 0..9."""
    table = np.loadtxt(digits_file(), delimiter=",")
    return table[:, :-1], table[:, -1].astype(np.int64)


def _npz_member_shape(archive: zipfile.ZipFile, member: str) -> tuple[int, ...]:
    with archive.open(member) as stream:
        major, _ = np.lib.format.read_magic(stream)
        read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
        shape, _, _ = read_header(stream)
    return shape


def npz_length(path: str) -> int:
    """The number of samples in a ``.npz`` with arrays ``X`` and ``y``, read from its headers only."""
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
    return x_shape[0]


def load_npz(path: str) -> tuple[np.ndarray, np.ndarray]:
    """A user's arrays: ``X`` (n, ...) features and ``y`` (n,) integer class labels 0..k-1."""
    npz_length(path)
    with np.load(path) as arrays:
        x, y = arrays["X"], arrays["y"]
    if not np.issubdtype(y.dtype, np.integer) or y.min() < 0:
        raise ConfigError("data.path", path, "expected y to hold integer class labels >= 0")
    return x.reshape(len(x), -1).astype(np.float64), y.astype(np.int64)


def dataset_length(node: dict) -> int:
    """The number of samples of the configured dataset (cheap: used by validation)."""
    return len(load_digits()[1]) if node["name"] == "digits" else npz_length(node["path"])


def split_sizes(length: int, val_fraction: float) -> tuple[int, int]:
    """(train, validation) sizes: ceil(val_fraction * n) samples are held out."""
    val = math.ceil(val_fraction * length)
    return length - val, val


def load_split(node: dict) -> Split:
    """Load the configured dataset, split it with ``data.split_seed`` and standardize it."""
    x, y = load_digits() if node["name"] == "digits" else load_npz(node["path"])
    n_train, _ = split_sizes(len(x), node["val_fraction"])
    order = np.random.default_rng(node["split_seed"]).permutation(len(x))
    train, val = order[:n_train], order[n_train:]
    mean = x[train].mean(axis=0)
    std = x[train].std(axis=0)
    std[std == 0] = 1.0
    scaled = ((x - mean) / std).astype(np.float32)
    return Split(scaled[train], y[train], scaled[val], y[val], num_classes=int(y.max()) + 1)
