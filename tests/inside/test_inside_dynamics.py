"""The training dynamics recorder: the gradient norm before clipping, the update actually made, and
saturation, checked against numbers taken by hand from the same training run."""

import math

import pytest
import torch
from inside_texts import TEXT

from charlm.errors import CharlmError
from charlm.inside import Dynamics, dynamics_figure
from charlm.train import TrainConfig, new_trainer

pytest_plugins = ["inside_fixtures"]  # the `tiny` model factory (not a conftest: one conftest per name)

MLP = dict(block_size=3, n_embd=8, n_hidden=16)


def config(**overrides) -> TrainConfig:
    return TrainConfig(
        **{
            **dict(steps=12, eval_interval=6, batch_size=8, lr=1e-2, warmup_steps=2, device="cpu"),
            **overrides,
        }
    )


def test_records_every_few_steps_the_norm_and_the_actual_update():
    trainer = new_trainer(TEXT, "text", "mlp", config(grad_clip=0.0), **MLP)
    dynamics = Dynamics(trainer.model, every=4)
    params = dict(trainer.model.named_parameters())
    for event in trainer.run():
        if event.step == 11:
            before = {n: p.detach().clone() for n, p in params.items() if p.dim() >= 2}
        dynamics(event)
    assert dynamics.steps == [1, 4, 8, 12]  # the first, every 4th and the last step
    by_hand = math.sqrt(sum(float((p.grad**2).sum()) for p in params.values()))
    assert dynamics.grad_norm[-1] == pytest.approx(by_hand, rel=1e-5)
    for n, b in before.items():
        assert dynamics.ratio[n][-1] == pytest.approx(
            float((params[n].detach() - b).std() / b.std()), rel=1e-5
        )
    assert dynamics.lr[-1] == pytest.approx(trainer.lr_at(11))
    assert set(dynamics.saturation) == {"hidden.1"} and 0 <= dynamics.saturation["hidden.1"][-1] <= 1


def test_the_gradient_norm_is_read_before_clipping():
    trainer = new_trainer(TEXT, "text", "mlp", config(grad_clip=1e-3), **MLP)
    dynamics = Dynamics(trainer.model, every=4)
    for event in trainer.run():
        dynamics(event)
    assert min(dynamics.grad_norm) > 1e-2  # far above the clipped norm, 1e-3


def test_a_saturated_tanh_layer_is_reported():
    trainer = new_trainer(TEXT, "text", "mlp", config(steps=2), **MLP)
    with torch.no_grad():
        trainer.model.hidden[0].weight.mul_(1000)  # pre-activations far beyond ±2
    dynamics = Dynamics(trainer.model, every=1)
    for event in trainer.run():
        dynamics(event)
    assert dynamics.saturation["hidden.1"][0] > 0.8


def test_gelu_units_and_the_transformer_figure():
    settings = dict(n_layer=2, n_head=2, n_embd=16, block_size=16)
    trainer = new_trainer(TEXT, "text", "transformer", config(steps=4), **settings)
    dynamics = Dynamics(trainer.model, every=2)
    for event in trainer.run():
        dynamics(event)
    dynamics.close()
    assert set(dynamics.saturation) == {"h.0.mlp.1", "h.1.mlp.1"}
    fig = dynamics_figure(dynamics)
    ratios = [t for t in fig.data if t.legendgroup == "ratio"]
    assert len(ratios) == len(dynamics.ratio) == 10  # wte (tied to lm_head), wpe and 4 per block
    assert fig.layout.yaxis.type == "log" and fig.layout.shapes[0].y0 == 1e-3
    assert not any(p._post_accumulate_grad_hooks for p in trainer.model.parameters())


def test_records_thin_out_past_max_records():
    trainer = new_trainer(TEXT, "text", "neural-bigram", config(steps=12))
    dynamics = Dynamics(trainer.model, every=1, max_records=4)
    for event in trainer.run():
        dynamics(event)
    assert len(dynamics.steps) <= 4 and dynamics.every > 1
    assert math.isnan(dynamics.ratio["table"][0])  # the table starts at zero: no ratio at first


@pytest.mark.parametrize("name", ["bigram", "numpy-mlp"])
def test_rungs_not_trained_by_autograd_are_refused(tiny, name):
    model, _ = tiny(name)
    with pytest.raises(CharlmError, match="PyTorch rungs"):
        Dynamics(model)
