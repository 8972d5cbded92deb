"""data=text: the characters of pydoc_data.topics as next-character windows."""

import math

import numpy as np

from lrframe.data.text import corpus, windows


def test_windows_are_the_text_shifted_by_one_and_validation_is_the_end_of_the_text():
    node = {"path": None, "block_size": 128, "val_fraction": 0.1}
    text = corpus(None)
    assert len(text) > 400_000
    data = windows(node)
    decode = np.array(list(data.vocabulary))
    first = "".join(decode[data.x_train[0]])
    assert first == text[:128] and "".join(decode[data.y_train[0]]) == text[1:129]
    count = (len(text) - 1) // 128
    assert len(data.x_val) == math.ceil(0.1 * count) and len(data.x_train) + len(data.x_val) == count
    last = "".join(decode[data.y_val[-1]])
    assert last == text[(count - 1) * 128 + 1: count * 128 + 1]
    assert 3.0 < data.unigram_entropy() < 3.5  # ~3.25 nats per character


def test_a_users_own_file_is_read_as_utf8(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("héllo wörld " * 50, encoding="utf-8")
    data = windows({"path": str(path), "block_size": 16, "val_fraction": 0.2})
    assert set(data.vocabulary) == set("héllo wörld ")
