"""A character-level text corpus as next-character windows (numpy, no torch).

The default corpus is the text of ``pydoc_data.topics``, which ships with every Python (~465k
characters of the language reference). The vocabulary is the corpus' sorted set of characters.
The corpus is cut into non-overlapping windows of ``block_size + 1`` characters: inputs are a
window's first ``block_size`` characters, targets the same shifted by one. The last
``ceil(val_fraction x windows)`` windows are the validation set (the end of the text: no window
of it is seen in training).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lrframe.config.errors import ConfigError


def corpus(path: str | None) -> str:
    """The text of ``path`` (UTF-8), or of pydoc_data.topics for null."""
    if path is None:
        from pydoc_data.topics import topics

        return "".join(topics[key] for key in sorted(topics))
    file = Path(path)
    if not file.is_file():
        raise ConfigError("data.path", path, "file not found; expected a UTF-8 text file")
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError("data.path", path, f"not UTF-8 text ({error.reason} at byte {error.start}); expected a "
                                             "UTF-8 text file") from None
    if not text:
        raise ConfigError("data.path", path, "an empty file; expected a UTF-8 text file")
    if "\0" in text:  # valid UTF-8, but no text has NUL characters: a binary file
        raise ConfigError("data.path", path, f"a binary file (a NUL byte at character {text.index(chr(0))}); "
                                             "expected a UTF-8 text file")
    return text


def window_count(node: dict) -> int:
    """How many windows the corpus gives (the data set's size, for the clock): at least two, one
    for training and one for validation, each ``block_size + 1`` characters."""
    path, block = node.get("path"), node["block_size"]
    length = len(corpus(path))
    windows = (length - 1) // block
    if windows >= 2:
        return windows
    most = (length - 1) // 2  # the longest block_size that still gives two windows
    longest = f"data.block_size at most {most}" if most >= 1 else "a longer text"
    if path is not None and length < block + 1:  # not even one window
        raise ConfigError("data.path", path, f"{length} characters, shorter than one window of data.block_size + 1 "
                                             f"= {block + 1}; expected at least {2 * block + 1} characters (two "
                                             f"windows: training and validation), or {longest}")
    text = f"data.path has {length} characters" if path is not None else f"pydoc_data.topics has {length} characters"
    raise ConfigError("data.block_size", block, f"longer than the text allows ({text}; training and validation "
                                                f"need a window of block_size + 1 each); expected {longest}")


@dataclass(frozen=True)
class Windows:
    x_train: np.ndarray  # (windows, block_size) character ids
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    vocabulary: str

    def unigram_entropy(self) -> float:
        """The training text's character entropy in nats: the loss of a model that ignores context."""
        counts = np.bincount(self.y_train.ravel(), minlength=len(self.vocabulary))
        p = counts[counts > 0] / counts.sum()
        return float(-(p * np.log(p)).sum())


def windows(node: dict) -> Windows:
    text = corpus(node.get("path"))
    vocabulary = "".join(sorted(set(text)))
    ids = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    lookup = {ord(c): i for i, c in enumerate(vocabulary)}
    ids = np.array([lookup[c] for c in ids.tolist()], dtype=np.int64)
    block = node["block_size"]
    count = window_count(node)
    starts = np.arange(count) * block
    index = starts[:, None] + np.arange(block + 1)
    sequences = ids[index]
    n_val = math.ceil(node["val_fraction"] * count)
    train, val = sequences[: count - n_val], sequences[count - n_val:]
    return Windows(train[:, :-1], train[:, 1:], val[:, :-1], val[:, 1:], vocabulary)
