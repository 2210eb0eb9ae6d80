"""charlm.compare: models trained in lockstep end exactly as trained alone, the BLAS thread limit; and
the figures, tables and gradient-check table that show a comparison, against the numbers they show."""

import pytest
import torch
from conftest import own

from charlm import viz
from charlm.compare import (
    PAIRS,
    blas_threads,
    companions,
    is_slow,
    lockstep,
    set_blas_threads,
    side_by_side,
    step_seconds,
    twin_settings,
)
from charlm.data import Corpus
from charlm.errors import CharlmError
from charlm.models import MODELS
from charlm.models.numpy_models import gradient_check
from charlm.train import Progress, TrainConfig, new_trainer

NAMES = (
    "amara\nbelen\ncorin\ndalia\nelio\nfarah\ngiles\nhana\nilan\njora\nkira\nlenna\nmilo\nnadia\noren\n"
    "pia\nquin\nrosa\nsamir\ntalia\numa\nvera\nwren\nxena\nyara\nzane\naria\nboris\ncleo\ndorian\n"
) * 3
MLP = dict(block_size=3, n_embd=8, n_hidden=32)
LRS = {"numpy-bigram": 10.0, "neural-bigram": 0.1, "numpy-mlp": 0.5, "mlp": 3e-3}


def lr(name: str) -> float:
    return LRS.get(name, MODELS[name].default_lr)


pytestmark = pytest.mark.usefixtures("one_blas_thread")  # conftest's


def config(**overrides) -> TrainConfig:
    settings = dict(
        steps=12, batch_size=8, warmup_steps=2, eval_interval=4, eval_tokens=512, seed=3, device="cpu"
    )
    return TrainConfig(**{**settings, **overrides})


@pytest.mark.parametrize("rung", list(PAIRS))
def test_lockstep_ends_each_model_exactly_as_training_it_alone(rung):
    twin = PAIRS[rung]
    settings = own(rung, MLP)
    trainers = side_by_side(NAMES, "lines", {rung: lr(rung), twin: lr(twin)}, config(), **settings)
    rounds = list(lockstep(trainers))
    assert [sorted(r) for r in rounds] == [sorted([rung, twin])] * 12
    assert [r[rung].step for r in rounds] == list(range(1, 13))
    for name, trainer in trainers.items():
        alone = new_trainer(NAMES, "lines", name, config(lr=lr(name)), **settings)
        losses = [e.train_loss for e in alone.run()]
        assert [r[name].train_loss for r in rounds] == losses
        for key, value in alone.model.state_dict().items():
            assert torch.equal(trainer.model.state_dict()[key], value), (name, key)
    # one corpus and one window length: both drew the very same batches
    a, b = trainers.values()
    assert (
        a.corpus is b.corpus and a.T == b.T and torch.equal(a.generator.get_state(), b.generator.get_state())
    )
    assert {t.config.lr for t in trainers.values()} == {lr(rung), lr(twin)}


def test_value_mlp_is_compared_with_numpy_mlp_and_its_twin_built_as_its_gradient_check_builds_it():
    assert companions("value-mlp") == ["value-mlp", "numpy-mlp", "mlp"]
    assert companions("numpy-mlp") == ["numpy-mlp", "mlp"]
    assert companions("numpy-bigram") == ["numpy-bigram", "neural-bigram"]
    assert twin_settings("value-mlp") == {"n_layer": 2, "dropout": 0.0, "activation": "relu"}
    assert twin_settings("numpy-bigram") == {}
    twin_settings("value-mlp")["n_layer"] = 5  # a copy: the cached answer stays right
    assert twin_settings("value-mlp")["n_layer"] == 2


