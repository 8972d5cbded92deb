"""The gradient noise scale estimator (McCandlish et al. 2018, appendix A) against a direct computation:
per-example gradients of a small model over the whole digits training set give the exact |G|^2 and
tr(Sigma) (Sigma: the per-example gradients' covariance over the training set)."""

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call, grad, vmap

from lrframe.batch_size.measure import gradient_norms
from lrframe.batch_size.noise import noise_scale, pair_estimates
from lrframe.data.batches import Batches
from lrframe.data.datasets import load_split
from lrframe.models.mlp import mlp


def test_the_pair_estimates_invert_the_expected_squared_norms():
    g_sq, trace = 0.3, 13.0  # E|G_B|^2 = |G|^2 + tr(Sigma)/B, exactly
    for b_small, b_big in ((1, 2), (16, 256), (64, 512)):
        estimated = pair_estimates(b_small, b_big, g_sq + trace / b_small, g_sq + trace / b_big)
        assert estimated == pytest.approx((g_sq, trace), rel=1e-12)
    scale = noise_scale(16, 256, [(g_sq + trace / 16 + e, g_sq + trace / 256 - e) for e in (-0.5, 0.5)])
    assert scale.b_simple == pytest.approx(trace / g_sq) and scale.pairs == 2


def test_a_gradient_lost_in_the_noise_gives_no_noise_scale():
    assert noise_scale(16, 256, [(1.0, 1.2)]).b_simple is None  # |G_big|^2 > |G_small|^2: negative trace
    with pytest.raises(ValueError):
        pair_estimates(64, 64, 1.0, 1.0)


@pytest.fixture(scope="module")
def small_model_and_data():
    split = load_split({"name": "digits", "val_fraction": 0.2, "split_seed": 0})
    x, y = torch.from_numpy(split.x_train), torch.from_numpy(split.y_train)
    torch.manual_seed(0)
    model = mlp(in_features=64, hidden=[16], out_features=10, activation="relu")
    return model, x, y


def exact_noise(model, x, y) -> tuple[float, float]:
    """|G|^2 and tr(Sigma) from every training example's own gradient (torch.func.vmap of grad)."""
    params = {name: p.detach() for name, p in model.named_parameters()}

    def loss(p, xi, yi):
        return F.cross_entropy(functional_call(model, p, (xi[None],)), yi[None])

    per_example = vmap(grad(loss), in_dims=(None, 0, 0))(params, x, y)
    flat = torch.cat([g.reshape(len(x), -1) for g in per_example.values()], 1).double()
    mean = flat.mean(0)
    return float(mean @ mean), float(((flat - mean) ** 2).sum(1).mean())


def test_the_estimator_recovers_the_exact_noise_scale_of_the_training_set(small_model_and_data):
    """Measured spread of this estimator here (10 seeds x 200 pairs, B 16/256): relative standard
    deviation 1.4% on |G|^2, 6.1% on tr(Sigma), 7.4% on B_simple; with 4000 pairs about sqrt(20) times
    less (0.3%, 1.4%, 1.7%). The tolerances are about three of those; and each estimate must lie within
    four of its own standard errors."""
    model, x, y = small_model_and_data
    g_sq, trace = exact_noise(model, x, y)
    params = list(model.parameters())
    norms = gradient_norms(params, lambda batch: F.cross_entropy(model(batch[0]), batch[1]),
                           Batches(x, y, batch_size=64), torch.device("cpu"), b_small=16, b_big=256, pairs=4000, seed=0)
    scale = noise_scale(16, 256, norms)
    assert scale.g_sq == pytest.approx(g_sq, rel=0.01)
    assert scale.trace == pytest.approx(trace, rel=0.05)
    assert scale.b_simple == pytest.approx(trace / g_sq, rel=0.05)
    assert abs(scale.g_sq - g_sq) < 4 * scale.g_sq_stderr and abs(scale.trace - trace) < 4 * scale.trace_stderr
    # the model E|G_B|^2 = |G|^2 + tr(Sigma)/B itself, at both batch sizes
    for b, measured in ((16, [s for s, _ in norms]), (256, [b for _, b in norms])):
        assert sum(measured) / len(measured) == pytest.approx(g_sq + trace / b, rel=0.03)
    assert all(p.grad is None for p in params)  # the measurement leaves no gradients behind
