"""The From scratch tab: a rung written without autograd beside its PyTorch twin, trained in lockstep
on the Train tab's text, and the check of its hand-written gradients. Handlers, layout, wiring."""

import time

import gradio as gr
import torch

from charlm import viz
from charlm.compare import PAIRS, blas_threads, lockstep, side_by_side
from charlm.errors import CharlmError
from charlm.models import MODELS
from charlm.models.numpy_models import gradient_check
from charlm.playground import settings
from charlm.playground.common import Tab, check_text, on, real, shows_errors, whole
from charlm.playground.session import COMPARING, SESSION, Workspace, session_of, stop_reason
from charlm.train import Progress, TrainConfig

INTRO = """The neural bigram and the MLP again, written **from scratch in NumPy**: the forward pass, the
cross-entropy, the backward pass worked out by hand and the plain SGD update (`charlm/models/numpy_models.py`),
no autograd anywhere. Train each beside its PyTorch twin on the *Train* tab's text, with the same batches,
and check the hand-written gradients against PyTorch's autograd. Plain SGD needs a far larger learning rate
than AdamW, so each model starts at its own. Comparing leaves this session's model as it is: to sample from
or save a NumPy model, pick it in the *Train* tab."""
GRADIENT_MODELS = [*PAIRS, SESSION]  # the rungs with hand-written gradients, or the session's model


def pair_label(rung: str) -> str:
    mine, twin = MODELS[rung], MODELS[PAIRS[rung]]
    return f"{mine.title} (plain SGD) beside the {twin.title} (PyTorch, AdamW), same settings"


def pair_sliders() -> list:
    """The settings of the rungs that have a twin, once each: both models of a pair are built with them."""
    seen = {}
    for rung in PAIRS:
        for s in MODELS[rung].settings():
            seen.setdefault(s.name, s)
    return list(seen.values())


SLIDERS = pair_sliders()


def choose_pair(rung: str) -> dict:
    """The pair's steps and each model's own learning rate, and which settings show."""
    rung = rung if rung in PAIRS else next(iter(PAIRS))
    mine, twin = MODELS[rung], MODELS[PAIRS[rung]]
    own = {s.name for s in mine.settings()}
    updates = {
        "steps": twin.default_steps,
        "numpy_lr": gr.update(value=mine.default_lr, label=f"Learning rate of {rung} (plain SGD)"),
        "torch_lr": gr.update(value=twin.default_lr, label=f"Learning rate of {PAIRS[rung]} (AdamW)"),
        "settings_row": gr.update(visible=bool(own)),
    }
    updates.update({s.name: gr.update(visible=s.name in own) for s in SLIDERS})
    return updates


def pair_settings(rung: str, values: dict) -> dict:
    """The settings both models of a pair are built with: the rung's own, checked against their ranges."""
    return {s.name: s.check(values.get(s.name)) for s in MODELS[rung].settings()}


