"""optimizer.layer_decay against timm's param_groups_layer_decay, written out here from timm's source
(timm/optim/_param_groups.py and timm/models/_manipulate.py's group_with_matcher; timm is not installed):

    layer_scales = [layer_decay ** (layer_max - i) for i in range(num_layers)],  layer_max = num_layers - 1
    group lr     = lr x layer_scales[layer_id(name)]

with each model's layer ids given here by name, as BEiT's get_num_layer_for_vit gives them (embeddings
0, block i at i + 1, the rest the last layer), never read from lrframe.
"""

import re

import pytest
import torch
from torch import nn

from conftest import make_plan
from lrframe.config.errors import ConfigError
from lrframe.models.cnn import SmallCNN
from lrframe.models.mlp import mlp
from lrframe.models.transformer import CharTransformer
from lrframe.optim.optimizer import build_optimizer


def timm_scales(layer_decay: float, num_layers: int) -> list[float]:
    layer_max = num_layers - 1
    return [layer_decay ** (layer_max - i) for i in range(num_layers)]


def mlp_layer(name: str, hidden: int) -> int:
    return hidden if name.startswith("head") else int(re.match(r"hidden(\d+)", name)[1]) - 1


def cnn_layer(name: str) -> int:
    return 3 if name.startswith("head") else {"0": 0, "2": 1, "5": 2}[name.split(".")[1]]


def transformer_layer(name: str, n_layers: int) -> int:  # BEiT's get_num_layer_for_vit
    if name.startswith(("token", "position")):
        return 0
    if name.startswith("blocks"):
        return int(name.split(".")[1]) + 1
    return n_layers + 1


def lr_of_each_parameter(model, optimizer) -> dict[str, float]:
    names = {id(p): name for name, p in model.named_parameters()}
    return {names[id(p)]: group["lr"] for group in optimizer.param_groups for p in group["params"]}


def optimizer_node(*overrides):
    return make_plan(*overrides).config["optimizer"]


CASES = {
    "mlp": (lambda: mlp(in_features=64, hidden=[16, 16, 16], out_features=10, activation="relu"),
            lambda name: mlp_layer(name, 3), 4),
    "cnn": (lambda: SmallCNN(image_size=8, channels=4, num_classes=10), cnn_layer, 4),
    "transformer": (lambda: CharTransformer(vocab_size=20, block_size=8, d_model=16, n_layers=3, n_heads=2),
                    lambda name: transformer_layer(name, 3), 5),
}


@pytest.mark.parametrize("decay", [0.65, 0.9, 1.0])
@pytest.mark.parametrize("name", CASES)
def test_every_parameter_of_a_built_in_model_gets_timms_layer_scale(name, decay):
    build, layer_of, num_layers = CASES[name]
    model = build()
    optimizer = build_optimizer(model, optimizer_node("optimizer=adamw", f"optimizer.layer_decay={decay}"), lr=0.01)
    scales = timm_scales(decay, num_layers)
    got = lr_of_each_parameter(model, optimizer)
    assert got == {n: pytest.approx(0.01 * scales[layer_of(n)], rel=1e-12) for n, _ in model.named_parameters()}
    assert max(got.values()) == pytest.approx(0.01)  # the head
    for group in optimizer.param_groups:  # AdamW's decay: weights 0.01, biases and norms 0, as without layers
        assert group["weight_decay"] == (0.0 if group["name"].endswith("/no_decay") else 0.01)


def test_the_built_in_layer_counts_known_from_the_config_are_the_built_models():
    from lrframe.config.groups import LAYER_COUNTS
    from lrframe.optim.layers import layer_count, layer_ids

    for name, (build, _, num_layers) in CASES.items():
        node = {"mlp": {"hidden": [16, 16, 16]}, "cnn": {}, "transformer": {"n_layers": 3}}[name]
        assert LAYER_COUNTS[name](node) == layer_count(layer_ids(build())) == num_layers


