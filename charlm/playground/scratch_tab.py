"""The From scratch tab: a rung written without PyTorch's autograd beside its PyTorch twin (the scalar
one beside numpy-mlp too), trained in lockstep on the Train tab's text; the check of its gradients; the
computation graph of one prediction (scratch_graph). Handlers, layout, wiring."""

import time

import gradio as gr
import torch

from charlm import viz
from charlm.compare import (
    PAIRS,
    blas_threads,
    companions,
    is_slow,
    lockstep,
    side_by_side,
    step_seconds,
    twin_settings,
)
from charlm.data import Corpus
from charlm.errors import CharlmError
from charlm.models import MODELS
from charlm.models.numpy_models import gradient_check
from charlm.playground import scratch_graph, settings
from charlm.playground.common import Tab, check_text, inline_error, on, real, shows_errors, whole
from charlm.playground.session import COMPARING, SESSION, Workspace, session_of, stop_reason
from charlm.train import Progress, TrainConfig

INTRO = """The neural bigram and the MLP again, written **from scratch in NumPy**: the forward pass, the
cross-entropy, the backward pass worked out by hand and the plain SGD update (`charlm/models/numpy_models.py`),
no autograd anywhere; and one rung lower, the MLP built from **scalar autograd** (`charlm/autograd.py`): every
number a `Value` that remembers how it was made and backpropagates through that graph. Train each beside its
PyTorch twin on the *Train* tab's text, with the same batches, check their gradients against PyTorch's
autograd, and draw the graph of one prediction. Plain SGD needs a far larger learning rate than AdamW, so each
model starts at its own. Comparing leaves this session's model as it is: to sample from or save one of these
models, pick it in the *Train* tab."""
GRADIENT_MODELS = [*PAIRS, SESSION]  # the rungs with hand-written gradients, or the session's model
BATCH = 32


def suggested_settings(rung: str) -> dict:
    """A rung's settings as the tab suggests them: its defaults, or tiny sizes for a slow rung."""
    return {s.name: MODELS[rung].playground_settings.get(s.name, s.default) for s in MODELS[rung].settings()}


def optimizer_of(name: str) -> str:
    return "plain SGD" if name in PAIRS else "PyTorch, AdamW"


def pair_label(rung: str) -> str:
    mine, *others = companions(rung)
    beside = " and the ".join(f"{MODELS[o].title} ({optimizer_of(o)})" for o in others)
    return f"{MODELS[mine].title} ({optimizer_of(mine)}) beside the {beside}, same settings"


def pair_sliders() -> list:
    """The settings of the rungs that have a twin, once each: both models of a pair are built with them."""
    seen = {}
    for rung in PAIRS:
        for s in MODELS[rung].settings():
            seen.setdefault(s.name, s)
    return list(seen.values())


SLIDERS = pair_sliders()


def choose_pair(rung: str) -> dict:
    """The comparison's steps and batch size, each model's own learning rate, which settings show and
    their suggested values (tiny for a slow rung). A third model's learning rate shows only with one."""
    rung = rung if rung in PAIRS else next(iter(PAIRS))
    mine, *middle, twin = companions(rung)
    suggested = suggested_settings(rung)
    updates = {
        "steps": MODELS[rung if is_slow(rung) else twin].default_steps,
        "batch_size": MODELS[rung].playground_batch_size or BATCH,
        "numpy_lr": gr.update(value=MODELS[mine].default_lr, label=f"Learning rate of {mine} (plain SGD)"),
        "torch_lr": gr.update(value=MODELS[twin].default_lr, label=f"Learning rate of {twin} (AdamW)"),
        "middle_lr": gr.update(
            visible=bool(middle),
            **(
                {"value": MODELS[middle[0]].default_lr, "label": f"Learning rate of {middle[0]} (plain SGD)"}
                if middle
                else {}
            ),
        ),
        "settings_row": gr.update(visible=bool(suggested)),
    }
    for s in SLIDERS:
        shown = s.name in suggested
        updates[s.name] = gr.update(visible=shown, **({"value": suggested[s.name]} if shown else {}))
    return updates


def pair_settings(rung: str, values: dict) -> dict:
    """The settings every model of a comparison is built with: the rung's own, checked against their ranges."""
    return {s.name: s.check(values.get(s.name)) for s in MODELS[rung].settings()}


def estimate_markdown(estimates: dict[str, tuple[float, int]], steps: int) -> str:
    """'value-mlp: about 0.3 s a step here (56 predictions), 1 min 02 s for 200 steps.'"""
    lines = []
    for name, (seconds, examples) in estimates.items():
        line = (
            f"**{viz.escape(name)}**: about **{seconds:.2g} s a step** here ({examples:,} predictions a step, "
            f"each a graph of scalar Values), about **{viz.duration(seconds * steps)}** for {steps:,} steps"
        )
        if seconds * steps > settings.MAX_TRAIN_SECONDS:
            line += f"; this server stops a run after {viz.duration(settings.MAX_TRAIN_SECONDS)}"
        lines.append(line + ". The others take milliseconds a step.")
    return "\n\n".join(lines)