def test_per_model_settings_go_to_their_model_only_and_three_train_in_lockstep_as_alone():
    sizes = dict(block_size=3, n_embd=8, n_hidden=16)
    lrs = {"value-mlp": 0.3, "numpy-mlp": 0.5, "mlp": 3e-3}
    per_model = {"mlp": twin_settings("value-mlp")}
    trainers = side_by_side(NAMES, "lines", lrs, config(steps=3, batch_size=2), per_model, **sizes)
    assert trainers["mlp"].model.config.activation == "relu" and trainers["mlp"].model.config.n_layer == 2
    rounds = list(lockstep(trainers))
    assert [sorted(r) for r in rounds] == [sorted(lrs)] * 3
    for name, trainer in trainers.items():
        settings = {**sizes, **per_model.get(name, {})}
        alone = new_trainer(NAMES, "lines", name, config(steps=3, batch_size=2, lr=lrs[name]), **settings)
        assert [r[name].train_loss for r in rounds] == [e.train_loss for e in alone.run()], name
        for key, value in alone.model.state_dict().items():
            assert torch.equal(trainer.model.state_dict()[key], value), (name, key)
    with pytest.raises(CharlmError, match="value-mlp has no setting activation"):  # not for every model
        side_by_side(NAMES, "lines", lrs, config(), {}, activation="relu", **sizes)


def test_step_seconds_is_the_slow_models_own_estimate_for_the_windows_the_trainer_cuts():
    corpus = Corpus.from_text(NAMES, "lines")
    sizes = dict(block_size=3, n_embd=8, n_hidden=16)
    found = step_seconds(corpus, ["value-mlp", "numpy-mlp", "mlp"], 4, sizes)
    assert list(found) == ["value-mlp"] and [n for n in MODELS if is_slow(n)] == ["value-mlp"]
    trainer = side_by_side(
        NAMES, "lines", {"value-mlp": 0.3}, config(batch_size=4, val_fraction=0.1), **sizes
    )["value-mlp"]
    seconds, examples = found["value-mlp"]
    assert examples == 4 * trainer.T
    assert seconds == type(trainer.model).estimated_seconds(trainer.model.config, 1, examples)


def test_lockstep_goes_on_until_the_longest_is_done_and_stops_when_asked():
    trainers = side_by_side(NAMES, "lines", {"numpy-bigram": 10.0}, config(steps=5))
    trainers |= side_by_side(NAMES, "lines", {"neural-bigram": 0.1}, config(steps=8))
    rounds = list(lockstep(trainers))
    assert len(rounds) == 8 and all(len(r) == 1 for r in rounds[5:]) and rounds[-1]["neural-bigram"].done
    trainers = side_by_side(NAMES, "lines", {"numpy-bigram": 10.0, "neural-bigram": 0.1}, config(steps=50))
    for r in lockstep(trainers):
        if r["numpy-bigram"].step == 3:
            break
    assert [t.step for t in trainers.values()] == [3, 3]
    with pytest.raises(CharlmError, match="at least one model"):
        side_by_side(NAMES, "lines", {}, config())


def test_blas_threads_are_set_and_read_back():
    before = blas_threads()
    if before is None:
        pytest.skip("NumPy uses a BLAS other than its bundled OpenBLAS here")
    assert set_blas_threads(1) and blas_threads() == 1
    set_blas_threads(before)
    assert blas_threads() == before


# --- charlm.viz ----------------------------------------------------------------------------------------


def event(step: int, val: float, train: float, speed: float = 1000.0, steps: int = 100) -> Progress:
    return Progress(step, steps, 0.1, train, speed, step / 10, (steps - step) / 10, val, train, step == steps)


