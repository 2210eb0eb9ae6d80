"""charlm.runs (records, the runs table, the ladder), viz.runs_figure and viz.bigram_warning."""

import pytest
from conftest import TEXT, tiny_model, tiny_train_config

from charlm import viz
from charlm.data import Corpus
from charlm.errors import CharlmError
from charlm.runs import ladder, record, runs_markdown, runs_table, shares
from charlm.train import Progress, Trainer


def finished(name: str, model: str = "mlp", **config):
    m, corpus = tiny_model(model)
    trainer = Trainer(m, corpus, tiny_train_config(**config))
    history = list(trainer.run())
    return record(trainer, name, {}, history)


def test_a_record_holds_the_curve_metrics_sample_and_model():
    run = finished("mlp #1", keep_best=True)
    assert run.model_type == "mlp" and run.model is not None and run.sample
    assert run.history[-1].done and run.metrics["val_loss"] > 0 and "best_step" in run.metrics
    evals = [e.val_loss for e in run.history if e.val_loss is not None]
    assert run.best_val_loss == min([run.metrics["val_loss"], *evals])


def test_the_table_marks_the_best_run_once_and_reports_each_unit():
    runs = [finished("short", steps=3), finished("longer", steps=30)]
    rows = runs_table(runs)
    assert [r["best"] for r in rows] == [False, True]  # 30 steps beat 3 on this text
    assert rows[1]["val_bpc"] == pytest.approx(rows[1]["val_loss"] / 0.6931471805599453)
    table = runs_markdown(rows, {"count bigram": 2.5})
    assert "| longer ★ |" in table and "**" in table.splitlines()[3] and "*count bigram*" in table
    assert runs_table([]) == []


def test_counting_takes_no_share_of_the_ladder_time():
    assert shares(["bigram", "mlp", "lstm"], 10) == {"bigram": 0.0, "mlp": 5.0, "lstm": 5.0}


def test_the_ladder_trains_each_rung_in_turn():
    events = list(ladder(Corpus.from_text(TEXT, "text"), ["bigram", "mlp"], 0.5))
    kinds = [k for k, _ in events]
    assert kinds[0] == "auto" and kinds.count("run") == 2 and kinds[-1] == "run"
    runs = [item for kind, item in events if kind == "run"]
    assert [r.model_type for r in runs] == ["bigram", "mlp"]
    assert runs[1].train["keep_best"] and runs[1].train["time_budget"] == pytest.approx(0.5)
    assert runs[1].metrics["stopped_by"] in ("time budget", "steps", "patience")


def event(step, elapsed, val):
    return Progress(step, 10, 1e-3, val, 1.0, elapsed, 0.0, val_loss=val, train_eval_loss=val - 0.1)


def test_runs_figure_draws_each_run_in_its_colour_against_steps_or_seconds():
    curves = {"mlp #1": [event(1, 0.5, 3.0), event(10, 2.0, 2.5)], "lstm #2": [event(1, 1.0, 3.1)]}
    fig = viz.runs_figure(curves, "seconds", {"count bigram": 2.6})
    names = [t.name for t in fig.data]
    assert names == ["mlp #1 validation", "mlp #1 train", "lstm #2 validation", "lstm #2 train"]
    assert list(fig.data[0].x) == [0.5, 2.0] and fig.data[0].line.color != fig.data[2].line.color
    assert list(viz.runs_figure(curves, "steps").data[0].x) == [1, 10]
    with pytest.raises(CharlmError, match="steps or seconds"):
        viz.runs_figure(curves, "tokens")


def test_the_bigram_warning_counts_the_uncertainty():
    refs = {"count bigram": 2.5}
    assert "above the count bigram" in viz.bigram_warning(2.6, 0.0, refs)
    assert viz.bigram_warning(2.6, 0.06, refs) == ""  # within two standard errors: not shown to be worse
    assert viz.bigram_warning(2.4, 0.0, refs) == "" and viz.bigram_warning(3.0, 0.0, {}) == ""