@shows_errors
def estimate(text, mode, rung, steps, batch_size, *values) -> str:
    """The time a slow rung will take, shown before Compare is clicked (empty for the fast ones)."""
    if rung not in PAIRS or not any(map(is_slow, companions(rung))):
        return ""
    try:
        steps, batch_size = (
            whole(steps, "steps", 1, settings.MAX_STEPS),
            whole(batch_size, "batch size", 1, 1024),
        )
        chosen = pair_settings(rung, dict(zip([s.name for s in SLIDERS], values)))
        corpus = Corpus.from_text(check_text(text), mode)
        return estimate_markdown(step_seconds(corpus, companions(rung), batch_size, chosen), steps)
    except CharlmError as e:  # shown where the estimate would be; Compare gives the same message
        return inline_error(e)


def speed_markdown(results: dict[str, dict]) -> str:
    """How many times faster each model trained than the slowest (for three or more models)."""
    speed = {name: m["tokens_per_second"] for name, m in results.items()}
    slowest = min(speed, key=speed.get)
    faster = [
        f"**{viz.escape(n)}** **{s / max(speed[slowest], 1e-9):,.0f}×**"
        for n, s in sorted(speed.items(), key=lambda item: -item[1])
        if n != slowest
    ]
    shown = " · ".join(
        f"{viz.escape(n)} {s:,.1f}" if s < 10 else f"{viz.escape(n)} {s:,.0f}" for n, s in speed.items()
    )
    return (
        f"**Speed ratio**: {' and '.join(faster)} as fast as **{viz.escape(slowest)}** "
        f"(training tokens per second: {shown}; evaluations left out)."
    )