def test_comparison_figure_draws_each_models_curves_and_the_reference_lines():
    histories = {
        "numpy-<b>": [event(1, 3.0, 3.1), Progress(2, 100, 0.1, 2.9, 1.0, 0.2, 1.0), event(4, 2.5, 2.4)],
        "neural-bigram": [event(1, 3.2, 3.3), event(4, 2.6, 2.55)],
    }
    fig = viz.comparison_figure(histories, {"uniform guess": 3.3, "count bigram": 2.4})
    traces = {t.name: t for t in fig.data}
    assert list(traces) == [
        "numpy-&lt;b&gt; validation",
        "numpy-&lt;b&gt; train",
        "neural-bigram validation",
        "neural-bigram train",
    ]
    assert list(traces["numpy-&lt;b&gt; validation"].x) == [1, 4]  # evaluation steps only
    assert list(traces["numpy-&lt;b&gt; validation"].y) == [3.0, 2.5]
    assert list(traces["neural-bigram train"].y) == [3.3, 2.55]
    assert traces["numpy-&lt;b&gt; validation"].line.color != traces["neural-bigram validation"].line.color
    assert sorted(s.y0 for s in fig.layout.shapes) == [2.4, 3.3]
    assert viz.comparison_figure({}).data == ()


def test_comparison_markdown_gives_losses_their_gap_to_the_count_bigram_and_the_speed_ratio():
    results = {
        "numpy-mlp": dict(
            num_params=1234, lr=0.5, steps=100, train_loss=2.1, val_loss=2.3, tokens_per_second=3000.0
        ),
        "<mlp>": dict(
            num_params=1234, lr=0.003, steps=100, train_loss=2.0, val_loss=2.25, tokens_per_second=12000.0
        ),
    }
    md = viz.comparison_markdown(results, {"uniform guess": 3.0, "count bigram": 2.4})
    assert "| numpy-mlp | 1,234 | 0.5 | 100 | 2.1000 | 2.3000 | -0.1000 | 3,000 |" in md
    assert "| &lt;mlp&gt; | 1,234 | 0.003 | 100 | 2.0000 | 2.2500 | -0.1500 | 12,000 |" in md
    assert "| *count bigram* | | | | | 2.4000 |" in md
    assert "**0.25×** the speed of **&lt;mlp&gt;**" in md
    lines = [line for line in md.splitlines() if line.startswith("|")]
    assert len({line.count("|") for line in lines}) == 1  # every row has every column
    assert "×" not in viz.comparison_markdown({"numpy-mlp": results["numpy-mlp"]})


def test_lockstep_progress_shows_the_shared_step_and_each_models_speed():
    html = viz.lockstep_progress_html({"a<": event(25, 3, 3, 1234.0), "b": event(24, 3, 3, 99.0)})
    assert "step 24 / 100" in html and "a&lt; 1,234 tokens/s · b 99 tokens/s" in html
    assert "width:24.0%" in html and "left" in html
    assert "stopped" in viz.lockstep_progress_html({"a": event(100, 3, 3)}, "stopped")
    assert "not started" in viz.lockstep_progress_html({})


@pytest.mark.parametrize("name", list(PAIRS))
def test_gradient_check_table_shows_every_weight_and_agreement(name):
    rows = gradient_check(name, NAMES, "lines", batch_size=3, seed=1, **own(name, MLP))
    html = viz.gradient_check_html(rows, "fresh <weights>")
    assert html.count("<tr>") == len(rows) + 1 and html.count("✓") == len(rows)
    for row in rows:
        assert (
            f"{row['max_abs_diff_autograd']:.2e}</td>" in html and f"{row['max_abs_grad']:.3e}</td>" in html
        )
        assert viz.escape(row["formula"]) in html
    assert "fresh &lt;weights&gt;" in html and "agrees with autograd" in html


def test_gradient_check_table_flags_a_gradient_that_differs_and_escapes_what_it_shows():
    row = dict(
        weight="<W>",
        shape=[3, 4],
        formula="dW = x<sup>T</sup> & y",
        max_abs_grad=0.5,
        max_abs_diff_autograd=1e-16,
        max_abs_diff_numeric=2e-3,
    )
    html = viz.gradient_check_html([row])
    assert "✗ differs" in html and "has a bug" in html and "2.00e-03" in html
    assert "<W>" not in html and "&lt;W&gt;" in html and "<sup>" not in html and "&amp; y" in html
    assert "3 × 4" in html
