"""What TensorBoard opens on: the summaries a run (and a sweep) writes besides its scalar series.

- a **custom-scalars layout** (the CUSTOM SCALARS tab): category ``lr with losses`` with the lr in a
  chart of its own (every parameter group's, ``lr`` or ``lr/<group>``) beside ``train/loss`` and
  ``val/loss``; category ``validation`` with a chart per validation metric;
- the run's **constants** (``effective_lr``, ``global_batch``, ``lr_found``) as a text table (tag
  ``run``), not as one-point scalar charts;
- an **HParams experiment** that declares the metrics (the monitored one, ``val/loss``, the monitored
  one's best, the other validation metrics, ``train/loss_epoch``, ``wall_seconds``) and the
  hyper-parameters, the swept ones and then the lr-setting ones marked ``differs``, which
  TensorBoard lists first and shows without ticking boxes (its HParams tab shows the first five
  hyper-parameters and metrics);
- **figures** as images: the run's planned schedule (tag ``schedule``), a sweep's summary (``summary``).

Everything is built here as TensorBoard's own protos, without torch: a run writes them through its
logger's writer, a sweep (whose launching process needs no torch) through ``write_events``.
TensorBoard takes one experiment for a whole ``--logdir`` (the first it finds), so a job of a
multirun writes none: the sweep writes one for all its jobs when it ends.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable, Mapping
from pathlib import Path

from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
from tensorboard.compat.proto.tensor_pb2 import TensorProto
from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
from tensorboard.compat.proto.types_pb2 import DT_STRING

#: the tag of a run's constants (text) and of its planned schedule (image)
CONSTANTS_TAG, SCHEDULE_TAG = "run", "schedule"
#: the tag of a sweep's summary figure
SUMMARY_TAG = "summary"
#: the hyper-parameters that set a run's lr, listed first after the swept ones
HEADLINE = ("optimizer.name", "optimizer.lr", "scheduler.name", "warmup.name", "data.batch_size")
#: how many hyper-parameters (those marked ``differs`` first) and metrics the HParams tab shows
#: before boxes are ticked (TensorBoard 2.21's hparams dashboard: ``displayed: i < 5``)
SHOWN = 5
#: the layout's categories
LR_WITH_LOSSES, VALIDATION = "lr with losses", "validation"


def _string_tensor(value: bytes) -> TensorProto:
    return TensorProto(dtype=DT_STRING, tensor_shape=TensorShapeProto(), string_val=[value])


def _exact(tag: str) -> str:
    return f"^{re.escape(tag)}$"


def layout(metric_names: Iterable[str] | None):
    """The custom-scalars layout: lr with the losses, then one chart per validation metric.

    ``metric_names``: the validation metrics the run logs (``val/loss``, ``val/acc``, ...); None when
    they are not known in advance (a user's LightningModule): one chart of every ``val/`` tag then.
    """
    from tensorboard.plugins.custom_scalar import layout_pb2

    def chart(title: str, *patterns: str):
        return layout_pb2.Chart(title=title, multiline=layout_pb2.MultilineChartContent(tag=list(patterns)))

    lr_and_losses = layout_pb2.Category(title=LR_WITH_LOSSES, chart=[
        chart("lr", _exact("lr"), r"^lr/"),  # its own chart: the losses' scale would flatten it
        chart("train/loss and val/loss", _exact("train/loss"), _exact("val/loss"))])
    if metric_names is None:
        validation = [chart("val/*", r"^val/")]
    else:
        validation = [chart(name, _exact(name)) for name in metric_names]
    return layout_pb2.Layout(category=[lr_and_losses, layout_pb2.Category(title=VALIDATION, chart=validation)])


def layout_summary(metric_names: Iterable[str] | None) -> Summary:
    from tensorboard.plugins.custom_scalar import metadata

    return Summary(value=[Summary.Value(tag=metadata.CONFIG_SUMMARY_TAG, metadata=metadata.create_summary_metadata(),
                                        tensor=_string_tensor(layout(metric_names).SerializeToString()))])


def text_summary(tag: str, markdown: str) -> Summary:
    """A text (TEXT tab; markdown) summary."""
    from tensorboard.plugins.text import metadata

    return Summary(value=[Summary.Value(tag=tag, metadata=metadata.create_summary_metadata(tag, ""),
                                        tensor=_string_tensor(markdown.encode()))])


def constants_markdown(constants: Mapping[str, object]) -> str:
    """A run's constants as a two-column markdown table."""
    rows = "".join(f"| {name} | {value:g} |\n" if isinstance(value, float) else f"| {name} | {value} |\n"
                   for name, value in constants.items())
    return "| constant | value |\n|---|---|\n" + rows


def image_summary(tag: str, png: bytes) -> Summary:
    """A PNG as an image (IMAGES tab)."""
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk
    return Summary(value=[Summary.Value(tag=tag, image=Summary.Image(
        height=height, width=width, colorspace=4, encoded_image_string=png))])


def swept_keys(overrides: Iterable[str], hparams: Iterable[str]) -> list[str]:
    """The hyper-parameters that command-line overrides set, in their order: ``optimizer.lr=0.3`` sets
    ``optimizer.lr``, ``scheduler=step`` sets ``scheduler.name``; others (``+experiment=...``) none."""
    names = set(hparams)
    keys = []
    for override in overrides:
        key = override.lstrip("+~").partition("=")[0]
        name = key if key in names else f"{key}.name" if f"{key}.name" in names else None
        if name and name not in keys:
            keys.append(name)
    return keys


def first_keys(swept: list[str], hparams: Iterable[str]) -> list[str]:
    """The hyper-parameters to mark ``differs`` (TensorBoard lists those first, by name, and shows five):
    every swept one, then the lr-setting ones (``HEADLINE``) while fewer than ``SHOWN`` are marked."""
    names = set(hparams)
    fill = [key for key in HEADLINE if key in names and key not in swept]
    return [*swept, *fill[:max(0, SHOWN - len(swept))]]


def _hparam_info(name: str, values: list, differs: bool):
    """A hyper-parameter's declaration with its type and domain (every value the sessions have);
    left untyped when the sessions disagree on its type (TensorBoard's filters would hide some)."""
    from tensorboard.plugins.hparams import api_pb2

    info = api_pb2.HParamInfo(name=name, differs=differs)
    kinds = {type(value) for value in values}
    if kinds == {bool}:
        info.type = api_pb2.DATA_TYPE_BOOL
        info.domain_discrete.extend(sorted(set(values)))
    elif kinds and kinds <= {int, float}:
        info.type = api_pb2.DATA_TYPE_FLOAT64
        info.domain_interval.min_value, info.domain_interval.max_value = min(values), max(values)
    elif kinds == {str}:
        info.type = api_pb2.DATA_TYPE_STRING
        info.domain_discrete.extend(sorted(set(values)))
    return info


def experiment_summary(sessions: list[Mapping[str, object]], swept: list[str], metrics: list[str]) -> Summary:
    """The HParams experiment of ``sessions`` (each a hyper-parameter dict): every hyper-parameter any
    session has, the ``swept`` ones first and marked ``differs``, and the ``metrics`` in their order."""
    from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

    names = list(dict.fromkeys([*swept, *sorted({name for session in sessions for name in session})]))
    infos = [_hparam_info(name, [s[name] for s in sessions if name in s], name in swept) for name in names]
    experiment = api_pb2.Experiment(hparam_infos=infos, metric_infos=[
        api_pb2.MetricInfo(name=api_pb2.MetricName(tag=tag), display_name=tag) for tag in metrics])
    content = plugin_data_pb2.HParamsPluginData(experiment=experiment)
    return Summary(value=[Summary.Value(tag=metadata.EXPERIMENT_TAG, tensor=metadata.NULL_TENSOR,
                                        metadata=metadata.create_summary_metadata(content))])


def declared_metrics(monitor: str, metric_names: Iterable[str] | None) -> list[str]:
    """The HParams table's metrics, most telling first: the monitored metric, ``val/loss``, the
    monitored metric's best, the other validation metrics, the last epoch's training loss, the time."""
    others = sorted(metric_names or [])
    return list(dict.fromkeys([monitor, "val/loss", f"{monitor}_best", *others,
                               *(["train/loss_epoch"] if metric_names is not None else []), "wall_seconds"]))


def write_events(directory: Path, summaries: Iterable[Summary], step: int = 0) -> None:
    """Write ``summaries`` at ``step`` into a new event file in ``directory`` (TensorBoard's own writer)."""
    import time

    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    directory.mkdir(parents=True, exist_ok=True)
    writer = EventFileWriter(str(directory))
    try:
        for summary in summaries:
            writer.add_event(Event(wall_time=time.time(), step=step, summary=summary))
    finally:
        writer.close()
