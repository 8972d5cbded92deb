"""What TensorBoard opens on, read back from a run's event files by TensorBoard's own plugins.

These are the findings of looking at a default run in headless Chromium (docs/guide.md, "Watch in
TensorBoard"), kept as assertions on the event files: the CUSTOM SCALARS tab shows the lr in a chart
of its own beside the losses, and the validation metrics; the HParams table shows the lr-setting
hyper-parameters and the metrics (val/acc, val/loss, val/acc_best) without ticking boxes, because
TensorBoard displays the first five of each that the experiment declares (hyper-parameters marked
``differs`` first); effective_lr and global_batch are a text table, not one-point charts; the
planned schedule is an image.
"""

import json
import re

import pytest
from tensorboard import context
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.custom_scalar.custom_scalars_plugin import CustomScalarsPlugin
from tensorboard.plugins.hparams import metadata

from conftest import (compose_config, fit_in_process, hparam_values, hparams_experiment, read_hparams_sessions,
                      read_metrics, tensorboard_backend)
from lrframe.training import board

# what TensorBoard's HParams tab ticks by default: the first five hyper-parameters (those marked
# `differs` first, then by name) and the first five metrics (its index.js: `displayed: i < 5`)
SHOWN = 5


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    fit_in_process(run_dir, "trainer.max_epochs=2", "trainer.log_every_n_steps=1")
    return run_dir


def events_of(run_dir):
    events = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    events.Reload()
    return events


def test_the_custom_scalars_layout_puts_the_lr_alone_beside_the_losses_then_each_validation_metric(run):
    layout = json.loads(CustomScalarsPlugin(tensorboard_backend(run)).layout_impl(context.RequestContext(), ""))
    scalars = events_of(run).Tags()["scalars"]

    def matched(chart):
        return sorted(tag for tag in scalars if any(re.search(p, tag) for p in chart["multiline"]["tag"]))

    categories = {category["title"]: category["chart"] for category in layout["category"]}
    assert list(categories) == ["lr with losses", "validation"]
    assert [matched(chart) for chart in categories["lr with losses"]] == [["lr"], ["train/loss", "val/loss"]]
    validation = [matched(chart) for chart in categories["validation"]]
    assert validation == [["val/acc"], ["val/loss"]]  # the monitored metric first
    assert {tag for tag in scalars if tag.startswith("val/")} - {"val/acc_best"} == {"val/acc", "val/loss"}


def test_the_lr_chart_takes_every_parameter_group_and_nothing_else():
    lr_chart = board.layout(["val/loss"]).category[0].chart[0]
    tags = ["lr", "lr/default", "lr/head", "lr_found", "train/loss", "step_size/p50"]
    assert [tag for tag in tags if any(re.search(p, tag) for p in lr_chart.multiline.tag)] == ["lr", "lr/default",
                                                                                              "lr/head"]
    unknown = board.layout(None).category[1].chart  # a user's module: its val/ tags are not known ahead
    assert [chart.multiline.tag[:] for chart in unknown] == [["^val/"]]


def test_the_hparams_experiment_declares_the_metrics_first_and_the_lr_setting_keys(run):
    _, experiment = hparams_experiment(run)
    metrics = [info.name.tag for info in experiment.metric_infos]
    assert metrics[:3] == ["val/acc", "val/loss", "val/acc_best"]  # ticked in the table without asking
    assert len(metrics) <= SHOWN and set(metrics) <= set(events_of(run).Tags()["scalars"])
    session = hparam_values(read_hparams_sessions(run)[metadata.SESSION_START_INFO_TAG][0])
    assert [info.name for info in experiment.hparam_infos] == sorted(
        session, key=lambda name: (name not in board.HEADLINE, name))  # TensorBoard's own order
    shown = [info.name for info in experiment.hparam_infos[:SHOWN]]
    assert shown == ["data.batch_size", "optimizer.lr", "optimizer.name", "scheduler.name", "warmup.name"]
    lr = next(info for info in experiment.hparam_infos if info.name == "optimizer.lr")
    assert lr.domain_interval.min_value == lr.domain_interval.max_value == session["optimizer.lr"] == 0.1


def test_the_run_constants_are_text_and_metrics_json_not_one_point_charts(run):
    events = events_of(run)
    assert not {"effective_lr", "global_batch", "epoch", "lr_found"} & set(events.Tags()["scalars"])
    (text,) = events.Tensors(board.CONSTANTS_TAG)
    table = text.tensor_proto.string_val[0].decode()
    config = compose_config()
    lr, batch = config.optimizer.lr, config.data.batch_size  # lr_scaling none: the configured lr
    assert f"| effective_lr | {lr:g} |" in table and f"| global_batch | {batch} |" in table
    metrics = read_metrics(run)
    assert metrics["effective_lr"] == lr and metrics["global_batch"] == batch


def test_the_schedule_image_is_the_figure_task_preview_draws(run, tmp_path):
    (image,) = events_of(run).Images(board.SCHEDULE_TAG)
    assert image.step == 0
    fit_in_process(tmp_path, "task=preview", "trainer.max_epochs=2")
    assert image.encoded_image_string == (tmp_path / "schedule.png").read_bytes()
    assert (image.width, image.height) == (800, 320)  # what preview.plot draws for one curve (8 x 3.2 in)


def test_an_image_summary_refuses_what_is_not_a_png():
    with pytest.raises(ValueError, match="not a PNG"):
        board.image_summary("x", b"GIF89a")
