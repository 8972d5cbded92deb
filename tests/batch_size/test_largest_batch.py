"""The largest-batch search, as Lightning's Tuner.scale_batch_size searches (power: double until a batch
does not fit; binsearch: then bisect), on synthetic "fits" functions."""

import pytest

from lrframe.batch_size.search import largest_batch


def tried(fits, **settings):
    largest, limited_by, trials = largest_batch(fits, **{"init_val": 2, "max_trials": 25, "upper": 10_000,
                                                         **settings})
    return largest, limited_by, [(t.batch_size, t.fits) for t in trials]


def test_power_doubles_until_a_batch_does_not_fit():
    assert tried(lambda b: b <= 100, mode="power") == (
        64, "memory", [(2, True), (4, True), (8, True), (16, True), (32, True), (64, True), (128, False)])


def test_binsearch_bisects_between_the_last_fit_and_the_first_failure():
    largest, limited_by, trials = tried(lambda b: b <= 100, mode="binsearch")
    assert (largest, limited_by) == (100, "memory")
    assert trials[7:] == [(96, True), (112, False), (104, False), (100, True), (102, False), (101, False)]


@pytest.mark.parametrize("mode", ["power", "binsearch"])
def test_the_training_set_bounds_the_batch(mode):
    assert tried(lambda b: True, mode=mode, upper=1437)[:2] == (1437, "training set")
    assert tried(lambda b: True, mode=mode, upper=1437)[2][-2:] == [(1024, True), (1437, True)]
    assert tried(lambda b: True, mode=mode, init_val=5000, upper=1437)[2] == [(1437, True)]


def test_max_trials_and_a_first_batch_that_does_not_fit():
    assert tried(lambda b: True, mode="power", max_trials=3)[:2] == (8, "max_trials")
    assert tried(lambda b: b <= 100, mode="binsearch", max_trials=9)[:2] == (96, "max_trials")
    assert tried(lambda b: False, mode="binsearch") == (None, "memory", [(2, False)])
