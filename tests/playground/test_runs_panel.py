"""The Train tab's time budget, auto settings and run history: handlers called directly, and the
running app's /ladder through gradio_client (a ladder fills the table; two sessions keep their own)."""

import gradio as gr
import pytest
from playground_helpers import NAMES, client, trained, values

from charlm.playground import budget, runs
from charlm.playground.runs import History

pytest_plugins = ["playground_fixtures"]  # served
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing")


def widgets(**overrides) -> list:
    return [overrides.get("steps", 20), overrides.get("batch_size", 16), overrides.get("lr", 1e-2), *values()]


def test_plan_with_a_budget_fills_the_sliders_the_person_did_not_move():
    plan = budget.plan_run(
        NAMES, "lines", "mlp", "15 s", True, True, False, ["n_embd"], "adamw", 0, *widgets()
    )
    assert plan["plan"]["time_budget"] == 15 and plan["plan"]["keep_best"] is True
    assert plan["auto_line"].startswith("auto: ") and "(yours: n_embd)" in plan["auto_line"]
    assert "n_embd" not in plan and {"n_hidden", "steps", "lr"} <= set(plan)  # moved by hand: left alone


def test_plan_without_auto_or_budget_leaves_every_widget():
    steps_only = budget.plan_run(
        NAMES, "lines", "mlp", "the steps set", True, False, False, [], "adamw", 0, *widgets()
    )
    assert steps_only == {
        "plan": {"keep_best": False, "time_budget": 0.0, "optimizer": "adamw", "target_loss": 0.0},
        "auto_line": "Auto settings size timed runs: the sliders are used as set.",
    }
    off = budget.plan_run(NAMES, "lines", "mlp", "30 s", False, True, False, [], "adamw", 0, *widgets())
    assert off["plan"]["time_budget"] == 30 and set(off) == {"plan", "auto_line"}
    forever = budget.plan_run(
        NAMES, "lines", "mlp", "until I stop", False, True, False, [], "adamw", 0, *widgets()
    )
    assert forever["plan"]["time_budget"] == 0 and forever["plan"]["steps"] > 1000


def test_the_plan_carries_the_optimizer_and_target_loss_and_refuses_bad_ones():
    chosen = budget.plan_run(NAMES, "lines", "mlp", "15 s", False, True, False, [], "muon", 1.9, *widgets())
    assert chosen["plan"]["optimizer"] == "muon" and chosen["plan"]["target_loss"] == 1.9
    empty = budget.plan_run(NAMES, "lines", "mlp", "15 s", False, True, False, [], "adamw", None, *widgets())
    assert empty["plan"]["target_loss"] == 0.0  # an emptied field: off
    with pytest.raises(gr.Error, match="unknown optimizer 'sgd'; choose one of: adamw, muon"):
        budget.plan_run(NAMES, "lines", "mlp", "15 s", False, True, False, [], "sgd", 0, *widgets())
    with pytest.raises(gr.Error, match="validation loss to stop at must be a number from 0 to 100"):
        budget.plan_run(NAMES, "lines", "mlp", "15 s", False, True, False, [], "adamw", -1, *widgets())


def test_a_plan_reaches_the_trainer():
    plan = {"keep_best": True, "time_budget": 1e-9}
    final = trained(model="mlp", steps=500, plan=plan)[-1]
    trainer = final["ws"].trainer
    assert trainer.config.keep_best and trainer.step == 1 and trainer.stopped_by == "time budget"
    assert "stopped at step 1: the time was up" in final["progress"]


def test_runs_are_kept_ticked_renamed_removed_and_made_the_model_again():
    history = None
    for steps in (3, 12):
        ws = trained(model="mlp", steps=steps)[-1]["ws"]
        view = runs.add_run(ws, history, [], "steps")
        history = view["history"]
    assert [r.name for r in history.runs] == ["mlp #1", "mlp #2"] and "mlp #2 ★" in view["table"]
    assert runs.add_run(ws, history, [], "steps")["history"].runs == history.runs  # the same run once
    shown = runs.redraw(history, ["mlp #1", "mlp #2"], "seconds (fair across models)")
    assert [t.name for t in shown["loss"].data][::2] == ["mlp #1 validation", "mlp #2 validation"]
    assert shown["loss"].layout.xaxis.title.text == "seconds of training"
    renamed = runs.rename_run(history, "mlp #1", "short one", ["mlp #1"], "steps")
    assert (
        renamed["shown"]["value"] == ["short one"]
        and "short one (mlp) validation" in renamed["loss"].data[0].name
    )
    with pytest.raises(Exception, match="exists already"):
        runs.rename_run(history, "short one", "mlp #2", [], "steps")
    used = runs.use_run(history, "short one")
    assert used["ws"].model is history.runs[0].model and "short one" in used["session"]
    removed = runs.remove_run(history, "short one", ["short one"], "steps")
    assert [r.name for r in removed["history"].runs] == ["mlp #2"] and removed["shown"]["value"] == []
    with pytest.raises(Exception, match="choose a run"):
        runs.remove_run(history, None, [], "steps")


def test_a_run_saves_as_a_checkpoint(checkpoints):
    ws = trained(model="mlp", steps=3)[-1]["ws"]
    history = runs.add_run(ws, History(), [], "steps")["history"]
    assert "Saved mlp #1 as **first**" in runs.save_run(history, "mlp #1", "first")["note"]
    assert (checkpoints / "first" / "config.json").is_file()
    with pytest.raises(Exception, match="exists already"):
        runs.save_run(history, "mlp #1", "first")


def ladder_api(c, models_seconds: str = "15 s"):
    return c.predict(NAMES, "lines", models_seconds, [], "steps", api_name="/ladder")


def test_a_ladder_fills_the_table_and_sessions_keep_their_own(served, monkeypatch):
    monkeypatch.setitem(budget.BUDGETS, "15 s", 1.5)  # the served app is in this process: a quick ladder
    alice, bob = client(served), client(served)
    table_a = ladder_api(alice)[0]
    for model in ("bigram", "mlp", "lstm", "transformer"):
        assert f"| {model} #" in table_a
    assert table_a.count("★") == 1
    table_b = ladder_api(bob)[0]
    assert "transformer #4" in table_b and "#5" not in table_b  # bob's runs are numbered from his own 1
    again = ladder_api(alice)[0]
    assert "transformer #8" in again  # alice's history kept her first ladder
