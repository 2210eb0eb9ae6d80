"""--target-loss: training stops at the first evaluation whose whole-split validation loss is at or
under the target, and metrics.json says when."""

import pytest
from conftest import TEXT, tiny_model, tiny_train_config

from charlm.errors import CharlmError
from charlm.train import Trainer, evaluate


def whole_split_at_evaluations(config) -> dict[int, float]:
    """A run without a target, its whole validation split measured at each of its evaluations."""
    model, corpus = tiny_model("transformer")
    trainer = Trainer(model, corpus, config)
    return {e.step: evaluate(model, corpus.val) for e in trainer.run() if e.val_loss is not None}


def test_training_stops_at_the_first_evaluation_at_or_under_the_target():
    config = dict(steps=60, eval_interval=5, eval_tokens=64)
    truth = whole_split_at_evaluations(tiny_train_config(**config))
    steps = sorted(truth)
    target = (truth[steps[4]] + truth[steps[5]]) / 2  # first reached between the 5th and 6th evaluations
    first = next(s for s in steps if truth[s] <= target)
    model, corpus = tiny_model("transformer")
    trainer = Trainer(model, corpus, tiny_train_config(**config, target_loss=target))
    events = list(trainer.run())
    assert events[-1].step == first and events[-1].done and trainer.stopped_by == "target loss"
    assert events[-1].val_loss == pytest.approx(truth[first]) and events[-1].val_loss_err == 0
    earlier = [e for e in events[:-1] if e.val_loss is not None]
    assert all(e.val_loss > target for e in earlier)  # estimates, or whole-split figures above the target
    assert any(e.val_loss_err > 0 for e in earlier)  # far from the target, the sample was enough
    metrics = trainer.metrics()
    assert metrics["val_loss"] <= target and metrics["stopped_by"] == "target loss"
    assert metrics["target_loss"] == target and metrics["target_step"] == first
    assert 0 < metrics["target_seconds"] <= events[-1].elapsed


def test_a_target_never_reached_trains_every_step():
    model, corpus = tiny_model("transformer")
    trainer = Trainer(model, corpus, tiny_train_config(steps=12, eval_interval=4, target_loss=0.01))
    assert [e.step for e in trainer.run()][-1] == 12
    metrics = trainer.metrics()
    assert metrics["target_loss"] == 0.01 and "target_step" not in metrics


def test_a_bad_target_is_refused():
    model, corpus = tiny_model("mlp", TEXT)
    with pytest.raises(CharlmError, match="target_loss must be 0"):
        Trainer(model, corpus, tiny_train_config(target_loss=-1.0))
