"""The From scratch tab's handlers: the side-by-side run streams every curve and ends with a table of
losses and speeds, stops when asked, refuses bad input clearly; the scalar-autograd rung beside numpy-mlp
and mlp, its time estimate and refusal; the gradient check; and the NumPy rungs in the other tabs."""

import math
from types import SimpleNamespace

import gradio as gr
import pytest
from playground_helpers import NAMES, defaults

from charlm.compare import PAIRS
from charlm.models import MODELS
from charlm.models.numpy_models import gradient_check
from charlm.playground import bigram_tab, checkpoints_tab, settings, train_tab
from charlm.playground.scratch_tab import (
    GRADIENT_MODELS,
    SLIDERS,
    check_gradients,
    choose_pair,
    compare,
    estimate,
    stop_compare,
)
from charlm.playground.session import COMPARING, SESSION, describe_workspace
from charlm.sampling import sample

pytest_plugins = ["playground_fixtures"]  # checkpoints

MLP = dict(block_size=3, n_embd=8, n_hidden=32)
LRS = {"numpy-bigram": 10.0, "neural-bigram": 0.1, "numpy-mlp": 0.5, "mlp": 3e-3}


pytestmark = pytest.mark.usefixtures("one_blas_thread")  # conftest's


def compared(text=NAMES, mode="lines", rung="numpy-bigram", steps=12, request=None, **overrides):
    """Run the compare handler to the end; returns every update it yielded (dicts by output name)."""
    twin = PAIRS.get(rung, "mlp")
    o = dict(batch_size=8, seed=3, numpy_lr=LRS.get(rung, 1.0), torch_lr=LRS.get(twin, 1e-3), **MLP)
    o |= overrides
    args = (text, mode, rung, steps, o["batch_size"], o["seed"], o["numpy_lr"], o["torch_lr"])
    return list(compare(*args, *[o[s.name] for s in SLIDERS], request=request))


def test_compare_streams_both_curves_then_a_table_of_losses_and_speeds():
    updates = compared(steps=25)
    progress, figure, results = (updates[-1][k] for k in ("progress", "plot", "results"))
    assert "step 25 / 25" in progress and "done" in progress
    assert "numpy-bigram" in progress and "neural-bigram" in progress and "tokens/s" in progress
    traces = {t.name: t for t in figure.data}
    assert set(traces) == {
        f"{m} {part}" for m in ("numpy-bigram", "neural-bigram") for part in ("validation", "train")
    }
    assert traces["numpy-bigram validation"].x[-1] == 25 and len(traces["numpy-bigram validation"].x) >= 3
    uniform = math.log(len(set(NAMES)))  # the letters, with the boundary in place of the newline
    assert sorted(s.y0 for s in figure.layout.shapes)[-1] == pytest.approx(uniform)
    V = len(set(NAMES))
    assert (
        f"| numpy-bigram | {V * V:,} | 10 | 25 |" in results
        and f"| neural-bigram | {V * V:,} | 0.1 | 25 |" in results
    )
    assert "×** the speed of **neural-bigram**" in results and "thread(s)" in results
    # the table is cleared at the start and left as it is (skipped) until the end
    assert updates[0]["results"] == "" and all("results" not in u for u in updates[1:-1])
    assert COMPARING.count == 0


def test_compare_builds_both_mlps_with_the_same_settings():
    results = compared(rung="numpy-mlp", steps=6, block_size=2, n_embd=8, n_hidden=16)[-1]["results"]
    V = len(set(NAMES))  # the vocabulary: the letters and the boundary
    params = V * 8 + 2 * 8 * 16 + 16 + 16 * V + V  # C, W1, b1, W2, b2 of one tanh layer
    assert (
        f"| numpy-mlp | {params:,} | 0.5 | 6 |" in results and f"| mlp | {params:,} | 0.003 | 6 |" in results
    )


def test_choose_pair_sets_each_models_own_learning_rate_and_shows_the_mlp_settings():
    chosen = choose_pair("numpy-mlp")
    numpy_lr, torch_lr = chosen["numpy_lr"], chosen["torch_lr"]
    assert numpy_lr["value"] == MODELS["numpy-mlp"].default_lr and "numpy-mlp" in numpy_lr["label"]
    assert torch_lr["value"] == MODELS["mlp"].default_lr and "(AdamW)" in torch_lr["label"]
    assert chosen["settings_row"]["visible"] and chosen["steps"] == MODELS["mlp"].default_steps
    assert {s.name for s in SLIDERS if chosen[s.name]["visible"]} == {"block_size", "n_embd", "n_hidden"}
    chosen = choose_pair("numpy-bigram")
    assert chosen["numpy_lr"]["value"] == 10.0
    assert chosen["torch_lr"]["value"] == MODELS["neural-bigram"].default_lr
    assert not chosen["settings_row"]["visible"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (dict(text=""), "empty"),
        (dict(text=NAMES + "<img src=x>", mode="text"), None),  # text mode takes any characters: fine
        (dict(steps=0), "steps must be a whole number from 1"),
        (dict(steps=10**9), "steps must be a whole number from 1 to"),
        (dict(rung="gpt-5"), "unknown comparison"),
        (dict(numpy_lr=100), "learning rate of numpy-bigram must be a number from 1e-06 to 10"),
        (dict(torch_lr=float("nan")), "learning rate of neural-bigram"),
        (dict(batch_size=0), "batch size"),
        (dict(rung="numpy-mlp", n_hidden=0), "n_hidden"),
        (dict(mode="words"), "unknown corpus mode"),
    ],
)
def test_bad_compare_input_gives_a_clear_message(change, message):
    if message is None:
        assert "| numpy-bigram |" in compared(steps=2, **change)[-1]["results"]
        return
    with pytest.raises(gr.Error) as error:
        compared(**change)
    assert message in error.value.message and "Traceback" not in error.value.message
    assert COMPARING.count == 0


