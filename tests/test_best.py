"""charlm.train's stopping rules: the time budget, keeping the best weights, and patience."""

import pytest
import torch
from conftest import TEXT, tiny_model, tiny_train_config

from charlm.checkpoint import load_checkpoint, resume, save_checkpoint
from charlm.train import Trainer

# a tiny MLP at a high rate: its validation estimate bottoms out at step 45 of 60, then rises
WOBBLY = dict(steps=60, eval_interval=5, lr=0.1)


def weights(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def run_recording(**config) -> tuple[Trainer, list, dict[int, dict]]:
    """A run of the wobbly MLP, its events, and the weights at each evaluation."""
    model, corpus = tiny_model("mlp")
    trainer = Trainer(model, corpus, tiny_train_config(**{**WOBBLY, **config}))
    events, at = [], {}
    for event in trainer.run():
        events.append(event)
        if event.val_loss is not None and not event.done:
            at[event.step] = weights(model)
    return trainer, events, at


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_keep_best_restores_the_best_evaluations_weights_exactly():
    plain, events, at = run_recording()
    evals = [e for e in events if e.val_loss is not None]
    best = min(evals, key=lambda e: e.val_loss)
    assert best.step != events[-1].step  # else this test could not tell keeping from not keeping
    assert not same(weights(plain.model), at[best.step])
    kept, kept_events, _ = run_recording(keep_best=True)
    assert [e.val_loss for e in kept_events] == [e.val_loss for e in events]  # keeping changes no step
    assert same(weights(kept.model), at[best.step])
    m = kept.metrics()
    assert (m["best_step"], m["best_val_loss"], m["kept"]) == (best.step, best.val_loss, "best")
    assert plain.metrics()["kept"] == "last" and plain.metrics()["best_step"] == best.step


def test_keep_best_keeps_the_moving_averages_best():
    ema, events, at = run_recording(keep_best=True, ema_decay=0.9)
    best = min((e for e in events if e.val_loss is not None), key=lambda e: e.val_loss)
    assert best.step != events[-1].step
    assert same(weights(ema.model), at[best.step])  # the averaged weights that were evaluated
    assert ema.raw is not None and not all(torch.equal(p, r) for p, r in zip(ema.params, ema.raw))


def test_patience_stops_after_that_many_evaluations_without_a_new_best():
    trainer, events, _ = run_recording(patience=2)
    evals = [e for e in events if e.val_loss is not None]
    assert events[-1].done and events[-1].step < WOBBLY["steps"]
    assert events[-1].steps == events[-1].step  # the progress bar ends full
    best = min(evals, key=lambda e: e.val_loss)
    assert [e.step for e in evals].index(events[-1].step) - [e.step for e in evals].index(best.step) == 2
    assert all(e.val_loss >= best.val_loss for e in evals[-2:])
    assert trainer.metrics()["stopped_by"] == "patience"


def test_a_time_budget_stops_cleanly_evaluates_and_keeps_the_model():
    model, corpus = tiny_model("transformer")
    trainer = Trainer(model, corpus, tiny_train_config(steps=10_000, time_budget=1e-9))
    events = list(trainer.run())
    assert len(events) == 1 and events[0].done and events[0].val_loss is not None
    assert trainer.step == 1 and trainer.stopped_by == "time budget"
    assert trainer.metrics()["stopped_by"] == "time budget"
    # the schedule follows the budget, already spent: the rate has decayed to its floor, a tenth
    assert events[0].lr == pytest.approx(trainer.config.lr / 10, rel=1e-3)


def test_resume_carries_the_best_so_far(tmp_path):
    trainer, events, at = run_recording(keep_best=True)
    path = save_checkpoint(tmp_path / "ckpt", trainer.model, trainer=trainer, metrics=trainer.metrics())
    again = resume(load_checkpoint(path), TEXT, steps=70)
    assert (again.best.step, again.best.val_loss) == (trainer.best.step, trainer.best.val_loss)
    assert again.best.weights is not None and same(again.best.weights, at[trainer.best.step])
    list(again.run())
    assert again.step == 70
    assert again.metrics()["best_val_loss"] <= trainer.best.val_loss
