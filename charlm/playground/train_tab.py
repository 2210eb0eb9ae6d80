"""The Train tab: a text, a model and its settings, then a live loss chart, samples as it learns and
the final losses. Handlers first, then the layout, then the wiring."""

import time
from pathlib import Path

import gradio as gr

from charlm import viz
from charlm.checkpoint import resume
from charlm.data import MODES, Corpus, read_text
from charlm.errors import CharlmError
from charlm.models import DEFAULT_MODEL, MODELS, CharLM, Setting, build_model, model_config
from charlm.playground import settings
from charlm.playground.common import (
    Tab,
    check_text,
    inline_error,
    on,
    real,
    setting_widget,
    settled,
    shows_errors,
    whole,
)
from charlm.playground.corpus_panel import hub_panel, wire_hub_panel
from charlm.playground.session import (
    TRAINING,
    Workspace,
    describe_workspace,
    recorders,
    session_of,
    stop_reason,
)
from charlm.sampling import sample
from charlm.train import Progress, TrainConfig, Trainer, new_trainer

LADDER = list(MODELS)  # the Train tab's models, in the ladder's order




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
        updates[s.name] = (
            gr.update(visible=True, value=mine.default, info=mine.explanation)
            if mine
            else gr.update(visible=False)
        )
    updates.update(steps=cls.default_steps, batch_size=32, lr=cls.default_lr)
    updates["train_settings"] = gr.update(visible=not cls.trained_by_counting)
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


def make_trainer(ws, text, mode, model_name, continue_training, steps, batch_size, lr, seed, values: dict):
    """What a click on Train asks for: a trainer, the loss history it extends, and its origin in words."""
    text = check_text(text)
    if continue_training:
        trainer = continued_trainer(ws, text, mode, steps, batch_size, lr, seed)
        return trainer, list(ws.history), f"continued here from {ws.source}"
    chosen = model_settings_from(model_name, values)
    config = TrainConfig(**train_settings(steps, batch_size, lr, seed))
    return new_trainer(text, mode, model_name, config, **chosen), [], "trained here"


def live_sample(model: CharLM) -> str:
    """A short, fixed-seed sample: watching the same seed shows what learning changes."""
    if model.config.mode == "lines":
        return ", ".join(s or "(empty)" for s in sample(model, num_samples=4, seed=0, length=30))
    return sample(model, seed=0, length=90)[0].replace("\n", " ⏎ ")


def train_view(ws, event: Progress | None, history, refs, log_lines, warnings, note="") -> dict:
    """The Train tab's outputs for one moment of training."""
    return {
        "ws": ws,
        "session": describe_workspace(ws),
        "progress": viz.progress_html(event, note),
        "loss": viz.loss_figure(history, refs),
        "samples": "\n".join(log_lines),
        "warnings": "\n\n".join(f"⚠️ {w}" for w in warnings),
    }


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

    `values` are the model settings' sliders, in the order of SLIDERS. The session's model is replaced
    once the new one has taken a step; if training fails, the previous model is kept. Stopping (or
    closing the page) keeps the model as trained so far.
    """
    trainer, history, source = make_trainer(
        ws, text, mode, model_name, continue_training, steps, batch_size, lr, seed,
        dict(zip([s.name for s in SLIDERS], values)),
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
    new.metrics = trainer.metrics()
    losses = {"train": new.metrics["train_loss"], "validation": new.metrics["val_loss"]}
    warnings = viz.training_warnings(num_params, num_chars, history)
    final = train_view(new, trainer.last, history, refs, samples, warnings, note)
    yield {**final, "metrics": viz.metrics_markdown(losses, refs)}


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
                samples.insert(0, f"step {event.step:>5}: {live_sample(trainer.model)}")
                del samples[12:]
            note = stop_reason(stopping, deadline, "stopped: the model is kept as trained so far")
            if note:
                return note
            now = time.monotonic()
            if event.done or now - last_update >= settings.UPDATE_SECONDS:
                last_update = now
                warnings = viz.training_warnings(num_params, num_chars, history)
                yield train_view(new, event, history, refs, samples, warnings)
    except CharlmError:  # diverged: the session keeps its previous model
        yield train_view(old, trainer.last, history, refs, samples, [], "failed: the previous model is kept")
        raise
    finally:
        if new.dynamics is not None:
            new.dynamics.close()  # no hooks left on the model when training stops early
    return ""


def arm_stop(request: gr.Request) -> None:
    """Runs as Train is clicked, before the training leaves the queue: a fresh stop switch."""
    TRAINING.arm(request.session_hash)


def stop(request: gr.Request | None = None) -> None:
    """Stop this session's training (running, or still waiting in the queue). The training ends at the
    next step and reports where it stopped; the model stays as trained so far."""
    TRAINING.stop(session_of(request))


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
    on(on(t.model.change, choose_model, t.model, chosen, api_visibility="undocumented").then, **described)
    for widget in t.settings:
        on(settled(widget), **described)
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
    on(
        t.start.click(arm_stop, None, None, queue=False, api_visibility="undocumented").then,
        train,
        inputs,
        outputs,
        api_name="train",
        concurrency_limit=settings.TRAIN_CONCURRENCY,  # the rest wait in the queue
        concurrency_id="train",
        show_progress_on=t.progress,  # the queue position and any error show on the progress bar only
    )
    # Stop flips the session's switch; the training then ends itself and shows where it stopped.
    # (Gradio's `cancels=` would race the training's last update and could leave a stale progress bar.)
    t.stop.click(stop, None, None, api_name="stop", queue=False)