def test_a_text_over_the_cap_is_refused(monkeypatch):
    monkeypatch.setattr(settings, "MAX_CHARS", 100)
    with pytest.raises(gr.Error, match="up to 100"):
        compared()


def test_stop_ends_the_comparison_at_the_next_step_with_its_table():
    tab = SimpleNamespace(session_hash="scratch-1")
    run = compare(NAMES, "lines", "numpy-bigram", 10_000, 8, 3, 10.0, 0.1, 3, 8, 32, request=tab)
    next(run)  # starting
    for update in run:
        if len(update["plot"].data[0].x) >= 2:
            break
    assert COMPARING.count == 1
    stop_compare(tab)
    *_, last = run
    progress, results = last["progress"], last["results"]
    step = int(progress.split("step ")[1].split(" /")[0].replace(",", ""))
    assert 0 < step < 10_000 and "stopped" in progress and f"| 10 | {step:,} |" in results
    assert COMPARING.count == 0


def test_stop_clicked_while_queued_stops_the_comparison_before_it_starts():
    tab = SimpleNamespace(session_hash="scratch-2")
    COMPARING.arm(tab.session_hash)
    stop_compare(tab)
    updates = compared(request=tab)
    assert len(updates) == 1 and "stopped before it started" in updates[0]["progress"]


def test_closing_the_generator_ends_the_comparison():
    run = compare(NAMES, "lines", "numpy-bigram", 10_000, 8, 3, 10.0, 0.1, 3, 8, 32)
    next(run), next(run)
    assert COMPARING.count == 1
    run.close()
    assert COMPARING.count == 0


def test_the_gradient_check_handler_for_fresh_rungs_and_the_sessions_model():
    html = check_gradients(None, NAMES, "lines", "numpy-mlp", 2, 5)
    assert html.count("✓") == 5 and "A fresh numpy-mlp (block_size 4, n_embd 16, n_hidden 128)" in html
    assert html.count("✓") == 5 and "seed 5" in html and "2 windows" in html
    assert check_gradients(None, NAMES, "lines", "numpy-bigram", 4, 0).count("✓") == 1
    with pytest.raises(gr.Error, match="no model yet"):
        check_gradients(None, NAMES, "lines", SESSION, 4, 0)
    with pytest.raises(gr.Error, match="unknown model"):
        check_gradients(None, NAMES, "lines", "mlp", 4, 0)
    with pytest.raises(gr.Error, match="batch size"):
        check_gradients(None, NAMES, "lines", "numpy-mlp", 0, 0)


def trained(model: str, steps: int = 8):
    lr = MODELS[model].default_lr
    return list(train_tab.train(None, NAMES, "lines", model, False, steps, 8, lr, 3, *defaults(model)))[-1][
        "ws"
    ]


def test_numpy_rungs_train_sample_save_and_check_in_the_app_like_any_rung(checkpoints):
    assert {"numpy-bigram", "numpy-mlp"} <= set(train_tab.LADDER)
    ws = trained("numpy-mlp")
    assert ws.trainer.step == 8 and ws.trainer.config.lr == MODELS["numpy-mlp"].default_lr
    assert "NumPy MLP (numpy-mlp)" in describe_workspace(ws)
    html = check_gradients(ws, "", "lines", SESSION, 3, 0)
    assert "This session&#x27;s numpy-mlp, as trained" in html and html.count("✓") == 5
    assert "Saved **np**" in checkpoints_tab.save(ws, "np", False)["status"]
    loaded = checkpoints_tab.load(None, "np")["ws"]
    assert sample(loaded.model, num_samples=2, seed=1) == sample(ws.model, num_samples=2, seed=1)
    with pytest.raises(gr.Error, match="has none"):  # a PyTorch rung has no hand-written gradients
        check_gradients(trained("neural-bigram", 2), "", "lines", SESSION, 3, 0)
    # the Bigram tab compares the NumPy bigram's learned table with the counts, like the neural bigram's
    shown = bigram_tab.comparison_view(trained("numpy-bigram", 20), 30, None)
    assert "nats per character" in shown["note"] and shown["compare"]["visible"]


