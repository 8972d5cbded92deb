import pytest

from lrframe.config.errors import (ConfigError, Diverged, boolean, choice, integer, known_keys, message_of, number, show,
                            sorted_integers)


@pytest.mark.parametrize("value, text", [(None, "null"), (True, "true"), ("cosine", "cosine"),
                                         ("a b", "'a b'"), ([0.9, 1.0], "[0.9,1.0]"), (0.1, "0.1")])
def test_values_are_shown_as_typed_on_the_command_line(value, text):
    assert show(value) == text


def test_message_is_one_line_with_key_value_and_what_is_allowed():
    error = ConfigError("gamma", -0.1, "expected a number > 0").under("scheduler")
    assert str(error) == "scheduler.gamma=-0.1: expected a number > 0"


@pytest.mark.parametrize("value", [True, "abc", None, float("nan"), float("inf"), 0])
def test_number_rejects_non_numbers_and_out_of_range(value):
    with pytest.raises(ConfigError, match=r"^lr=.*: expected a number > 0$"):
        number("lr", value, gt=0)


def test_a_number_in_quotes_is_named_a_string():
    with pytest.raises(ConfigError, match=r"^lr=0\.1: expected a number > 0, not the string '0\.1' \(drop the quotes\)$"):
        number("lr", "0.1", gt=0)
    with pytest.raises(ConfigError, match=r"^max_epochs=3: expected an integer >= 1, not the string '3'"):
        integer("max_epochs", "3", ge=1)


def test_number_accepts_ints_and_bounds_inclusively_when_asked():
    assert number("x", 1, ge=1, le=1) == 1.0
    with pytest.raises(ConfigError, match=r"expected a number >= 0 and < 1"):
        number("momentum", 1.0, ge=0, lt=1)


def test_integer_rejects_floats_and_booleans():
    for value in (3.0, True):
        with pytest.raises(ConfigError, match="expected an integer >= 1"):
            integer("batch_size", value, ge=1)


def test_choice_boolean_and_sorted_integers():
    with pytest.raises(ConfigError, match="expected one of step, epoch"):
        choice("interval", "batch", ("step", "epoch"))
    with pytest.raises(ConfigError, match="expected true or false"):
        boolean("shuffle", "yes")
    assert sorted_integers("milestones", [3, 5]) == [3, 5]
    with pytest.raises(ConfigError, match="strictly increasing"):
        sorted_integers("milestones", [5, 3])


def test_known_keys_names_the_key_under_its_prefix_and_lists_the_allowed():
    with pytest.raises(ConfigError, match=r"^data\.bach_size=1: unknown key for data=digits; allowed: a, b$"):
        known_keys({"bach_size": 1}, ("a", "b"), "data=digits", "data")


def test_message_of_lrframe_errors_also_when_they_come_back_from_a_spawned_worker():
    assert message_of(ConfigError("seed", -1, "expected an integer >= 0")) == "seed=-1: expected an integer >= 0"
    diverged = "training diverged at step 4: loss=nan, lr=3.0; no checkpoint was saved"
    assert message_of(Diverged(4, float("nan"), {"lr": 3.0})) == diverged
    from torch.multiprocessing.spawn import ProcessRaisedException

    traceback = ('\n\n-- Process 0 terminated with the following error:\nTraceback (most recent call last):\n'
                 f'  File "x.py", line 1, in f\nlrframe.config.errors.Diverged: {diverged}\n')
    assert message_of(ProcessRaisedException(traceback, 0, 123)) == diverged
    assert message_of(RuntimeError("lrframe.config.errors.Diverged: but not on the last line\nsomething else")) is None
    assert message_of(ValueError("a bug")) is None
