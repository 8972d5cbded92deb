"""A model's layers from input to output, for ``optimizer.layer_decay``.

The layer of each parameter comes from the first of these the model has:

1. ``layer_groups()``, lrframe's protocol: a method returning the layers in order from the input to the
   output, each an ``nn.Module``, an ``nn.Parameter`` or a list/tuple of them (the embeddings and a
   class token together, the final norm with the head)::

       def layer_groups(self):
           return [[self.embed, self.cls_token], *self.blocks, [self.norm, self.head]]

2. ``group_matcher(coarse=False)``, timm's protocol (every timm model has it): a dict of group name ->
   a regex, or a list of ``(regex, suffix)``, grouped as timm's ``group_with_matcher`` does: a
   parameter's ordinal is (its group's position, the regex's numbers, the suffix), sorted; a suffix of
   ``(99999,)`` joins the layer before (ViT's final norm joins the last block).
3. An ``nn.Sequential`` (``model=mlp``): its children that have parameters, in order.

Parameters that no layer lists form one more layer after the others (as timm's matcher places its
unmatched names, the head's place: lr x 1). The built-in models: ``mlp`` hidden1 ... hiddenN, head;
``cnn`` its three convolutions, then head (``SmallCNN.layer_groups``); ``transformer`` the token and
position embeddings, each block, then the final norm with the head (``CharTransformer.layer_groups``).
"""

from __future__ import annotations

import re

from torch import nn

from lrframe.config.errors import ConfigError

#: timm's MATCH_PREV_GROUP: a suffix that puts a match in the layer before it
MATCH_PREVIOUS = 99999.0


def layer_ids(model: nn.Module) -> dict[str, int] | None:
    """Each parameter's name -> its layer (0: the input's), or None when the model says no order."""
    names = [name for name, _ in model.named_parameters()]
    if callable(getattr(model, "layer_groups", None)):
        return _listed(model, model.layer_groups())
    if callable(getattr(model, "group_matcher", None)):
        return _matched(names, model.group_matcher(coarse=False))
    if isinstance(model, nn.Sequential):
        return _listed(model, [child for child in model.children() if any(True for _ in child.parameters())])
    return None


def layer_count(ids: dict[str, int]) -> int:
    return max(ids.values()) + 1 if ids else 0


def _listed(model: nn.Module, layers) -> dict[str, int]:
    """Layer ids from an ordered list of modules / parameters (or lists of them)."""
    layer_of: dict[int, int] = {}
    for index, layer in enumerate(layers):
        for item in layer if isinstance(layer, (list, tuple)) else [layer]:
            if isinstance(item, nn.Parameter):
                tensors = [item]
            elif isinstance(item, nn.Module):
                tensors = list(item.parameters())
            else:
                raise ConfigError("optimizer.layer_decay", None, f"{type(model).__name__}.layer_groups() gave a "
                                  f"{type(item).__name__}; expected modules or parameters (or lists of them), "
                                  "input to output")
            for tensor in tensors:
                layer_of.setdefault(id(tensor), index)
    listed = len(layers)
    return {name: layer_of.get(id(p), listed) for name, p in model.named_parameters()}


def _matched(names: list[str], matcher) -> dict[str, int]:
    """timm's ``group_with_matcher(..., reverse=True)`` for a dict matcher."""
    if not isinstance(matcher, dict):
        raise ConfigError("optimizer.layer_decay", None, "the model's group_matcher(coarse=False) is not a dict; "
                          "give the model a layer_groups() method (docs/param-groups.md)")
    rules = []
    for ordinal, spec in enumerate(matcher.values()):
        if spec is None:
            continue
        for regex, suffix in (spec if isinstance(spec, (list, tuple)) else [(spec, None)]):
            rules.append((re.compile(regex), float(ordinal), tuple(map(float, suffix or ()))))

    def ordinal(name: str) -> tuple[float, ...]:
        for regex, group, suffix in rules:
            found = regex.match(name)
            if found:
                return (group, *(float(n) for n in found.groups() if n is not None), *suffix)
        return (float("inf"),)

    keys = {name: ordinal(name) for name in names}
    layer, ids = -1, {}
    for key in sorted(set(keys.values())):
        if layer < 0 or key[-1] != MATCH_PREVIOUS:
            layer += 1
        ids[key] = layer
    return {name: ids[key] for name, key in keys.items()}
