"""The Train tab: a text, a model and its settings, then a live loss chart, samples as it learns and
the final losses. Handlers first, then the layout, then the wiring."""

import time
from pathlib import Path

import gradio as gr

from charlm import viz
from charlm.checkpoint import resume
from charlm.compare import is_slow, step_seconds
from charlm.data import Corpus, read_text
from charlm.errors import CharlmError
from charlm.models import DEFAULT_MODEL, MODELS, build_model, model_config
from charlm.playground import budget, runs, settings
from charlm.playground.common import (
    Tab,
    check_text,
    inline_error,
    on,
    real,
    settled,
    shows_errors,
    whole,
)
from charlm.playground.corpus_panel import wire_hub_panel
from charlm.playground.session import (
    TRAINING,
    Workspace,
    recorders,
    session_of,
    stop_reason,
)
from charlm.playground.train_panels import (  # noqa: F401 (fill_on_load: demo.py wires it from here)
    LADDER,
    OPTIMIZER_CHOICES,
    SLIDERS,
    fill_on_load,
    live_sample,
    model_panel,
    results_panel,
    text_panel,
    train_view,
)
from charlm.train import TrainConfig, Trainer, new_trainer


def load_example(name: str) -> tuple[str, str]:
    if name not in settings.EXAMPLES:
        raise CharlmError(f"unknown example {name!r}; choose one of: {', '.join(settings.EXAMPLES)}.")
    path, mode = settings.EXAMPLES[name]
    return read_text(path), mode


@shows_errors
def read_upload(path: str | None) -> str:
    """The text of an uploaded file; binary, non-UTF-8 or oversized files are refused with a reason."""
    if not path:
        raise CharlmError("no file was uploaded.")
    text = read_text(path, max_bytes=settings.MAX_CHARS)
    gr.Info(f"Loaded {Path(path).name}: {len(text):,} characters.")
    return text


def model_settings_from(name: str, values: dict) -> dict:
    """The settings model `name` has, from the sliders' values, each checked against its range."""
    if name not in MODELS:
        raise CharlmError(f"unknown model {name!r}; choose one of: {', '.join(LADDER)}.")
    return {s.name: s.check(values.get(s.name)) for s in MODELS[name].settings()}


def choose_model(name: str) -> dict:
    """Show the settings model `name` has, at its defaults and with its own explanations, and its
    training defaults."""
    cls = MODELS[name if name in MODELS else DEFAULT_MODEL]
    own = {s.name: s for s in cls.settings()}
    updates = {"about": f"**{cls.title}.** {cls.description}"}
    for s in SLIDERS:
        mine = own.get(s.name)
        start = cls.playground_settings.get(s.name, mine.default) if mine else None  # small for a slow rung
        updates[s.name] = (
            gr.update(visible=True, value=start, info=mine.explanation) if mine else gr.update(visible=False)
        )
    updates.update(steps=cls.default_steps, batch_size=cls.playground_batch_size or 32, lr=cls.default_lr)
    updates["train_settings"] = gr.update(visible=not cls.trained_by_counting)
    updates["budget_row"] = gr.update(visible=not cls.trained_by_counting)  # counting takes no time
    by_torch = not (cls.trained_by_counting or cls.trains_itself)  # what PyTorch's optimizers train
    updates["optimizer_row"] = gr.update(visible=by_torch)
    if not by_torch:
        updates["optimizer"] = "adamw"  # the only one such a model takes (the plan hands it on)
    return updates


def describe(text: str, mode: str, model_name: str, *values) -> dict:
    """The corpus summary and the model's parameter count, shown before training. Problems are shown
    inline (this runs as the user types), not as pop-ups."""
    try:
        corpus = Corpus.from_text(check_text(text), mode)
        corpus_md = viz.corpus_summary(corpus)
    except CharlmError as e:
        return {"corpus": inline_error(e), "params": ""}
    try:
        chosen = model_settings_from(model_name, dict(zip([s.name for s in SLIDERS], values)))
        model = build_model(model_config(model_name, chars=corpus.vocab.chars, mode=mode, **chosen))
    except CharlmError as e:
        return {"corpus": corpus_md, "params": inline_error(e)}
    n, num_chars = model.num_params(), len(corpus.train.tokens)
    params_md = f"**{n:,} parameters** to learn from {num_chars:,} training characters."
    if is_slow(model_name):  # the scalar-autograd rung: say what a step costs before anyone waits for one
        batch = MODELS[model_name].playground_batch_size or 32
        seconds, predictions = step_seconds(corpus, [model_name], batch, chosen)[model_name]
        params_md += (
            f" Every number is a scalar Value: about **{seconds:.2g} s per step** at batch {batch} "
            f"({predictions:,} predictions)."
        )
    warnings = "".join(f"\n\n⚠️ {w}" for w in viz.training_warnings(n, num_chars))
    return {"corpus": corpus_md, "params": params_md + warnings}