def test_a_pattern_group_keeps_its_own_lr_and_the_rest_decays_by_layer():
    model = CASES["mlp"][0]()
    node = optimizer_node("optimizer.layer_decay=0.5", "optimizer.lr_multipliers={head:10}")
    got = lr_of_each_parameter(model, build_optimizer(model, node, lr=0.1))
    assert got["head.weight"] == got["head.bias"] == pytest.approx(1.0)
    assert [got[f"hidden{i}.weight"] for i in (1, 2, 3)] == pytest.approx([0.1 * 0.5 ** 3, 0.1 * 0.5 ** 2, 0.1 * 0.5])


class UserNet(nn.Module):
    """A user's model with lrframe's protocol: layer_groups(), input to output; a loose class token."""

    def __init__(self):
        super().__init__()
        self.embed, self.cls = nn.Linear(4, 8), nn.Parameter(torch.zeros(8))
        self.blocks = nn.ModuleList(nn.Linear(8, 8) for _ in range(3))
        self.norm, self.head = nn.LayerNorm(8), nn.Linear(8, 2)

    def layer_groups(self):
        return [[self.embed, self.cls], *self.blocks]  # norm and head unlisted: one more layer, the last


def test_a_user_model_with_layer_groups_gets_timms_scales():
    model = UserNet()
    got = lr_of_each_parameter(model, build_optimizer(model, optimizer_node("optimizer.layer_decay=0.75"), lr=1.0))
    layer = {"embed": 0, "cls": 0, "blocks": None, "norm": 4, "head": 4}
    scales = timm_scales(0.75, 5)
    for name, lr in got.items():
        first = name.split(".")[0]
        expected = int(name.split(".")[1]) + 1 if first == "blocks" else layer[first]
        assert lr == pytest.approx(scales[expected], rel=1e-12), name


class TimmStyleViT(nn.Module):
    """A tiny ViT naming its parameters as timm's VisionTransformer, with timm's own group_matcher."""

    def __init__(self, depth=3):
        super().__init__()
        self.cls_token, self.pos_embed = nn.Parameter(torch.zeros(1, 1, 8)), nn.Parameter(torch.zeros(1, 5, 8))
        self.patch_embed = nn.Conv2d(1, 8, 2, 2)
        self.blocks = nn.Sequential(*(nn.Linear(8, 8) for _ in range(depth)))
        self.norm, self.head = nn.LayerNorm(8), nn.Linear(8, 10)

    def group_matcher(self, coarse=False):  # timm/models/vision_transformer.py
        return dict(stem=r'^cls_token|pos_embed|patch_embed', blocks=[(r'^blocks\.(\d+)', None), (r'^norm', (99999,))])


def test_a_timm_model_is_grouped_as_timms_group_matcher_groups_it():
    model = TimmStyleViT(depth=3)
    got = lr_of_each_parameter(model, build_optimizer(model, optimizer_node("optimizer.layer_decay=0.5"), lr=1.0))
    # timm: stem 0, blocks.i at i + 1, the final norm joins the last block (99999: MATCH_PREV_GROUP), the
    # unmatched head after them all
    expected_layer = {"cls_token": 0, "pos_embed": 0, "patch_embed.weight": 0, "patch_embed.bias": 0,
                      "blocks.0.weight": 1, "blocks.0.bias": 1, "blocks.1.weight": 2, "blocks.1.bias": 2,
                      "blocks.2.weight": 3, "blocks.2.bias": 3, "norm.weight": 3, "norm.bias": 3,
                      "head.weight": 4, "head.bias": 4}
    scales = timm_scales(0.5, 5)
    assert got == {name: pytest.approx(scales[layer]) for name, layer in expected_layer.items()}


def test_a_model_without_an_order_of_layers_is_one_line():
    class Plain(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(2, 2)

    with pytest.raises(ConfigError, match=r"^optimizer\.layer_decay=0\.5: Plain has no order of layers: give it a "
                                          r"layer_groups\(\) method"):
        build_optimizer(Plain(), optimizer_node("optimizer.layer_decay=0.5"), lr=0.1)


@pytest.mark.parametrize("value", ["0", "-0.5", "1.01", "x", "true"])
def test_layer_decay_outside_0_1_is_one_line(value):
    with pytest.raises(ConfigError) as error:
        make_plan(f"optimizer.layer_decay={value}")
    assert str(error.value) == (f"optimizer.layer_decay={value}: expected a number in (0, 1] (layer i of L trains "
                                "at lr x layer_decay ** (L-1-i)), or null")
