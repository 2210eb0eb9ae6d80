"""The From scratch (NumPy) tab: models trained in lockstep end exactly as trained alone; the side-by-side
chart, table and gradient-check table against the numbers they show; the tab's handlers called directly;
the running app through gradio_client; and the tab in a real browser."""

import math
from types import SimpleNamespace

import gradio as gr
import pytest
import torch
from gradio_client import Client

import app
from charlm import viz
from charlm.compare import PAIRS, blas_threads, lockstep, set_blas_threads, side_by_side
from charlm.errors import CharlmError
from charlm.models.numpy_models import gradient_check
from charlm.sampling import sample
from charlm.train import Progress, TrainConfig, new_trainer

pytest_plugins = ["app_fixtures"]  # served, browser, screenshots
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing")

NAMES = (
    "amara\nbelen\ncorin\ndalia\nelio\nfarah\ngiles\nhana\nilan\njora\nkira\nlenna\nmilo\nnadia\noren\n"
    "pia\nquin\nrosa\nsamir\ntalia\numa\nvera\nwren\nxena\nyara\nzane\naria\nboris\ncleo\ndorian\n"
) * 3
MLP = dict(block_size=3, n_embd=8, n_hidden=32)
LRS = {"numpy-bigram": 10.0, "neural-bigram": 0.1, "numpy-mlp": 0.5, "mlp": 3e-3}


@pytest.fixture(autouse=True, scope="module")
def one_blas_thread():
    """Like conftest's one torch thread: tiny NumPy products run fastest on one BLAS thread."""
    before = blas_threads()
    set_blas_threads(1)
    yield
    if before:
        set_blas_threads(before)


def config(**overrides) -> TrainConfig:
    settings = dict(
        steps=12, batch_size=8, warmup_steps=2, eval_interval=4, eval_tokens=512, seed=3, device="cpu"
    )
    return TrainConfig(**{**settings, **overrides})


def compared(text=NAMES, mode="lines", rung="numpy-bigram", steps=12, request=None, **overrides):
    """Run the compare handler to the end; returns every update it yielded."""
    twin = PAIRS.get(rung, "mlp")
    o = dict(batch_size=8, seed=3, numpy_lr=LRS.get(rung, 1.0), torch_lr=LRS.get(twin, 1e-3), **MLP)
    o |= overrides
    args = (text, mode, rung, steps, o["batch_size"], o["seed"], o["numpy_lr"], o["torch_lr"])
    return list(app.compare(*args, o["block_size"], o["n_embd"], o["n_hidden"], request=request))


# --- charlm.compare ------------------------------------------------------------------------------------


@pytest.mark.parametrize("rung", list(PAIRS))
def test_lockstep_ends_each_model_exactly_as_training_it_alone(rung):
    twin = PAIRS[rung]
    settings = MLP if rung == "numpy-mlp" else {}
    trainers = side_by_side(NAMES, "lines", {rung: LRS[rung], twin: LRS[twin]}, config(), **settings)
    rounds = list(lockstep(trainers))
    assert [sorted(r) for r in rounds] == [sorted([rung, twin])] * 12
    assert [r[rung].step for r in rounds] == list(range(1, 13))
    for name, trainer in trainers.items():
        alone = new_trainer(NAMES, "lines", name, config(lr=LRS[name]), **settings)
        losses = [e.train_loss for e in alone.run()]
        assert [r[name].train_loss for r in rounds] == losses
        for key, value in alone.model.state_dict().items():
            assert torch.equal(trainer.model.state_dict()[key], value), (name, key)
    # one corpus and one window length: both drew the very same batches
    a, b = trainers.values()
    assert (
        a.corpus is b.corpus and a.T == b.T and torch.equal(a.generator.get_state(), b.generator.get_state())
    )
    assert {t.config.lr for t in trainers.values()} == {LRS[rung], LRS[twin]}


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
    rows = gradient_check(name, NAMES, "lines", batch_size=3, seed=1, **MLP)
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


# --- the tab's handlers --------------------------------------------------------------------------------


