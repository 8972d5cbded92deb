"""model=transformer: causal (a position sees only itself and the past), sized as the issue asks."""

import torch

from conftest import make_plan
from lrframe.data.build import build_data
from lrframe.models.build import build_model


def test_a_position_never_sees_the_future_and_the_model_has_a_few_hundred_thousand_parameters():
    plan = make_plan("model=transformer", "data=text", "trainer.max_epochs=2")
    data, _ = build_data(plan)
    model = build_model(plan.config, data).eval()
    assert 2e5 < sum(p.numel() for p in model.parameters()) < 1e6
    x = next(iter(data.val))[0][:2]
    changed = x.clone()
    changed[:, 50:] = (changed[:, 50:] + 1) % data.num_classes  # change every character from position 50 on
    with torch.no_grad():
        before, after = model(x), model(changed)
    assert before.shape == (2, 128, data.num_classes)
    torch.testing.assert_close(before[:, :50], after[:, :50], rtol=0, atol=1e-5)  # the past is unchanged
    assert not torch.allclose(before[:, 50:], after[:, 50:])


def test_the_cnn_sees_digits_as_8x8_images_and_refuses_other_shapes():
    import pytest

    from lrframe.config.errors import ConfigError

    plan = make_plan("model=cnn")
    data, _ = build_data(plan)
    model = build_model(plan.config, data)
    assert model(next(iter(data.val))[0][:5]).shape == (5, 10)
    # refused when the config is checked (tests/config/test_config.py); a user's data is checked here, built
    config = {**plan.config, "model": {**plan.config["model"], "image_size": 7}}
    with pytest.raises(ConfigError, match=r"model.image_size=7: 7x7 pixels, but the data has 64 features"):
        build_model(config, data)