@shows_errors
def compare(
    text, mode, rung, steps, batch_size, seed, numpy_lr, torch_lr, *values, request: gr.Request | None = None
):
    """Train a rung written from scratch and its PyTorch twin on the Train tab's text, one step of each
    in turn, with the same batches: both curves stream onto one chart, then their losses and speeds.
    Neither becomes the session's model. Both optimise the loss alone (no weight decay), so the bigrams
    head for the count bigram's loss. `values` are the settings sliders, in the order of SLIDERS."""
    if rung not in PAIRS:
        raise CharlmError(f"unknown comparison {rung!r}; choose one of: {', '.join(PAIRS)}.")
    twin = PAIRS[rung]
    lrs = {
        rung: real(numpy_lr, f"learning rate of {rung}", 1e-6, 10.0),
        twin: real(torch_lr, f"learning rate of {twin}", 1e-6, 10.0),
    }
    config = TrainConfig(  # the Train tab's limits; each model has its own lr
        steps=whole(steps, "steps", 1, settings.MAX_STEPS),
        batch_size=whole(batch_size, "batch size", 1, 1024),
        seed=whole(seed, "seed", 0, 2**31 - 1),
        weight_decay=0.0,
        eval_tokens=settings.EVAL_TOKENS,
    )
    config.warmup_steps, config.eval_interval = min(100, config.steps // 10), max(1, config.steps // 25)
    chosen = pair_settings(rung, dict(zip([s.name for s in SLIDERS], values)))
    trainers = side_by_side(check_text(text), mode, lrs, config, **chosen)
    refs = viz.baselines(trainers[rung].corpus)
    histories: dict[str, list[Progress]] = {name: [] for name in trainers}
    events: dict[str, Progress] = {}
    last_update, note = 0.0, ""
    with COMPARING.run(session_of(request)) as stopping:
        if stopping.is_set():  # Stop was clicked while this run waited in the queue
            yield {"progress": viz.lockstep_progress_html({}, "stopped before it started")}
            return
        yield {
            "progress": viz.lockstep_progress_html({}, "starting…"),
            "plot": viz.comparison_figure(histories, refs),
            "results": "",
        }
        deadline = time.monotonic() + settings.MAX_TRAIN_SECONDS
        for stepped in lockstep(trainers):
            for name, event in stepped.items():
                histories[name].append(event)
            events.update(stepped)
            note = stop_reason(stopping, deadline, "stopped")
            if note:
                break
            now = time.monotonic()
            if all(e.done for e in events.values()) or now - last_update >= settings.UPDATE_SECONDS:
                last_update = now
                yield {
                    "progress": viz.lockstep_progress_html(events),
                    "plot": viz.comparison_figure(histories, refs),
                }
    results = {name: {**trainer.metrics(), "lr": trainer.config.lr} for name, trainer in trainers.items()}
    threads = blas_threads()
    numpy_threads = f"NumPy's BLAS on {threads}" if threads else "NumPy on its own BLAS's threads"
    yield {
        "progress": viz.lockstep_progress_html(events, note),
        "plot": viz.comparison_figure(histories, refs),
        "results": viz.comparison_markdown(results, refs)
        + f" PyTorch computed on {torch.get_num_threads()} thread(s) and {numpy_threads}.",
    }


def arm_compare(request: gr.Request) -> None:
    """Runs as Compare is clicked, before the run leaves the queue: a fresh stop switch."""
    COMPARING.arm(request.session_hash)


def stop_compare(request: gr.Request | None = None) -> None:
    """Stop this session's comparison; it ends at the next step and shows both models as they are."""
    COMPARING.stop(session_of(request))


@shows_errors
def check_gradients(ws: Workspace | None, text: str, mode: str, choice: str, batch_size, seed) -> str:
    """For one batch of the text: each weight's hand-written gradient against autograd's and finite
    differences', as a table. A rung from scratch starts from fresh weights (from the seed, at its default
    settings); the session's model is checked as it is."""
    batch_size, seed = whole(batch_size, "batch size", 1, 256), whole(seed, "seed", 0, 2**31 - 1)
    if choice == SESSION:
        if ws is None:
            raise CharlmError("this session has no model yet: train a NumPy model in the Train tab first.")
        model, text = ws.model, ws.text if ws.text is not None else check_text(text)
        rows = gradient_check(model, text, batch_size=batch_size, seed=seed)
        what = f"This session's {model.config.model_type}, as trained ({model.num_params():,} parameters)"
    elif choice in PAIRS:
        defaults = {s.name: s.default for s in MODELS[choice].settings()}
        rows = gradient_check(choice, check_text(text), mode, batch_size, seed, **defaults)
        shown = ", ".join(f"{k} {v}" for k, v in defaults.items())
        what = f"A fresh {choice}" + (f" ({shown})" if shown else "") + f", weights from seed {seed}"
    else:
        raise CharlmError(f"unknown model {choice!r}; choose one of: {', '.join(GRADIENT_MODELS)}.")
    return viz.gradient_check_html(
        rows, f"{what}; one batch of {batch_size} windows of the text, in float64."
    )


# ---------------------------------------------------------------------------------------------------
# Layout: the side-by-side run, then the gradient check


def compare_panel(t: Tab) -> None:
    gr.Markdown("### Side by side with PyTorch")
    rung = next(iter(PAIRS))
    mine, twin = MODELS[rung], MODELS[PAIRS[rung]]
    with gr.Row():
        t.pair = gr.Radio(
            [(pair_label(r), r) for r in PAIRS], value=rung, label="Compare", scale=3, elem_id="compare-pair"
        )
        with gr.Column(scale=2):
            with gr.Row():
                t.steps = gr.Number(
                    twin.default_steps,
                    label="Steps",
                    precision=0,
                    minimum=1,
                    maximum=settings.MAX_STEPS,
                    elem_id="compare-steps",
                )
                t.batch_size = gr.Number(32, label="Batch size", precision=0, minimum=1, maximum=1024)
                t.seed = gr.Number(1337, label="Seed", precision=0, minimum=0)
            with gr.Row():
                t.numpy_lr = gr.Number(
                    mine.default_lr, label=f"Learning rate of {rung} (plain SGD)", minimum=0, maximum=10
                )
                t.torch_lr = gr.Number(
                    twin.default_lr, label=f"Learning rate of {PAIRS[rung]} (AdamW)", minimum=0, maximum=10
                )
    own = {s.name for s in mine.settings()}
    with gr.Row(visible=bool(own)) as t.settings_row:
        t.settings = [
            gr.Slider(
                s.low,
                s.high,
                value=s.default,
                step=s.step,
                label=s.label,
                info=s.explanation,
                visible=s.name in own,
            )
            for s in SLIDERS
        ]
    with gr.Row():
        t.start = gr.Button("Compare", variant="primary", elem_id="compare-button")
        t.stop = gr.Button("Stop", variant="stop", elem_id="compare-stop")
    t.progress = gr.HTML(viz.lockstep_progress_html({}), elem_id="compare-progress")
    t.plot = gr.Plot(viz.comparison_figure({}), show_label=False, elem_id="compare-plot")
    t.results = gr.Markdown(elem_id="compare-results")


def gradient_panel(t: Tab) -> None:
    gr.Markdown(
        "### Gradient check\nFor one batch of the *Train* tab's text: the largest gap between each weight's "
        "hand-written gradient and PyTorch autograd's (on the PyTorch model holding the same weights), and "
        "between it and central finite differences at a few entries. All in float64."
    )
    with gr.Row():
        t.check_model = gr.Radio(GRADIENT_MODELS, value=GRADIENT_MODELS[-2], label="Model", scale=3)
        t.check_batch = gr.Number(4, label="Batch size", precision=0, minimum=1, maximum=256, scale=1)
        t.check_seed = gr.Number(0, label="Seed", precision=0, minimum=0, scale=1)
        t.check = gr.Button("Check the gradients", scale=1, elem_id="check-button")
    t.gradients = gr.HTML(elem_id="gradient-check")


def layout() -> Tab:
    t = Tab()
    gr.Markdown(INTRO)
    compare_panel(t)
    gradient_panel(t)
    return t


# ---------------------------------------------------------------------------------------------------
# Wiring


def wire(t: Tab, train: Tab, ws: gr.State) -> None:
    chosen = {
        "steps": t.steps,
        "numpy_lr": t.numpy_lr,
        "torch_lr": t.torch_lr,
        "settings_row": t.settings_row,
    }
    chosen.update({s.name: c for s, c in zip(SLIDERS, t.settings)})
    on(t.pair.change, choose_pair, t.pair, chosen, api_visibility="undocumented")
    inputs = [
        train.text,
        train.mode,
        t.pair,
        t.steps,
        t.batch_size,
        t.seed,
        t.numpy_lr,
        t.torch_lr,
        *t.settings,
    ]
    on(
        t.start.click(arm_compare, None, None, queue=False, api_visibility="undocumented").then,
        compare,
        inputs,
        {"progress": t.progress, "plot": t.plot, "results": t.results},
        api_name="compare",
        concurrency_limit=settings.TRAIN_CONCURRENCY,  # shares the training slots: the rest wait in the queue
        concurrency_id="train",
        show_progress_on=t.progress,
    )
    t.stop.click(stop_compare, None, None, api_name="stop_compare", queue=False)
    t.check.click(
        check_gradients,
        [ws, train.text, train.mode, t.check_model, t.check_batch, t.check_seed],
        t.gradients,
        api_name="gradient_check",
        show_progress_on=t.gradients,
    )