def test_compare_streams_both_curves_then_a_table_of_losses_and_speeds():
    updates = compared(steps=25)
    progress, figure, results = updates[-1]
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
    assert updates[0][2] == "" and all(u[2] == gr.skip() for u in updates[1:-1])
    assert app.COMPARING.count == 0


def test_compare_builds_both_mlps_with_the_same_settings():
    results = compared(rung="numpy-mlp", steps=6, block_size=2, n_embd=8, n_hidden=16)[-1][2]
    V = len(set(NAMES))  # the vocabulary: the letters and the boundary
    params = V * 8 + 2 * 8 * 16 + 16 + 16 * V + V  # C, W1, b1, W2, b2 of one tanh layer
    assert (
        f"| numpy-mlp | {params:,} | 0.5 | 6 |" in results and f"| mlp | {params:,} | 0.003 | 6 |" in results
    )


def test_choose_pair_sets_each_models_own_learning_rate_and_shows_the_mlp_settings():
    steps, numpy_lr, torch_lr, settings = app.choose_pair("numpy-mlp")
    assert numpy_lr["value"] == app.MODELS["numpy-mlp"].default_lr and "numpy-mlp" in numpy_lr["label"]
    assert torch_lr["value"] == app.TRAIN_DEFAULTS["mlp"][2] and "(AdamW)" in torch_lr["label"]
    assert settings["visible"] and steps["value"] == app.TRAIN_DEFAULTS["mlp"][0]
    steps, numpy_lr, torch_lr, settings = app.choose_pair("numpy-bigram")
    assert numpy_lr["value"] == 10.0 and torch_lr["value"] == app.TRAIN_DEFAULTS["neural-bigram"][2]
    assert not settings["visible"]


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
        assert "| numpy-bigram |" in compared(steps=2, **change)[-1][2]
        return
    with pytest.raises(gr.Error) as error:
        compared(**change)
    assert message in error.value.message and "Traceback" not in error.value.message
    assert app.COMPARING.count == 0


def test_a_text_over_the_cap_is_refused(monkeypatch):
    monkeypatch.setattr(app, "MAX_CHARS", 100)
    with pytest.raises(gr.Error, match="up to 100"):
        compared()


def test_stop_ends_the_comparison_at_the_next_step_with_its_table():
    tab = SimpleNamespace(session_hash="scratch-1")
    run = app.compare(NAMES, "lines", "numpy-bigram", 10_000, 8, 3, 10.0, 0.1, 3, 8, 32, request=tab)
    next(run)  # starting
    for _, figure, _ in run:
        if len(figure.data[0].x) >= 2:
            break
    assert app.COMPARING.count == 1
    app.stop_compare(tab)
    *_, (progress, figure, results) = run
    step = int(progress.split("step ")[1].split(" /")[0].replace(",", ""))
    assert 0 < step < 10_000 and "stopped" in progress and f"| 10 | {step:,} |" in results
    assert app.COMPARING.count == 0


def test_stop_clicked_while_queued_stops_the_comparison_before_it_starts():
    tab = SimpleNamespace(session_hash="scratch-2")
    app.COMPARING.arm(tab.session_hash)
    app.stop_compare(tab)
    updates = compared(request=tab)
    assert len(updates) == 1 and "stopped before it started" in updates[0][0]


def test_closing_the_generator_ends_the_comparison():
    run = app.compare(NAMES, "lines", "numpy-bigram", 10_000, 8, 3, 10.0, 0.1, 3, 8, 32)
    next(run), next(run)
    assert app.COMPARING.count == 1
    run.close()
    assert app.COMPARING.count == 0


def test_the_gradient_check_handler_for_fresh_rungs_and_the_sessions_model():
    html = app.check_gradients(None, NAMES, "lines", "numpy-mlp", 2, 5)
    assert html.count("✓") == 5 and "A fresh numpy-mlp (block_size 4, n_embd 16, n_hidden 128)" in html
    assert html.count("✓") == 5 and "seed 5" in html and "2 windows" in html
    assert app.check_gradients(None, NAMES, "lines", "numpy-bigram", 4, 0).count("✓") == 1
    with pytest.raises(gr.Error, match="no model yet"):
        app.check_gradients(None, NAMES, "lines", app.SESSION, 4, 0)
    with pytest.raises(gr.Error, match="unknown model"):
        app.check_gradients(None, NAMES, "lines", "mlp", 4, 0)
    with pytest.raises(gr.Error, match="batch size"):
        app.check_gradients(None, NAMES, "lines", "numpy-mlp", 0, 0)