# --- the scalar-autograd rung beside numpy-mlp and mlp ----------------------------------------------------

TINY = dict(block_size=3, n_embd=8, n_hidden=16)


def test_choosing_value_mlp_suggests_tiny_sizes_a_third_learning_rate_and_shows_the_time_per_step():
    chosen = choose_pair("value-mlp")
    assert {s.name: chosen[s.name]["value"] for s in SLIDERS} == TINY and chosen["batch_size"] == 4
    assert chosen["middle_lr"]["visible"] and "numpy-mlp" in chosen["middle_lr"]["label"]
    assert (
        chosen["numpy_lr"]["value"] == MODELS["value-mlp"].default_lr
        and "value-mlp" in chosen["numpy_lr"]["label"]
    )
    assert not choose_pair("numpy-mlp")["middle_lr"]["visible"]
    note = estimate(NAMES, "lines", "value-mlp", 200, 4, *TINY.values())
    longest = max(len(line) for line in NAMES.splitlines()) + 1  # a line and its boundary
    assert (
        "**value-mlp**" in note and f"({4 * longest} predictions a step" in note and "for 200 steps" in note
    )
    seconds = float(note.split("about **")[1].split(" s a step")[0])
    assert 0 < seconds < 10
    assert estimate(NAMES, "lines", "numpy-mlp", 200, 4, *TINY.values()) == ""  # fast pairs: nothing to say
    assert "⚠️" in estimate("", "lines", "value-mlp", 200, 4, *TINY.values())  # shown in place, not raised


def test_value_mlp_trains_beside_numpy_mlp_and_mlp_with_the_speed_ratio_of_the_three():
    updates = compared(rung="value-mlp", steps=4, batch_size=2, numpy_lr=0.3, torch_lr=3e-3, **TINY)
    assert "**value-mlp**: about" in updates[0]["results"]  # the estimate, before the first step
    progress, figure, results = (updates[-1][k] for k in ("progress", "plot", "results"))
    assert "step 4 / 4" in progress and "done" in progress
    names = ("value-mlp", "numpy-mlp", "mlp")
    assert [t.name for t in figure.data] == [f"{m} {part}" for m in names for part in ("validation", "train")]
    assert all(figure.data[i].x[-1] == 4 for i in range(0, 6, 2))
    V = len(set(NAMES))
    two_relu = V * 8 + 24 * 16 + 16 + 16 * 16 + 16 + 16 * V + V  # C, W1, b1, W2, b2, W3, b3
    one_tanh = V * 8 + 24 * 16 + 16 + 16 * V + V
    assert (
        f"| value-mlp | {two_relu:,} | 0.3 | 4 |" in results
        and f"| mlp | {two_relu:,} | 0.003 | 4 |" in results
    )
    assert f"| numpy-mlp | {one_tanh:,} | 0.5 | 4 |" in results  # its default learning rate: left out
    ratio = results.split("**Speed ratio**: ")[1]
    assert ratio.count("×") == 2 and "as fast as **value-mlp**" in ratio and "0.00×" not in results
    assert COMPARING.count == 0


def test_the_third_learning_rate_is_used_and_checked():
    args = (NAMES, "lines", "value-mlp", 2, 2, 3, 0.3, 3e-3, *TINY.values())
    results = list(compare(*args, 0.25))[-1]["results"]
    assert "| numpy-mlp |" in results and "| 0.25 | 2 |" in results
    with pytest.raises(gr.Error, match="learning rate of numpy-mlp"):
        list(compare(*args, 50.0))


def test_a_value_mlp_too_slow_for_the_budget_is_refused_with_its_estimate():
    with pytest.raises(gr.Error) as error:
        compared(rung="value-mlp", steps=5000, batch_size=32, block_size=8, n_embd=32, n_hidden=128)
    message = error.value.message
    assert "value-mlp would take about" in message and "hours" in message and "numpy-mlp" in message
    assert "Traceback" not in message and COMPARING.count == 0


def test_the_gradient_check_of_value_mlp_gives_every_weight_within_float64_rounding():
    html = check_gradients(None, NAMES, "lines", "value-mlp", 4, 0)
    assert "A fresh value-mlp (block_size 3, n_embd 8, n_hidden 16)" in html
    rows = gradient_check("value-mlp", NAMES, "lines", 4, 0, **TINY)  # what the handler checked
    assert [r["weight"] for r in rows] == ["C", "W1", "b1", "W2", "b2", "W3", "b3"]
    assert html.count("✓") == 7 and "✗" not in html
    for row in rows:
        assert row["max_abs_diff_autograd"] < 1e-9 and f"{row['max_abs_diff_autograd']:.2e}</td>" in html
    assert "value-mlp" in GRADIENT_MODELS