@shows_errors
def compare(
    text, mode, rung, steps, batch_size, seed, numpy_lr, torch_lr, *values, request: gr.Request | None = None
):
    """Train a rung written from scratch and its PyTorch twin (the scalar-autograd rung: and numpy-mlp) on
    the Train tab's text, one step of each in turn, with the same batches: every curve streams onto one
    chart, then their losses and speeds. None becomes the session's model. All optimise the loss alone
    (no weight decay), so the bigrams head for the count bigram's loss. `values` are the settings sliders,
    in the order of SLIDERS, then the learning rate of a third model (its default when left out)."""
    if rung not in PAIRS:
        raise CharlmError(f"unknown comparison {rung!r}; choose one of: {', '.join(PAIRS)}.")
    config = TrainConfig(  # the Train tab's limits; each model has its own lr
        steps=whole(steps, "steps", 1, settings.MAX_STEPS),
        batch_size=whole(batch_size, "batch size", 1, 1024),
        seed=whole(seed, "seed", 0, 2**31 - 1),
        weight_decay=0.0,
        eval_tokens=settings.EVAL_TOKENS,
    )
    config.warmup_steps, config.eval_interval = min(100, config.steps // 10), max(1, config.steps // 25)
    chosen = pair_settings(rung, dict(zip([s.name for s in SLIDERS], values)))
    lrs = learning_rates(rung, numpy_lr, torch_lr, values[len(SLIDERS) :])
    twin = PAIRS[rung]  # built like the rung: value-mlp's twin with relu and two layers
    trainers = side_by_side(check_text(text), mode, lrs, config, {twin: twin_settings(rung)}, **chosen)
    estimates = step_seconds(trainers[rung].corpus, list(lrs), config.batch_size, chosen)
    with COMPARING.run(session_of(request)) as stopping:
        if stopping.is_set():  # Stop was clicked while this run waited in the queue
            yield {"progress": viz.lockstep_progress_html({}, "stopped before it started")}
            return
        yield from run_lockstep(trainers, stopping, estimate_markdown(estimates, config.steps))


def learning_rates(rung: str, numpy_lr, torch_lr, middle: tuple) -> dict[str, float]:
    """Each model's learning rate, checked: the rung's, the middle ones' (a default if not given), the twin's."""
    mine, *others, twin = companions(rung)
    given = [mine, twin, *others]
    raw = [numpy_lr, torch_lr, *middle, *[MODELS[o].default_lr for o in others[len(middle) :]]]
    lrs = {name: real(value, f"learning rate of {name}", 1e-6, 10.0) for name, value in zip(given, raw)}
    return {name: lrs[name] for name in companions(rung)}  # the chart's and the table's order


def run_lockstep(trainers: dict, stopping, estimated: str):
    """Stream the lockstep run: every curve on one chart, then the table of losses and speeds."""
    refs = viz.baselines(next(iter(trainers.values())).corpus)
    histories: dict[str, list[Progress]] = {name: [] for name in trainers}
    events: dict[str, Progress] = {}
    last_update, note = 0.0, ""
    yield {
        "progress": viz.lockstep_progress_html({}, "starting…"),
        "plot": viz.comparison_figure(histories, refs),
        "results": estimated,
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
    table = viz.comparison_markdown(results, refs)
    if len(results) > 2:  # the first-against-second ratio would be 0.00×: each against the slowest instead
        table = table.split("\n\n")[0] + "\n\n" + speed_markdown(results)
    yield {
        "progress": viz.lockstep_progress_html(events, note),
        "plot": viz.comparison_figure(histories, refs),
        "results": table + f" PyTorch computed on {torch.get_num_threads()} thread(s) and {numpy_threads}.",
    }


def arm_compare(request: gr.Request) -> None:
    """Runs as Compare is clicked, before the run leaves the queue: a fresh stop switch."""
    COMPARING.arm(request.session_hash)


def stop_compare(request: gr.Request | None = None):
    """Stop this session's comparison; it ends at the next step and shows both models as they are.
    With nothing to stop, the progress bar says so (Stop runs outside the queue: no pop-up reaches the page)."""
    if COMPARING.stop(session_of(request)):
        return gr.skip()
    return viz.lockstep_progress_html(
        {}, "Nothing is being compared in this session, so there is nothing to stop."
    )


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
        defaults = suggested_settings(choice)  # tiny for the scalar-autograd rung
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
                t.middle_lr = gr.Number(  # a third model's, shown when the comparison has one
                    0.5, label="Learning rate of the third model", minimum=0, maximum=10, visible=False
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
    t.estimate = gr.Markdown(elem_id="compare-estimate")
    t.progress = gr.HTML(
        viz.lockstep_progress_html({}), label="Progress", show_label=False, elem_id="compare-progress"
    )
    t.plot = gr.Plot(viz.comparison_figure({}), label="Loss curves", show_label=False, elem_id="compare-plot")
    t.results = gr.Markdown(label="Results", show_label=False, elem_id="compare-results")


def gradient_panel(t: Tab) -> None:
    gr.Markdown(
        "### Gradient check\nFor one batch of the *Train* tab's text: the largest gap between each weight's "
        "hand-written gradient and PyTorch autograd's (on the PyTorch model holding the same weights), and "
        "between it and central finite differences at a few entries. All in float64."
    )
    with gr.Row():
        fast = [r for r in PAIRS if not is_slow(r)]
        t.check_model = gr.Radio(GRADIENT_MODELS, value=fast[-1], label="Model", scale=3)
        t.check_batch = gr.Number(4, label="Batch size", precision=0, minimum=1, maximum=256, scale=1)
        t.check_seed = gr.Number(0, label="Seed", precision=0, minimum=0, scale=1)
        t.check = gr.Button("Check the gradients", scale=1, elem_id="check-button")
    t.gradients = gr.HTML(label="Gradient check", show_label=False, elem_id="gradient-check")


def layout() -> Tab:
    t = Tab()
    gr.Markdown(INTRO)
    compare_panel(t)
    gradient_panel(t)
    scratch_graph.panel(t)
    return t


# ---------------------------------------------------------------------------------------------------
# Wiring


def wire(t: Tab, train: Tab, ws: gr.State) -> None:
    chosen = {
        "steps": t.steps,
        "batch_size": t.batch_size,
        "numpy_lr": t.numpy_lr,
        "torch_lr": t.torch_lr,
        "middle_lr": t.middle_lr,
        "settings_row": t.settings_row,
    }
    chosen.update({s.name: c for s, c in zip(SLIDERS, t.settings)})
    sizes = [train.text, train.mode, t.pair, t.steps, t.batch_size, *t.settings]
    shown = on(t.pair.change, choose_pair, t.pair, chosen, api_visibility="undocumented")
    shown.then(estimate, sizes, t.estimate, api_visibility="undocumented")
    for changed in [t.steps.blur, t.batch_size.blur, *[s.release for s in t.settings]]:
        changed(estimate, sizes, t.estimate, api_visibility="undocumented")
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
        t.middle_lr,
    ]
    on(
        t.start.click(arm_compare, None, None, queue=False, api_visibility="undocumented").then,
        compare,
        inputs,
        {"progress": t.progress, "plot": t.plot, "results": t.results},
        values=[*(s.name for s in SLIDERS), "third_lr"],  # the API page names the sliders
        api_name="compare",
        concurrency_limit=settings.TRAIN_CONCURRENCY,  # shares the training slots: the rest wait in the queue
        concurrency_id="train",
        show_progress_on=t.progress,
    )
    t.stop.click(stop_compare, None, t.progress, api_name="stop_compare", queue=False, show_progress="hidden")
    t.check.click(
        check_gradients,
        [ws, train.text, train.mode, t.check_model, t.check_batch, t.check_seed],
        t.gradients,
        api_name="gradient_check",
        show_progress_on=t.gradients,
    )
    scratch_graph.wire(t)