def trained(model: str, steps: int = 8):
    settings = [app.DEFAULTS[model].get(key, 1) for key in app.SETTINGS]
    lr = app.TRAIN_DEFAULTS[model][2]
    return list(app.train(None, NAMES, "lines", model, False, steps, 8, lr, 3, *settings))[-1][0]


def test_numpy_rungs_train_sample_save_and_check_in_the_app_like_any_rung(tmp_path, monkeypatch):
    monkeypatch.setattr(app, "CHECKPOINTS", tmp_path)
    assert {"numpy-bigram", "numpy-mlp"} <= set(app.LADDER)
    ws = trained("numpy-mlp")
    assert ws.trainer.step == 8 and ws.trainer.config.lr == app.MODELS["numpy-mlp"].default_lr
    assert "NumPy MLP (numpy-mlp)" in app.describe_workspace(ws)
    html = app.check_gradients(ws, "", "lines", app.SESSION, 3, 0)
    assert "This session&#x27;s numpy-mlp, as trained" in html and html.count("✓") == 5
    assert "Saved **np**" in app.save(ws, "np", False)[0]
    loaded = app.load(None, "np")[0]
    assert sample(loaded.model, num_samples=2, seed=1) == sample(ws.model, num_samples=2, seed=1)
    with pytest.raises(gr.Error, match="has none"):  # a PyTorch rung has no hand-written gradients
        app.check_gradients(trained("neural-bigram", 2), "", "lines", app.SESSION, 3, 0)
    # the Bigram tab compares the NumPy bigram's learned table with the counts, like the neural bigram's
    note, fig, _ = app.comparison_view(trained("numpy-bigram", 20), 30, None)
    assert "nats per character" in note and fig["visible"]


# --- the running app -----------------------------------------------------------------------------------


def test_compare_and_gradient_check_through_the_api(served):
    c = Client(served.url, verbose=False, analytics_enabled=False, download_files=False)
    named = c.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/compare", "/stop_compare", "/gradient_check"} <= set(named)
    progress, figure, results = c.predict(
        NAMES, "lines", "numpy-mlp", 10, 8, 3, 0.5, 3e-3, 3, 8, 32, api_name="/compare"
    )
    assert "step 10 / 10" in progress and "| 0.5 | 10 |" in results and "| 0.003 | 10 |" in results
    html = c.predict(NAMES, "lines", "numpy-bigram", 4, 0, api_name="/gradient_check")
    assert "✓" in html and "✗" not in html


@pytest.mark.browser
def test_the_tab_in_the_browser(served, browser, screenshots):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(served.url)
        page.get_by_role("tab", name="From scratch (NumPy)").click()
        page.locator("#compare-steps input").fill("60")
        page.locator("#compare-steps input").press("Tab")
        page.locator("#compare-button").click()
        page.wait_for_function(
            "document.querySelector('#compare-results').innerText.includes('the speed of')", timeout=90_000
        )
        names = page.evaluate(
            "Array.from(document.querySelector('#compare-plot .js-plotly-plot').data, t => t.name)"
        )
        assert names == [
            "numpy-bigram validation",
            "numpy-bigram train",
            "neural-bigram validation",
            "neural-bigram train",
        ]
        page.locator("#check-button").click()
        page.wait_for_function(
            "document.querySelector('#gradient-check').innerText.includes('agrees with autograd')",
            timeout=60_000,
        )
        assert page.locator("#gradient-check tbody tr").count() == 5  # numpy-mlp: C, W1, b1, W2, b2
        page.screenshot(path=screenshots / "scratch.png", full_page=True)
    except Exception:
        page.screenshot(path=screenshots / "failure.png", full_page=True)
        raise
    assert errors == []
    page.close()