def train_settings(steps, batch_size, lr, seed, start: int = 0) -> dict:
    """The training settings a click on Train asks for, checked; `start` steps were taken before."""
    steps = whole(steps, "steps", 1, settings.MAX_STEPS)
    return dict(
        steps=start + steps,
        batch_size=whole(batch_size, "batch size", 1, 1024),
        lr=real(lr, "learning rate", 1e-6, 10.0),  # plain SGD (the NumPy rungs) wants up to 10
        seed=whole(seed, "seed", 0, 2**31 - 1),
        warmup_steps=min(100, steps // 10),
        eval_interval=max(1, steps // 25),
        eval_tokens=settings.EVAL_TOKENS,
    )


def continued_trainer(ws: Workspace | None, text: str, mode: str, steps, batch_size, lr, seed) -> Trainer:
    """A trainer that goes on from the session's model (through `checkpoint.resume`, as the command
    line's --resume does), on a copy, so a failed run loses nothing."""
    if ws is None:
        raise CharlmError(
            "there is no model in this session to continue; untick 'Continue training' to start a new "
            "one, or load a checkpoint in the Checkpoints tab."
        )
    if ws.model.trained_by_counting:
        raise CharlmError("the count bigram learns by counting, in one go; untick 'Continue training'.")
    model_mode = ws.model.config.mode
    if mode != model_mode:
        raise CharlmError(
            f"this session's model was trained in {model_mode} mode; choose {model_mode} to go on."
        )
    state = ws.trainer_state()
    start = int(state["step"]) if state is not None else 0
    return resume(ws.as_checkpoint(), text, **train_settings(steps, batch_size, lr, seed, start))


def make_trainer(
    ws, text, mode, model_name, continue_training, steps, batch_size, lr, seed, values: dict, plan=None
):
    """What a click on Train asks for: a trainer, the loss history it extends, and its origin in words.
    `plan` (from budget.plan_run) adds the time budget, keep-best and what auto chose for evaluation."""
    text, plan = check_text(text), dict(plan or {})
    if "steps" in plan:  # until stopped: as many steps as the place allows
        steps = plan.pop("steps")
    if continue_training:
        trainer = continued_trainer(ws, text, mode, steps, batch_size, lr, seed)
        chosen, kept = plan.get("optimizer", trainer.config.optimizer), trainer.config.optimizer
        if chosen != kept:
            shown = {value: label for label, value in OPTIMIZER_CHOICES}
            raise CharlmError(
                f"this session's model was trained with {shown[kept]}, and continuing goes on with its "
                f"optimizer's state; choose {shown[kept]}, or untick 'Continue training this session's "
                f"model' to start a new one with {shown[chosen]}."
            )
        for key in ("time_budget", "keep_best", "target_loss"):
            setattr(trainer.config, key, plan.get(key, getattr(trainer.config, key)))
        return trainer, list(ws.history), f"continued here from {ws.source}"
    chosen = model_settings_from(model_name, values)
    config = TrainConfig(**{**train_settings(steps, batch_size, lr, seed), **plan})
    return new_trainer(text, mode, model_name, config, **chosen), [], "trained here"


@shows_errors
def train(
    ws: Workspace | None,
    text: str,
    mode: str,
    model_name: str,
    continue_training: bool,
    steps: float,
    batch_size: float,
    lr: float,
    seed: float,
    *values: float,
    request: gr.Request | None = None,
):
    """Train a model on the text, streaming progress, the loss chart and samples as it learns.

    `values` are the model settings' sliders, in the order of SLIDERS, then (from the page, not the
    API) the plan of `budget.plan_run`. The session's model is replaced once the new one has taken a
    step; if training fails, the previous model is kept. Stopping (or closing the page) keeps the model
    as trained so far (or its best weights, with keep-best).
    """
    plan = values[len(SLIDERS)] if len(values) > len(SLIDERS) else None
    trainer, history, source = make_trainer(
        ws, text, mode, model_name, continue_training, steps, batch_size, lr, seed,
        dict(zip([s.name for s in SLIDERS], values)), plan,
    )  # fmt: skip
    refs = viz.baselines(trainer.corpus)
    new = Workspace(trainer.model, source, trainer=trainer, history=history, refs=refs)
    new.snapshots, new.dynamics = recorders(trainer.model, every=max(1, trainer.config.steps // 200))
    num_params, num_chars = trainer.model.num_params(), len(trainer.corpus.train.tokens)
    samples: list[str] = []
    with TRAINING.run(session_of(request)) as stopping:
        if stopping.is_set():  # Stop was clicked while this training waited in the queue
            yield train_view(
                ws, None, history, refs, samples, [], "stopped before it started; nothing changed"
            )
            return
        starting = viz.training_warnings(num_params, num_chars)
        yield train_view(ws, None, history, refs, samples, starting, "starting…")
        note = yield from train_steps(trainer, new, ws, stopping, samples)
    yield final_view(trainer, new, samples, note)


def final_view(trainer: Trainer, new: Workspace, samples: list[str], note: str) -> dict:
    """The page when a training ends: final losses, what was kept and why, and the warnings, with a
    button that continues training when the model is still above the count bigram."""
    trainer.restore_best()  # with keep-best, also when stopped by hand
    new.metrics = m = trainer.metrics()
    history, refs = new.history, new.refs
    if trainer.model.trained_by_counting:
        note = f"counted every pair of the training text in one pass: validation loss {m['val_loss']:.3f}"
    else:
        note = note or ending(trainer)
        if m.get("kept") == "best" and m["best_step"] != m["steps"]:
            note += f"; kept the best weights, from step {m['best_step']:,} (val {m['best_val_loss']:.3f})"
    kept = m["best_step"] if m.get("kept") == "best" else None
    warnings = viz.training_warnings(m["num_params"], len(trainer.corpus.train.tokens), history, kept)
    behind = "" if trainer.model.trained_by_counting else viz.bigram_warning(m["val_loss"], 0.0, refs)
    losses = {"train": m["train_loss"], "validation": m["val_loss"]}
    final = train_view(new, trainer.last, history, refs, samples, warnings + [behind] * bool(behind), note)
    return {**final, "metrics": viz.metrics_markdown(losses, refs)}


def ending(trainer: Trainer) -> str:
    """Why a training that ran on its own ended, in words: its steps, or what stopped it early."""
    c = trainer.config
    return {
        "time budget": f"stopped at step {trainer.step:,}: the time was up",
        "patience": f"stopped early at step {trainer.step:,}: no new best in {c.patience} evaluations",
        "target loss": f"stopped at step {trainer.step:,}: the validation loss reached the target {c.target_loss:g}",
    }.get(trainer.stopped_by, "done")


def train_steps(trainer: Trainer, new: Workspace, old: Workspace | None, stopping, samples: list[str]):
    """The training loop of `train`: yields the page's updates at most every UPDATE_SECONDS and returns
    why it stopped early ("" when it ran to the end). A diverged run shows the previous model again."""
    history, refs = new.history, new.refs
    num_params, num_chars = trainer.model.num_params(), len(trainer.corpus.train.tokens)
    deadline = time.monotonic() + settings.MAX_TRAIN_SECONDS
    last_update = 0.0
    try:
        for event in trainer.run():
            history.append(event)
            for record in (new.snapshots, new.dynamics):
                if record is not None:
                    record(event)
            if event.val_loss is not None:
                samples.insert(0, f"step {event.step:>5}: {live_sample(trainer.model, trainer.corpus.text)}")
                del samples[12:]
            note = stop_reason(stopping, deadline, "stopped: the model is kept as trained so far")
            if note:
                return note
            now = time.monotonic()
            if event.done or now - last_update >= settings.UPDATE_SECONDS:
                last_update = now
                warnings = viz.training_warnings(num_params, num_chars, history)
                yield train_view(
                    new, event, history, refs, samples, warnings, ending(trainer) if event.done else ""
                )
    except CharlmError:  # diverged: the session keeps its previous model
        yield train_view(old, trainer.last, history, refs, samples, [], "failed: the previous model is kept")
        raise
    finally:
        if new.dynamics is not None:
            new.dynamics.close()  # no hooks left on the model when training stops early
    return ""


def continued_optimizer(ws: Workspace | None, continuing: bool):
    """Ticking "Continue training" sets the optimizer to the one the session's model was trained with,
    since continuing goes on with that optimizer's state."""
    config = ws.train_config if ws is not None and continuing else None
    return config.optimizer if config is not None else gr.skip()


def arm_stop(request: gr.Request) -> None:
    """Runs as Train is clicked, before the training leaves the queue: a fresh stop switch."""
    TRAINING.arm(request.session_hash)


def stop(request: gr.Request | None = None):
    """Stop this session's training (running, or still waiting in the queue). The training ends at the
    next step and reports where it stopped; the model stays as trained so far. With nothing to stop,
    the progress bar says so (Stop runs outside the queue, where a pop-up cannot reach the page)."""
    if TRAINING.stop(session_of(request)):
        return gr.skip()  # the training writes the progress bar itself as it ends
    return viz.progress_html(None, "Nothing is training in this session, so there is nothing to stop.")


# ---------------------------------------------------------------------------------------------------
# Layout: the text, model and results panels are in train_panels


def layout(example_name: str) -> Tab:
    t = Tab()
    example_text, example_mode = load_example(example_name)
    defaults = [s.default for s in MODELS[DEFAULT_MODEL].settings()]
    names = [s.name for s in MODELS[DEFAULT_MODEL].settings()]
    values = [dict(zip(names, defaults)).get(s.name, s.default) for s in SLIDERS]
    described = describe(example_text, example_mode, DEFAULT_MODEL, *values)
    refs = viz.baselines(Corpus.from_text(example_text, example_mode))  # lines to beat, before training
    with gr.Row():
        with gr.Column(scale=3):
            text_panel(t, example_name, example_text, example_mode, described)
        with gr.Column(scale=2):
            model_panel(t)
    results_panel(t, refs)
    return t


# ---------------------------------------------------------------------------------------------------
# Wiring


def wire(t: Tab, ws: gr.State, session: gr.Markdown) -> None:
    described = dict(
        fn=describe,
        inputs=[t.text, t.mode, t.model, *t.settings],
        outputs={"corpus": t.corpus, "params": t.params},
        show_progress="hidden",
        trigger_mode="always_last",
        api_visibility="undocumented",
    )
    t.example.input(load_example, t.example, [t.text, t.mode], api_visibility="undocumented")
    t.upload.upload(read_upload, t.upload, t.text, api_name="upload")
    wire_hub_panel(t)
    on(t.text.change, **described)
    on(t.mode.change, **described)
    chosen = {"about": t.about, **{s.name: c for s, c in zip(SLIDERS, t.settings)}}
    chosen.update(steps=t.steps, batch_size=t.batch_size, lr=t.lr, train_settings=t.train_settings)
    chosen.update(optimizer_row=t.optimizer_row, optimizer=t.optimizer, budget_row=t.budget_row)
    on(on(t.model.change, choose_model, t.model, chosen, api_visibility="undocumented").then, **described)
    for widget in t.settings:
        on(settled(widget), **described)
    wire_train(t, ws, session)
    quiet = dict(queue=False, show_progress="hidden", api_visibility="undocumented")
    t.continue_training.change(continued_optimizer, [ws, t.continue_training], t.optimizer, **quiet)
    # the plan may have put auto's sizes into the sliders: the parameter count follows them
    on(t.planned.success, **{k: v for k, v in described.items() if k != "trigger_mode"})
    runs.wire(t, ws, session, t.trained)
    budget.wire_more(t, ws)
    budget.wire_touches(t, {"steps": t.steps, "batch_size": t.batch_size, "lr": t.lr,
                            **{s.name: c for s, c in zip(SLIDERS, t.settings)}})  # fmt: skip
    # Stop flips the session's switch; the training then ends itself and shows where it stopped.
    # (Gradio's `cancels=` would race the training's last update and could leave a stale progress bar.)
    t.stop.click(stop, None, t.progress, api_name="stop", queue=False, show_progress="hidden")


def wire_train(t: Tab, ws: gr.State, session: gr.Markdown) -> None:
    """Train: a fresh stop switch, then the plan (auto settings into the widgets, the time budget and
    keep-best), then the training. `t.trained` is the training's event, for the runs history."""
    widgets = [t.steps, t.batch_size, t.lr, *t.settings]
    planned = {"plan": t.plan, "auto_line": t.auto_line, "steps": t.steps, "batch_size": t.batch_size,
               "lr": t.lr, **{s.name: c for s, c in zip(SLIDERS, t.settings)}}  # fmt: skip
    inputs = [
        ws,
        t.text,
        t.mode,
        t.model,
        t.continue_training,
        t.steps,
        t.batch_size,
        t.lr,
        t.seed,
        *t.settings,
    ]
    outputs = dict(
        ws=ws, session=session, progress=t.progress, loss=t.loss, samples=t.samples, metrics=t.metrics,
        warnings=t.warnings,
    )  # fmt: skip
    plan_inputs = [t.text, t.mode, t.model, t.budget, t.use_auto, t.keep_best, t.continue_training, t.touched,
                   t.optimizer, t.target_loss]  # fmt: skip
    # Enter in a number field trains, as the button does
    starts = [t.start.click, *(w.submit for w in (t.steps, t.batch_size, t.lr, t.seed))]
    armed = gr.on(starts, arm_stop, None, None, queue=False, api_visibility="undocumented")
    planned_event = t.planned = on(
        armed.then, budget.plan_run, [*plan_inputs, *widgets], planned,
        api_visibility="undocumented", show_progress_on=t.progress,
    )  # fmt: skip
    t.trained = on(
        planned_event.success,
        train,
        [*inputs, t.plan],
        outputs,
        values=[*(s.name for s in SLIDERS), "plan"],  # the API page names the sliders
        api_name="train",
        concurrency_limit=settings.TRAIN_CONCURRENCY,  # the rest wait in the queue
        concurrency_id="train",
        show_progress_on=t.progress,  # the queue position and any error show on the progress bar only
    )
