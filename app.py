"""The charlm playground: train a character-level model on pasted text, look at its bigram table,
sample with temperature and see why, save and load. Layout and wiring only: every number and figure
comes from the charlm package. `python app.py` serves it on 127.0.0.1:7860."""

import contextlib
import copy
import functools
import html
import inspect
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr
import torch

from charlm import viz
from charlm.checkpoint import (
    Checkpoint,
    checkpoint_path,
    delete_checkpoint,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
)
from charlm.compare import PAIRS, blas_threads, lockstep, set_blas_threads, side_by_side
from charlm.data import BOUNDARY, MAX_TEXT_BYTES, MODES, Corpus, read_text
from charlm.errors import CharlmError
from charlm.hub import pull, push
from charlm.models import MODELS, CharLM, build_model, model_config
from charlm.models.numpy_models import gradient_check
from charlm.sampling import Token, check_sampling, sample, stream
from charlm.train import Progress, TrainConfig, Trainer, new_trainer

log = logging.getLogger("charlm.app")

# ---------------------------------------------------------------------------------------------------
# Settings read from the environment, in one place: a hosted copy (say a Space) lowers the caps here.

ROOT = Path(__file__).resolve().parent
ON_SPACE = bool(os.environ.get("SPACE_ID"))  # Hugging Face sets SPACE_ID on a Space: a shared 2-CPU box
CHECKPOINTS = Path(os.environ.get("CHARLM_CHECKPOINTS", ROOT / "checkpoints"))
# Caps: on a Space they keep one user from holding the shared CPUs; locally only the package's own limits.
MAX_CHARS = int(os.environ.get("CHARLM_MAX_CHARS", 300_000 if ON_SPACE else MAX_TEXT_BYTES))
MAX_STEPS = int(os.environ.get("CHARLM_MAX_STEPS", 3_000 if ON_SPACE else 1_000_000))
MAX_TRAIN_SECONDS = float(os.environ.get("CHARLM_MAX_TRAIN_SECONDS", 180 if ON_SPACE else 24 * 3600))
TRAIN_CONCURRENCY = int(os.environ.get("CHARLM_TRAIN_CONCURRENCY", 2))  # trainings at once, all users
UPDATE_SECONDS = 0.25  # the page is updated at most this often while training or sampling
EVAL_TOKENS = 8192  # predictions per evaluation during training (the final metrics use the whole split)

EXAMPLES = {  # name -> (file, mode); texts the project wrote itself, so they are free to ship
    "Invented names (one per line)": (ROOT / "examples" / "names.txt", "lines"),
    "Short verses": (ROOT / "examples" / "verses.txt", "text"),
}
SESSION = "This session's model"

MODEL_INFO = {
    "bigram": (
        "Count bigram",
        "Counts how often each character follows each other character and predicts from those counts. "
        "Nothing to train step by step: counting is instant. The baseline every other model must beat.",
    ),
    "neural-bigram": (
        "Neural bigram",
        "The same table of *which character follows which*, but as logits learned by gradient descent "
        "instead of counted. It ends up close to the count bigram: compare them in the Bigram table tab.",
    ),
    "mlp": (
        "MLP",
        "Bengio et al. (2003), as in makemore: looks at the last few characters, turns each into a vector "
        "(its embedding) and passes them through a hidden layer.",
    ),
    "rnn": (
        "RNN",
        "Reads one character at a time and carries a hidden state that sums up everything so far.",
    ),
    "gru": ("GRU", "An RNN with gates that decide what to keep and what to forget; remembers longer."),
    "lstm": (
        "LSTM",
        "An RNN with a separate memory cell and gates: the classic character-level model (char-rnn).",
    ),
    "transformer": (
        "Transformer",
        "A small GPT: every character looks back at the earlier characters of its context through "
        "self-attention. The architecture behind today's large language models.",
    ),
    "numpy-bigram": (
        "NumPy bigram",
        "The neural bigram written from scratch in NumPy: forward pass, loss, backward pass and plain SGD "
        "update by hand, no autograd. SGD needs a far larger learning rate than AdamW. See *From scratch*.",
    ),
    "numpy-mlp": (
        "NumPy MLP",
        "The MLP written from scratch in NumPy, its gradients worked out by hand and applied by plain SGD. "
        "Check them, and race it against PyTorch's MLP, in the *From scratch* tab.",
    ),
}
SETTINGS = {  # setting -> (label, explanation, minimum, maximum, step)
    "block_size": ("Context length", "How many previous characters the model reads.", 1, 256, 1),
    "n_embd": ("Embedding size", "Length of the vector that stands for each character.", 8, 512, 8),
    "n_hidden": ("Hidden size", "Width of the hidden layer, or size of the recurrent state.", 8, 1024, 8),
    "n_layer": ("Layers", "How many layers are stacked: more capacity, slower.", 1, 8, 1),
    "n_head": ("Attention heads", "Attention patterns per layer; must divide the embedding size.", 1, 16, 1),
    "dropout": ("Dropout", "Share of activations zeroed while training; fights overfitting.", 0, 0.9, 0.05),
    "smoothing": ("Smoothing", "Count added to every pair, so unseen pairs keep a chance.", 0, 10, 0.1),
}
# What each model shows, with defaults sized to train in well under a minute on a laptop CPU.
DEFAULTS: dict[str, dict[str, float]] = {
    "bigram": {"smoothing": 1.0},
    "neural-bigram": {},
    "mlp": {"block_size": 4, "n_embd": 16, "n_hidden": 128, "n_layer": 1, "dropout": 0.0},
    "rnn": {"block_size": 32, "n_embd": 32, "n_hidden": 128, "n_layer": 1, "dropout": 0.1},
    "gru": {"block_size": 32, "n_embd": 32, "n_hidden": 128, "n_layer": 1, "dropout": 0.1},
    "lstm": {"block_size": 32, "n_embd": 32, "n_hidden": 128, "n_layer": 1, "dropout": 0.1},
    "transformer": {"block_size": 32, "n_embd": 32, "n_layer": 2, "n_head": 4, "dropout": 0.1},
    "numpy-bigram": {},
    "numpy-mlp": {"block_size": 4, "n_embd": 16, "n_hidden": 128},
}
TRAIN_DEFAULTS = {  # model -> (steps, batch_size, lr)
    "bigram": (1, 32, 1e-3),
    "neural-bigram": (500, 32, 0.1),
    "mlp": (1000, 32, 3e-3),
    "rnn": (800, 32, 3e-3),
    "gru": (800, 32, 3e-3),
    "lstm": (800, 32, 3e-3),
    "transformer": (1000, 32, 1e-3),
    "numpy-bigram": (500, 32, MODELS["numpy-bigram"].default_lr),  # plain SGD: a far larger step
    "numpy-mlp": (1000, 32, MODELS["numpy-mlp"].default_lr),
}
DEFAULT_MODEL = "transformer"
LADDER = list(DEFAULTS)  # the Train tab's models, the NumPy rungs included
LEARNED_BIGRAMS = ("neural-bigram", "numpy-bigram")  # tables learned by gradient descent
assert set(LADDER) == set(TRAIN_DEFAULTS) == set(MODEL_INFO) and set(LADDER) <= set(MODELS)


# ---------------------------------------------------------------------------------------------------
# Errors: a CharlmError becomes a message in the page; anything else is logged here and summarised there.


def page_error(e: Exception, where: str) -> gr.Error:
    if isinstance(e, gr.Error):
        return e
    if isinstance(e, CharlmError):  # messages may quote the user's characters: escape them
        return gr.Error(html.escape(str(e), quote=False), duration=20, print_exception=False)
    log.exception("unexpected error in %s", where)
    return gr.Error(
        f"Something unexpected went wrong ({type(e).__name__}); it was logged on the server. "
        "Your text, model and checkpoints are unchanged.",
        duration=20,
        print_exception=False,
    )


def shows_errors(fn):
    """Wrap a handler (plain or generator) so that no traceback ever reaches the page."""
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def generator(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except Exception as e:
                raise page_error(e, fn.__name__) from None

        return generator

    @functools.wraps(fn)
    def plain(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as e:
            raise page_error(e, fn.__name__) from None

    return plain


def whole(value, name: str, low: int, high: int) -> int:
    """A whole-number setting from a widget or the API, checked against the playground's range."""
    if value is None or value == "":
        raise CharlmError(f"{name} is empty; give a whole number from {low} to {high}.")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise CharlmError(f"{name} must be a whole number from {low} to {high}, not {value!r}.") from None
    if not low <= number <= high or number != int(number):  # NaN and infinity fail the range
        raise CharlmError(f"{name} must be a whole number from {low} to {high}, not {value!r}.")
    return int(number)


def real(value, name: str, low: float, high: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise CharlmError(f"{name} must be a number from {low:g} to {high:g}, not {value!r}.") from None
    if not low <= number <= high:  # NaN fails this too
        raise CharlmError(f"{name} must be a number from {low:g} to {high:g}, not {value!r}.")
    return number


def check_text(text: str | None) -> str:
    text = text or ""
    if len(text) > MAX_CHARS:
        raise CharlmError(
            f"the text has {len(text):,} characters; the playground trains on up to {MAX_CHARS:,}. "
            "Use a part of it, or train on the whole with `python -m charlm train`."
        )
    return text


# ---------------------------------------------------------------------------------------------------
# The session: what one browser tab has trained or loaded. It lives in a gr.State, so two people on
# one server never see each other's models.


@dataclass
class Workspace:
    model: CharLM
    source: str  # how the model came to be, in words
    trainer: Trainer | None = None  # when trained here: its corpus, settings and optimizer
    checkpoint: Checkpoint | None = None  # when loaded: its settings and trainer state
    history: list[Progress] = field(default_factory=list)
    refs: dict[str, float] = field(default_factory=dict)  # reference losses for the chart
    metrics: dict = field(default_factory=dict)

    @property
    def text(self) -> str | None:
        """The text the model was trained on here (None for a loaded checkpoint)."""
        return self.trainer.corpus.text if self.trainer else None

    @property
    def train_config(self) -> TrainConfig | None:
        """The training settings: this session's trainer's, or the loaded checkpoint's."""
        if self.trainer is not None:
            return self.trainer.config
        return self.checkpoint.train_config if self.checkpoint else None

    def trainer_state(self) -> dict[str, torch.Tensor] | None:
        """A copy of what a continued run needs: the step, optimizer moments and random generators."""
        if self.trainer is not None:
            state = self.trainer.state_dict()
        elif self.checkpoint is not None:
            state = self.checkpoint.trainer_state
        else:
            state = None
        return None if state is None else {k: v.clone() for k, v in state.items()}


def describe_workspace(ws: Workspace | None) -> str:
    if ws is None:
        return "**This session has no model yet.** Train one in the *Train* tab, or load a checkpoint."
    c = ws.model.config
    val = ws.metrics.get("val_loss")
    loss = f", validation loss {val:.3f} nats" if isinstance(val, (int, float)) else ""
    steps = ws.trainer.step if ws.trainer else ws.metrics.get("steps")
    trained = f", {steps:,} steps" if isinstance(steps, int) and not ws.model.trained_by_counting else ""
    name = f"{MODEL_INFO[c.model_type][0]} ({c.model_type})" if c.model_type in MODEL_INFO else c.model_type
    return (
        f"**This session's model:** {name}, "
        f"{ws.model.num_params():,} parameters, vocabulary {c.vocab_size}, {c.mode} mode{trained}{loss}; "
        f"{ws.source}."
    )


# ---------------------------------------------------------------------------------------------------
# Train tab


def load_example(name: str) -> tuple[str, str]:
    if name not in EXAMPLES:
        raise CharlmError(f"unknown example {name!r}; choose one of: {', '.join(EXAMPLES)}.")
    path, mode = EXAMPLES[name]
    return read_text(path), mode


@shows_errors
def read_upload(path: str | None) -> str:
    """The text of an uploaded file; binary, non-UTF-8 or oversized files are refused with a reason."""
    if not path:
        raise CharlmError("no file was uploaded.")
    text = read_text(path, max_bytes=MAX_CHARS)
    gr.Info(f"Loaded {Path(path).name}: {len(text):,} characters.")
    return text


def model_settings_from(name: str, values: dict) -> dict:
    """The settings model `name` shows, checked against the playground's ranges."""
    if name not in LADDER:
        raise CharlmError(f"unknown model {name!r}; choose one of: {', '.join(LADDER)}.")
    settings = {}
    for key in DEFAULTS[name]:
        label, _, low, high, _ = SETTINGS[key]
        check = real if key in ("dropout", "smoothing") else whole
        settings[key] = check(values.get(key), f"{label} ({key})", low, high)
    return settings


def choose_model(name: str):
    """Show the settings model `name` uses, at its defaults, with its training defaults."""
    if name not in LADDER:
        name = DEFAULT_MODEL
    updates = [gr.update(value=f"**{MODEL_INFO[name][0]}.** {MODEL_INFO[name][1]}")]
    config = model_config(name)
    for key in SETTINGS:
        shown = key in DEFAULTS[name]
        value = DEFAULTS[name].get(key, getattr(config, key, None))
        updates.append(gr.update(visible=shown, value=value) if shown else gr.update(visible=False))
    steps, batch_size, lr = TRAIN_DEFAULTS[name]
    counting = MODELS[name].trained_by_counting
    updates += [gr.update(value=steps), gr.update(value=batch_size), gr.update(value=lr)]
    updates.append(gr.update(visible=not counting))
    return updates


def describe(text: str, mode: str, model_name: str, *values) -> tuple[str, str]:
    """The corpus summary and the model's parameter count, shown before training. Problems are shown
    inline (this runs as the user types), not as pop-ups."""
    try:
        corpus = Corpus.from_text(check_text(text), mode)
        corpus_md = viz.corpus_summary(corpus)
    except CharlmError as e:
        return f"⚠️ {html.escape(str(e), quote=False)}", ""
    try:
        settings = model_settings_from(model_name, dict(zip(SETTINGS, values)))
        model = build_model(model_config(model_name, chars=corpus.vocab.chars, mode=mode, **settings))
    except CharlmError as e:
        return corpus_md, f"⚠️ {html.escape(str(e), quote=False)}"
    n, num_chars = model.num_params(), len(corpus.train.tokens)
    params_md = f"**{n:,} parameters** to learn from {num_chars:,} training characters."
    return corpus_md, params_md + "".join(f"\n\n⚠️ {w}" for w in viz.training_warnings(n, num_chars))


def train_config(steps, batch_size, lr, seed, start: int = 0) -> TrainConfig:
    steps = whole(steps, "steps", 1, MAX_STEPS)
    return TrainConfig(
        steps=start + steps,
        batch_size=whole(batch_size, "batch size", 1, 1024),
        lr=real(lr, "learning rate", 1e-6, 10.0),  # plain SGD (the NumPy rungs) wants up to 10
        seed=whole(seed, "seed", 0, 2**31 - 1),
        warmup_steps=min(100, steps // 10),
        eval_interval=max(1, steps // 25),
        eval_tokens=EVAL_TOKENS,
    )


def continued_trainer(ws: Workspace | None, text: str, mode: str, steps, batch_size, lr, seed) -> Trainer:
    """A trainer that goes on from the session's model, on a copy, so a failed run loses nothing."""
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
    config = train_config(steps, batch_size, lr, seed, start)
    if ws.train_config is not None:  # a model made as an average of its weights goes on averaging
        config.ema_decay = ws.train_config.ema_decay
    corpus = Corpus.from_text(text, mode, seed=config.seed, vocab=ws.model.config.vocab)
    trainer = Trainer(copy.deepcopy(ws.model), corpus, config)
    if state is not None:
        trainer.load_state_dict(state)
    return trainer


class Trainings:
    """The trainings running now, over all sessions, each with a stop switch that the training loop
    checks between steps. Clicking Train arms a fresh switch for the session before the training
    leaves the queue, so Stop also stops a training still waiting there; a closed page flips it too."""

    def __init__(self) -> None:
        self.stops: dict[object, threading.Event] = {}  # by session: armed, or held by a running training
        self.running: set[object] = set()
        self.lock = threading.Lock()

    @property
    def count(self) -> int:
        return len(self.running)

    def arm(self, session: str) -> None:
        with self.lock:
            if session not in self.running:
                self.stops[session] = threading.Event()

    @contextlib.contextmanager
    def run(self, session: str | None):
        key = session or object()  # handlers called directly have no session
        with self.lock:
            stop = self.stops.get(key)
            if stop is None or key in self.running:
                stop = self.stops[key] = threading.Event()
            self.running.add(key)
        try:
            yield stop
        finally:  # also when Gradio closes the generator because the page went away
            with self.lock:
                self.running.discard(key)
                if self.stops.get(key) is stop:
                    del self.stops[key]

    def stop(self, session: str | None) -> None:
        with self.lock:
            stop = self.stops.get(session)
        if stop is not None:
            stop.set()


TRAINING = Trainings()


def stop_reason(stopping: threading.Event, deadline: float, stopped: str) -> str:
    """Why a running training should end now, or "" to go on: its Stop switch (`stopped` says so) or
    the playground's time limit."""
    if stopping.is_set():
        return stopped
    if time.monotonic() > deadline:
        return f"stopped at the playground's limit of {viz.duration(MAX_TRAIN_SECONDS)}"
    return ""


def live_sample(model: CharLM) -> str:
    """A short, fixed-seed sample: watching the same seed shows what learning changes."""
    if model.config.mode == "lines":
        return ", ".join(s or "(empty)" for s in sample(model, num_samples=4, seed=0, length=30))
    return sample(model, seed=0, length=90)[0].replace("\n", " ⏎ ")


def train_view(ws, event: Progress | None, history, refs, log_lines, warnings, note="", metrics_md=None):
    """The Train tab's outputs for one moment of training."""
    return (
        ws,
        describe_workspace(ws),
        viz.progress_html(event, note),
        viz.loss_figure(history, refs),
        "\n".join(log_lines),
        gr.skip() if metrics_md is None else metrics_md,
        "\n\n".join(f"⚠️ {w}" for w in warnings),
    )


def make_trainer(ws, text, mode, model_name, continue_training, steps, batch_size, lr, seed, values: dict):
    """What a click on Train asks for: a trainer, the loss history it extends, and its origin in words."""
    text = check_text(text)
    if continue_training:
        trainer = continued_trainer(ws, text, mode, steps, batch_size, lr, seed)
        return trainer, list(ws.history), f"continued here from {ws.source}"
    settings = model_settings_from(model_name, values)
    trainer = new_trainer(text, mode, model_name, train_config(steps, batch_size, lr, seed), **settings)
    return trainer, [], "trained here"


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
    block_size: float,
    n_embd: float,
    n_hidden: float,
    n_layer: float,
    n_head: float,
    dropout: float,
    smoothing: float,
    request: gr.Request | None = None,
):
    """Train a model on the text, streaming progress, the loss chart and samples as it learns.

    The session's model is replaced once the new one has taken a step; if training fails, the
    previous model is kept. Stopping (or closing the page) keeps the model as trained so far.
    """
    values = dict(zip(SETTINGS, (block_size, n_embd, n_hidden, n_layer, n_head, dropout, smoothing)))
    trainer, history, source = make_trainer(
        ws, text, mode, model_name, continue_training, steps, batch_size, lr, seed, values
    )
    refs = viz.baselines(trainer.corpus)
    new = Workspace(trainer.model, source, trainer=trainer, history=history, refs=refs)
    num_params, num_chars = trainer.model.num_params(), len(trainer.corpus.train.tokens)
    samples: list[str] = []
    last_update, note = 0.0, ""
    with TRAINING.run(request.session_hash if request else None) as stopping:
        if stopping.is_set():  # Stop was clicked while this training waited in the queue
            yield train_view(
                ws, None, history, refs, samples, [], "stopped before it started; nothing changed"
            )
            return
        yield train_view(
            ws, None, history, refs, samples, viz.training_warnings(num_params, num_chars), "starting…"
        )
        deadline = time.monotonic() + MAX_TRAIN_SECONDS
        try:
            for event in trainer.run():
                history.append(event)
                if event.val_loss is not None:
                    samples.insert(0, f"step {event.step:>5}: {live_sample(trainer.model)}")
                    del samples[12:]
                note = stop_reason(stopping, deadline, "stopped: the model is kept as trained so far")
                if note:
                    break
                now = time.monotonic()
                if event.done or now - last_update >= UPDATE_SECONDS:
                    last_update = now
                    warnings = viz.training_warnings(num_params, num_chars, history)
                    yield train_view(new, event, history, refs, samples, warnings)
        except CharlmError:  # diverged: the session keeps its previous model
            yield train_view(
                ws, trainer.last, history, refs, samples, [], "failed: the previous model is kept"
            )
            raise
    new.metrics = trainer.metrics()
    losses = {"train": new.metrics["train_loss"], "validation": new.metrics["val_loss"]}
    warnings = viz.training_warnings(num_params, num_chars, history)
    yield train_view(
        new, trainer.last, history, refs, samples, warnings, note, viz.metrics_markdown(losses, refs)
    )


def arm_stop(request: gr.Request) -> None:
    """Runs as Train is clicked, before the training leaves the queue: a fresh stop switch."""
    TRAINING.arm(request.session_hash)


def stop(request: gr.Request | None = None) -> None:
    """Stop this session's training (running, or still waiting in the queue). The training ends at the
    next step and reports where it stopped; the model stays as trained so far."""
    TRAINING.stop(request.session_hash if request else None)


def end_session(request: gr.Request) -> None:
    """The page was closed or reloaded: stop its training (its models go with the session)."""
    TRAINING.stop(request.session_hash)
    COMPARING.stop(request.session_hash)


# ---------------------------------------------------------------------------------------------------
# Bigram table tab


def char_index(names: list[str], char: str | None, counts) -> int:
    """The token a character label names, or the most frequent one when it names none."""
    return names.index(char) if char in names else int(counts.sum(1).argmax())


@shows_errors
def bigram_view(text: str, mode: str, show: str, top_n: float, char: str | None):
    """The heatmap of the text's bigram table and the bar chart of what follows one character."""
    vocab, counts = viz.text_bigram(check_text(text), mode)
    table = viz.bigram_table(vocab, counts, whole(top_n, "characters shown", 2, 500))
    names = viz.labels(vocab)
    current = char_index(names, char, counts)
    followers = viz.follower_bars(vocab, counts, current)
    return viz.bigram_heatmap(table, show), gr.update(choices=names, value=names[current]), followers


@shows_errors
def comparison_view(ws: Workspace | None, top_n: float, char: str | None):
    """For a neural bigram trained here: its learned table beside the counted one, and their gap."""
    if ws is None or ws.trainer is None or ws.model.config.model_type not in LEARNED_BIGRAMS:
        hint = "*Train a **neural bigram** in the Train tab to compare what it learned with the counts.*"
        return hint, gr.update(visible=False), gr.update(visible=False)
    corpus = ws.trainer.corpus
    counts = viz.bigram_model(corpus.train, corpus.vocab).counts
    learned = viz.learned_table(ws.model)
    fig, summary = viz.bigram_comparison(
        corpus.vocab, counts, learned, whole(top_n, "characters shown", 2, 500)
    )
    current = char_index(viz.labels(corpus.vocab), char, counts)
    bars = viz.follower_bars(corpus.vocab, counts, current, learned)
    return summary, gr.update(value=fig, visible=True), gr.update(value=bars, visible=True)


# ---------------------------------------------------------------------------------------------------
# Sample tab


@dataclass
class SampleRun:
    """The last samples of a session: the model they came from and every character with its why."""

    model: CharLM
    prompt: str
    samples: list[list[Token]] = field(default_factory=list)  # in lines mode ending with the end (char "")
    memorised: list[bool] = field(default_factory=list)


def pick_model(ws: Workspace | None, source: str, text: str) -> tuple[CharLM, str]:
    """The model to sample from and the text its samples are checked against for memorisation."""
    if not source or source == SESSION:
        if ws is None:
            raise CharlmError(
                "this session has no model yet: click Train in the Train tab, or load a checkpoint in the "
                "Checkpoints tab."
            )
        return ws.model, ws.text if ws.text is not None else text
    return load_checkpoint(checkpoint_path(CHECKPOINTS, source)).model, text


def samples_view(run: SampleRun, colour: bool, index: int = -1, position: int = -1) -> str:
    parts = [viz.colour_legend()] if colour else []
    for i, tokens in enumerate(run.samples):
        parts.append(
            viz.sample_html(
                run.prompt,
                tokens,
                colour,
                highlight=position if i == index else None,
                memorised=i < len(run.memorised) and run.memorised[i],
                title=f"Sample {i + 1}",
            )
        )
    return "".join(parts)


def plain_samples(run: SampleRun) -> str:
    joiner = "\n" if run.model.config.mode == "lines" else "\n\n"
    return joiner.join(run.prompt + "".join(t.char for t in tokens) for tokens in run.samples)


def sampling_options(temperature, top_k, top_p, length, num_samples, seed) -> dict:
    options = dict(
        temperature=real(temperature, "temperature", 0, 2),
        top_k=whole(top_k, "top-k", 0, 10_000) or None,
        top_p=real(top_p, "top-p", 0.01, 1),
        length=whole(length, "length", 1, 5000),
        num_samples=whole(num_samples, "number of samples", 1, 20),
        seed=None if seed is None or seed == "" else whole(seed, "seed", 0, 2**31 - 1),
    )
    check_sampling(options["temperature"], options["top_k"], options["top_p"], options["length"])
    return options


@shows_errors
def generate(
    ws: Workspace | None,
    source: str,
    text: str,
    prompt: str,
    temperature: float,
    top_k: float,
    top_p: float,
    length: float,
    num_samples: float,
    seed: float | None,
    colour: bool,
):
    """Sample from the session's model or a checkpoint; samples stream in as they are made."""
    options = sampling_options(temperature, top_k, top_p, length, num_samples, seed)
    model, reference = pick_model(ws, source, text or "")
    prompt = prompt or ""
    model.config.vocab.encode(prompt)  # unknown characters: a clear error before anything streams
    run = SampleRun(model, prompt)
    skip = gr.skip()
    last_update = 0.0
    for i in range(options["num_samples"]):
        tokens: list[Token] = []
        run.samples.append(tokens)
        seed_i = None if options["seed"] is None else options["seed"] + i
        for token in stream(
            model,
            prompt,
            temperature=options["temperature"],
            top_k=options["top_k"],
            top_p=options["top_p"],
            length=options["length"],
            seed=seed_i,
        ):
            tokens.append(token)
            if time.monotonic() - last_update >= UPDATE_SECONDS:
                last_update = time.monotonic()
                yield run, samples_view(run, colour), plain_samples(run), skip, skip, skip, skip
        if model.config.mode == "lines" and len(tokens) < options["length"]:  # the model ended the line
            context = prompt + "".join(t.char for t in tokens)
            tokens.append(
                viz.explain_choice(
                    model, context, BOUNDARY, options["temperature"], options["top_k"], options["top_p"]
                )
            )
        run.memorised.append(
            viz.is_memorised(prompt + "".join(t.char for t in tokens), reference, model.config.mode)
        )
    longest = max(len(t) for t in run.samples)
    _, position, alternatives, figure = inspect_position(
        run, 1, 0, options["temperature"], options["top_k"] or 0, options["top_p"]
    )
    yield (
        run,
        samples_view(run, colour, 0, position),
        plain_samples(run),
        gr.update(maximum=options["num_samples"], value=1),
        gr.update(maximum=max(longest - 1, 1), value=0),  # a slider needs maximum > minimum
        alternatives,
        figure,
    )


def inspect_position(run: SampleRun, sample_number, position, temperature, top_k, top_p):
    """Why the model wrote what it wrote at one position: its alternatives, and the distribution there
    at temperature 1 beside the one at the chosen temperature (after top-k and top-p).
    Returns the sample's index, the position (clamped to the sample), the alternatives and the chart."""
    index = whole(sample_number, "sample", 1, len(run.samples)) - 1
    tokens = run.samples[index]
    if not tokens:
        return index, -1, "<p>This sample is empty.</p>", None
    position = min(whole(position, "position", 0, 1_000_000), len(tokens) - 1)
    context = run.prompt + "".join(t.char for t in tokens[:position])
    figure = viz.distribution_figure(
        run.model,
        context,
        real(temperature, "temperature", 0, 2),
        whole(top_k, "top-k", 0, 10_000) or None,
        real(top_p, "top-p", 0.01, 1),
        chosen=tokens[position].id,
    )
    return index, position, viz.alternatives_html(tokens[position], position), figure


@shows_errors
def explain(run: SampleRun | None, colour: bool, sample_number, position, temperature, top_k, top_p):
    """Redraw the highlighted position, its alternatives and the distribution chart."""
    if run is None:
        return gr.skip(), gr.skip(), gr.skip()
    index, position, alternatives, figure = inspect_position(
        run, sample_number, position, temperature, top_k, top_p
    )
    return samples_view(run, colour, index, position), alternatives, figure


@shows_errors
def resample(run: SampleRun | None, *args):
    """Moving the temperature regenerates the last samples (same seed), so the change is visible."""
    if run is None:
        yield (gr.skip(),) * 7
        return
    yield from generate.__wrapped__(*args)


# ---------------------------------------------------------------------------------------------------
# Checkpoints tab


def checkpoint_names() -> list[str]:
    return [row["name"] for row in list_checkpoints(CHECKPOINTS)]


def checkpoints_view(selected: str | None = None):
    """The table of saved checkpoints, and the two dropdowns that pick one (here and in Sample)."""
    rows = list_checkpoints(CHECKPOINTS)
    names = [r["name"] for r in rows]
    return (
        gr.update(value=viz.checkpoint_rows(rows), label=f"Saved checkpoints (in {CHECKPOINTS})"),
        gr.update(choices=names, value=selected if selected in names else (names[0] if names else None)),
        gr.update(choices=[SESSION, *names]),
    )


@shows_errors
def save(ws: Workspace | None, name: str, overwrite: bool):
    """Save the session's model as checkpoints/NAME (config, safetensors weights, metrics, model card)."""
    path = checkpoint_path(CHECKPOINTS, name)
    if ws is None:
        raise CharlmError("this session has no model to save yet: train one in the Train tab first.")
    if path.exists() and not overwrite:
        raise CharlmError(
            f"a checkpoint named {path.name!r} exists already; choose another name, or tick 'Overwrite'."
        )
    model = ws.model
    if ws.trainer is not None:
        metrics, summary = ws.trainer.metrics(), ws.trainer.corpus.summary()
    else:
        metrics = {k: v for k, v in ws.metrics.items() if k not in ("samples", "saved_at")}
        summary = ws.checkpoint.config.get("corpus", {}) if ws.checkpoint else {}
    examples = sample(model, num_samples=5 if model.config.mode == "lines" else 2, seed=0, length=200)
    save_checkpoint(
        path,
        model,
        metrics=metrics,
        corpus_summary=summary,
        samples=examples,
        # a loaded checkpoint keeps its settings and optimizer state, so it can still be resumed
        train_config=ws.train_config,
        trainer_state=ws.trainer_state(),
    )
    ws.metrics = metrics
    note = f"Saved **{path.name}** ({model.num_params():,} parameters) in `{CHECKPOINTS}`."
    return (note, describe_workspace(ws), *checkpoints_view(path.name))


@shows_errors
def load(ws: Workspace | None, name: str):
    """Make a saved checkpoint the session's model, to sample from or to continue training."""
    if not name:
        raise CharlmError("choose a checkpoint to load first.")
    checkpoint = load_checkpoint(checkpoint_path(CHECKPOINTS, name))
    new = Workspace(
        checkpoint.model, f"loaded from checkpoint {name}", checkpoint=checkpoint, metrics=checkpoint.metrics
    )
    note = (
        f"Loaded **{name}** into this session: sample it in the *Sample* tab, or tick *Continue training* "
        "in the *Train* tab."
    )
    return new, note, describe_workspace(new), gr.update(value=checkpoint.model.config.mode)


def ask_delete(name: str):
    if not name:
        return gr.update(visible=False), "Choose a checkpoint first."
    return gr.update(visible=True), f"Delete **{html.escape(name)}** for good? This cannot be undone."


@shows_errors
def delete(name: str):
    """Delete checkpoints/NAME (only a charlm checkpoint, only inside the checkpoints folder)."""
    if not name:
        raise CharlmError("choose a checkpoint to delete first.")
    delete_checkpoint(CHECKPOINTS, name)
    return (f"Deleted **{name}**.", gr.update(visible=False), *checkpoints_view())


@shows_errors
def share(name: str, repo_id: str, token: str, private: bool) -> str:
    """Push the saved checkpoint NAME to the Hub repo REPO_ID. The token falls back to HF_TOKEN and
    never comes back to the page."""
    if not name:
        raise CharlmError("choose a saved checkpoint to share first (save the session's model above).")
    url = push(checkpoint_path(CHECKPOINTS, name), repo_id, token=token or None, private=bool(private))
    repo = html.escape(repo_id.strip())
    return f"Pushed **{html.escape(name)}** to [{repo}]({html.escape(url)}){' (private)' if private else ''}."


@shows_errors
def pull_into_session(repo_id: str, revision: str, token: str):
    """Download a charlm model from the Hub (or the local cache) and make it the session's model."""
    checkpoint = load_checkpoint(pull(repo_id, revision=revision or None, token=token or None))
    repo = html.escape(repo_id.strip()) + (f" @ {html.escape(revision.strip())}" if revision else "")
    new = Workspace(
        checkpoint.model, f"pulled from the Hub: {repo}", checkpoint=checkpoint, metrics=checkpoint.metrics
    )
    note = f"Loaded **{repo}** from the Hub into this session: sample it in the *Sample* tab."
    return new, note, describe_workspace(new), gr.update(value=checkpoint.model.config.mode), SESSION


# ---------------------------------------------------------------------------------------------------
# From scratch (NumPy) tab: a NumPy rung beside its PyTorch twin, and the gradient check

PAIR_LABELS = {  # the NumPy rung -> how the choice reads; its PyTorch twin is charlm.compare.PAIRS[rung]
    "numpy-bigram": "NumPy bigram (plain SGD) beside the neural bigram (PyTorch, AdamW)",
    "numpy-mlp": "NumPy MLP (plain SGD) beside the MLP (PyTorch, AdamW), same settings",
}
SHARED_MLP = ("block_size", "n_embd", "n_hidden")  # the settings both MLPs have (one tanh layer, no dropout)
GRADIENT_MODELS = ["numpy-bigram", "numpy-mlp", SESSION]
COMPARING = Trainings()  # side-by-side runs, with stop switches of their own


def choose_pair(rung: str):
    """The pair's steps and each model's own learning rate (its Train tab default), and whether the
    MLP settings show."""
    if rung not in PAIRS:
        rung = next(iter(PAIRS))
    twin = PAIRS[rung]
    return (
        gr.update(value=TRAIN_DEFAULTS[twin][0]),
        gr.update(value=TRAIN_DEFAULTS[rung][2], label=f"Learning rate of {rung} (plain SGD)"),
        gr.update(value=TRAIN_DEFAULTS[twin][2], label=f"Learning rate of {twin} (AdamW)"),
        gr.update(visible=rung == "numpy-mlp"),
    )


def pair_settings(rung: str, block_size, n_embd, n_hidden) -> dict:
    """The model settings both models of a pair are built with, checked against the playground's ranges."""
    if rung != "numpy-mlp":
        return {}
    values = dict(zip(SHARED_MLP, (block_size, n_embd, n_hidden)))
    settings = model_settings_from("numpy-mlp", values)
    return {**settings, "n_layer": 1, "dropout": 0.0}  # the PyTorch MLP as the NumPy one is built


@shows_errors
def compare(
    text: str,
    mode: str,
    rung: str,
    steps: float,
    batch_size: float,
    seed: float,
    numpy_lr: float,
    torch_lr: float,
    block_size: float,
    n_embd: float,
    n_hidden: float,
    request: gr.Request | None = None,
):
    """Train a NumPy rung and its PyTorch twin on the Train tab's text, one step of each in turn, with
    the same batches: both curves stream onto one chart, then their losses and speeds. Neither becomes
    the session's model. Both optimise the loss alone (no weight decay), so the bigrams head for the
    count bigram's loss."""
    if rung not in PAIRS:
        raise CharlmError(f"unknown comparison {rung!r}; choose one of: {', '.join(PAIRS)}.")
    twin = PAIRS[rung]
    lrs = {
        rung: real(numpy_lr, f"learning rate of {rung}", 1e-6, 10.0),
        twin: real(torch_lr, f"learning rate of {twin}", 1e-6, 10.0),
    }
    config = train_config(steps, batch_size, 1e-3, seed)  # the Train tab's limits; each model has its lr
    config.weight_decay = 0.0
    settings = pair_settings(rung, block_size, n_embd, n_hidden)
    trainers = side_by_side(check_text(text), mode, lrs, config, **settings)
    refs = viz.baselines(trainers[rung].corpus)
    histories: dict[str, list[Progress]] = {name: [] for name in trainers}
    events: dict[str, Progress] = {}
    last_update, note = 0.0, ""
    with COMPARING.run(request.session_hash if request else None) as stopping:
        if stopping.is_set():  # Stop was clicked while this run waited in the queue
            yield viz.lockstep_progress_html({}, "stopped before it started"), gr.skip(), gr.skip()
            return
        yield viz.lockstep_progress_html({}, "starting…"), viz.comparison_figure(histories, refs), ""
        deadline = time.monotonic() + MAX_TRAIN_SECONDS
        for stepped in lockstep(trainers):
            for name, event in stepped.items():
                histories[name].append(event)
            events.update(stepped)
            note = stop_reason(stopping, deadline, "stopped")
            if note:
                break
            now = time.monotonic()
            if all(e.done for e in events.values()) or now - last_update >= UPDATE_SECONDS:
                last_update = now
                progress = viz.lockstep_progress_html(events)
                yield progress, viz.comparison_figure(histories, refs), gr.skip()
    results = {name: {**trainer.metrics(), "lr": trainer.config.lr} for name, trainer in trainers.items()}
    threads = blas_threads()
    numpy_threads = f"NumPy's BLAS on {threads}" if threads else "NumPy on its own BLAS's threads"
    yield (
        viz.lockstep_progress_html(events, note),
        viz.comparison_figure(histories, refs),
        viz.comparison_markdown(results, refs)
        + f" PyTorch computed on {torch.get_num_threads()} thread(s) and {numpy_threads}.",
    )


def arm_compare(request: gr.Request) -> None:
    """Runs as Compare is clicked, before the run leaves the queue: a fresh stop switch."""
    COMPARING.arm(request.session_hash)


def stop_compare(request: gr.Request | None = None) -> None:
    """Stop this session's comparison; it ends at the next step and shows both models as they are."""
    COMPARING.stop(request.session_hash if request else None)


@shows_errors
def check_gradients(ws: Workspace | None, text: str, mode: str, choice: str, batch_size, seed) -> str:
    """For one batch of the text: each weight's hand-written gradient against autograd's and finite
    differences', as a table. A NumPy rung starts from fresh weights (from the seed); the session's
    model is checked as it is."""
    batch_size, seed = whole(batch_size, "batch size", 1, 256), whole(seed, "seed", 0, 2**31 - 1)
    if choice == SESSION:
        if ws is None:
            raise CharlmError("this session has no model yet: train a NumPy model in the Train tab first.")
        model, text = ws.model, ws.text if ws.text is not None else check_text(text)
        rows = gradient_check(model, text, batch_size=batch_size, seed=seed)
        c = model.config
        what = f"This session's {c.model_type}, as trained ({model.num_params():,} parameters)"
    elif choice in PAIRS:
        settings = DEFAULTS[choice]
        rows = gradient_check(choice, check_text(text), mode, batch_size, seed, **settings)
        shown = ", ".join(f"{k} {v}" for k, v in settings.items())
        what = f"A fresh {choice}" + (f" ({shown})" if shown else "") + f", weights from seed {seed}"
    else:
        raise CharlmError(f"unknown model {choice!r}; choose one of: {', '.join(GRADIENT_MODELS)}.")
    return viz.gradient_check_html(
        rows, f"{what}; one batch of {batch_size} windows of the text, in float64."
    )


# ---------------------------------------------------------------------------------------------------
# Layout: one function per tab, each returning its components; the wiring follows.

INTRO = """# charlm playground
Train a character-level language model on any text, look inside it, and sample from it.
**1.** Paste a text (an example is already there). **2.** Pick a model and click **Train**.
**3.** Watch the loss fall, then open **Sample** and move the temperature."""


class Tab:
    """A namespace for one tab's components."""


def train_tab(example_name: str) -> Tab:
    t = Tab()
    example_text, example_mode = load_example(example_name)
    values = [DEFAULTS[DEFAULT_MODEL].get(key) for key in SETTINGS]
    corpus_md, params_md = describe(example_text, example_mode, DEFAULT_MODEL, *values)
    refs = viz.baselines(Corpus.from_text(example_text, example_mode))  # lines to beat, before training
    with gr.Row():
        with gr.Column(scale=3):
            t.text = gr.Textbox(
                example_text, label="Text to learn from", lines=10, max_lines=10, elem_id="train-text"
            )
            with gr.Row():
                t.example = gr.Dropdown(list(EXAMPLES), value=example_name, label="Example texts", scale=2)
                t.mode = gr.Radio(
                    list(MODES),
                    value=example_mode,
                    label="Mode",
                    info="lines: one item per line (names, words); text: one long stream",
                    scale=2,
                    elem_id="train-mode",
                )
                t.upload = gr.UploadButton("Upload a .txt file", file_types=[".txt"], scale=1, size="md")
            t.corpus = gr.Markdown(corpus_md, elem_id="corpus-summary")
            steps, batch_size, lr = TRAIN_DEFAULTS[DEFAULT_MODEL]
            with gr.Row() as t.train_settings:
                t.steps = gr.Number(
                    steps, label="Steps", precision=0, minimum=1, maximum=MAX_STEPS, elem_id="steps"
                )
                t.batch_size = gr.Number(batch_size, label="Batch size", precision=0, minimum=1, maximum=1024)
                t.lr = gr.Number(lr, label="Learning rate", minimum=0, maximum=10, step=1e-4)
                t.seed = gr.Number(1337, label="Seed", precision=0, minimum=0)
            t.continue_training = gr.Checkbox(
                False, label="Continue training this session's model (instead of starting a new one)"
            )
            t.params = gr.Markdown(params_md, elem_id="param-count")
            with gr.Row():
                t.start = gr.Button("Train", variant="primary", elem_id="train-button")
                t.stop = gr.Button("Stop", variant="stop", elem_id="stop-button")
        with gr.Column(scale=2):
            t.model = gr.Dropdown(
                [(f"{MODEL_INFO[m][0]} ({m})", m) for m in LADDER],
                value=DEFAULT_MODEL,
                label="Model",
                elem_id="train-model",
            )
            t.about = gr.Markdown(f"**{MODEL_INFO[DEFAULT_MODEL][0]}.** {MODEL_INFO[DEFAULT_MODEL][1]}")
            t.settings = []
            with gr.Group():
                for key, value in zip(SETTINGS, values):
                    label, info, low, high, step = SETTINGS[key]
                    t.settings.append(
                        gr.Slider(
                            low,
                            high,
                            value=value if value is not None else low,
                            step=step,
                            label=label,
                            info=info,
                            visible=value is not None,
                            elem_id=f"setting-{key}",
                        )
                    )
    t.progress = gr.HTML(viz.progress_html(None), elem_id="train-progress")
    with gr.Row():
        with gr.Column(scale=3):
            t.loss = gr.Plot(viz.loss_figure([], refs), show_label=False, elem_id="loss-plot")
        with gr.Column(scale=2):
            t.samples = gr.Textbox(
                label="Samples as it learns (the same seed at every evaluation)",
                lines=10,
                max_lines=10,
                interactive=False,
                elem_id="live-samples",
            )
            t.warnings = gr.Markdown(elem_id="train-warnings")
            t.metrics = gr.Markdown(elem_id="train-metrics")
    return t


def bigram_tab() -> Tab:
    t = Tab()
    gr.Markdown(
        "The simplest language model is a table: for each character, how often each other character "
        "comes next. This is that table for the text in the *Train* tab. Rows are the current character, "
        "columns the next; ␣ is a space, ⏎ a newline, and in lines mode • marks where a line starts or ends."
    )
    with gr.Row():
        t.show = gr.Radio(["probabilities", "counts"], value="probabilities", label="Show")
        t.top_n = gr.Slider(
            5, 150, value=40, step=1, label="Characters shown (the most frequent; the rest are 'other')"
        )
    t.heatmap = gr.Plot(label="Bigram table", elem_id="bigram-heatmap")
    with gr.Row():
        t.char = gr.Dropdown(label="What follows this character?", scale=1, elem_id="bigram-char")
        t.followers = gr.Plot(label="Followers", scale=3)
    t.compare_note = gr.Markdown()
    t.compare = gr.Plot(label="Counted and learned", visible=False)
    t.compare_bars = gr.Plot(label="One row, counted and learned", visible=False)
    return t


def sample_tab() -> Tab:
    t = Tab()
    with gr.Row():
        with gr.Column(scale=1):
            t.source = gr.Dropdown(
                [SESSION],
                value=SESSION,
                label="Sample from",
                allow_custom_value=True,  # a checkpoint saved since the page loaded; names are checked
                elem_id="sample-source",
            )
            t.prompt = gr.Textbox(
                label="Prompt (optional)", placeholder="characters to continue", elem_id="sample-prompt"
            )
            t.temperature = gr.Slider(
                0,
                2,
                value=1.0,
                step=0.05,
                label="Temperature",
                elem_id="temperature",
                info="0 always picks the most likely character; 1 samples the model as it is; above 1 is wilder",
            )
            t.top_k = gr.Slider(
                0, 100, value=0, step=1, label="Top-k", info="keep only the k most likely (0: off)"
            )
            t.top_p = gr.Slider(
                0.05,
                1,
                value=1.0,
                step=0.05,
                label="Top-p",
                info="keep the most likely up to this much probability",
            )
            with gr.Row():
                t.length = gr.Number(200, label="Length", precision=0, minimum=1, maximum=5000)
                t.num_samples = gr.Number(3, label="Samples", precision=0, minimum=1, maximum=20)
                t.seed = gr.Number(1337, label="Seed", precision=0, minimum=0)
            t.colour = gr.Checkbox(True, label="Colour each character by how probable the model found it")
            t.generate = gr.Button("Generate", variant="primary", elem_id="generate-button")
            with gr.Accordion("…or a model from the Hugging Face Hub", open=False):
                t.hub_repo = gr.Textbox(
                    label="Hub repo id", placeholder="username/model-name", elem_id="sample-hub-repo"
                )
                with gr.Row():
                    t.hub_revision = gr.Textbox(label="Revision", placeholder="main")
                    t.hub_token = gr.Textbox(label="Token (private repos)", type="password")
                t.hub_load = gr.Button("Load it into this session", elem_id="sample-hub-load")
                t.hub_status = gr.Markdown()
        with gr.Column(scale=2):
            t.samples = gr.HTML("<p>Samples appear here.</p>", elem_id="samples")
            with gr.Accordion("Plain text (to copy)", open=False):
                t.plain = gr.Textbox(show_label=False, lines=6, interactive=False)
            gr.Markdown("**Why this character?** Pick a sample and a position:")
            with gr.Row():
                t.sample_number = gr.Number(1, label="Sample", precision=0, minimum=1, maximum=3, scale=1)
                t.position = gr.Slider(0, 199, value=0, step=1, label="Position", elem_id="position", scale=3)
            t.alternatives = gr.HTML(elem_id="alternatives")
            t.distribution = gr.Plot(label="Next-character distribution", elem_id="distribution-plot")
    return t


def checkpoints_tab() -> Tab:
    t = Tab()
    with gr.Row():
        t.name = gr.Textbox(
            label="Name", placeholder="e.g. names-transformer", scale=3, elem_id="checkpoint-name"
        )
        t.overwrite = gr.Checkbox(False, label="Overwrite if it exists", scale=1)
        t.save = gr.Button("Save this session's model", variant="primary", scale=1, elem_id="save-button")
    t.status = gr.Markdown(elem_id="checkpoint-status")
    t.table = gr.Dataframe(
        headers=["name", "model", "parameters", "validation loss", "steps", "saved"],
        interactive=False,
        label="Saved checkpoints",
    )
    with gr.Row():
        t.chosen = gr.Dropdown(
            label="Checkpoint", scale=3, allow_custom_value=True, elem_id="checkpoint-chosen"
        )
        t.load = gr.Button("Load into this session", scale=1)
        t.delete = gr.Button("Delete…", variant="stop", scale=1)
        t.refresh = gr.Button("Refresh", scale=1)
    with gr.Row(visible=False) as t.confirm:
        t.confirm_text = gr.Markdown()
        t.confirm_yes = gr.Button("Yes, delete it", variant="stop")
        t.confirm_no = gr.Button("Cancel")
    if ON_SPACE:
        gr.Markdown(
            "⚠ **This Space's disk is not persistent**: checkpoints saved here vanish when the Space restarts. "
            "Push the ones you want to keep to the Hugging Face Hub below."
        )
    with gr.Accordion("Share on the Hugging Face Hub", open=ON_SPACE):
        gr.Markdown(
            "Push the checkpoint chosen above to a model repo of yours (created if needed), or pull anyone's "
            "charlm model into this session. The token is only sent to the Hub, never shown or saved."
        )
        with gr.Row():
            t.repo_id = gr.Textbox(label="Hub repo id", placeholder="username/model-name", elem_id="hub-repo")
            t.token = gr.Textbox(
                label="Token",
                type="password",
                placeholder="hf_… (empty: use the HF_TOKEN environment variable)",
                elem_id="hub-token",
            )
            t.private = gr.Checkbox(False, label="Private repo")
        with gr.Row():
            t.push = gr.Button("Push the chosen checkpoint", variant="primary")
            t.revision = gr.Textbox(label="Revision to pull", placeholder="main", scale=1)
            t.pull = gr.Button("Pull into this session")
        t.hub_status = gr.Markdown(elem_id="hub-status")
    return t


SCRATCH_INTRO = """The neural bigram and the MLP again, written **from scratch in NumPy**: the forward pass, the
cross-entropy, the backward pass worked out by hand and the plain SGD update (`charlm/models/numpy_models.py`),
no autograd anywhere. Train each beside its PyTorch twin on the *Train* tab's text, with the same batches,
and check the hand-written gradients against PyTorch's autograd. Plain SGD needs a far larger learning rate
than AdamW, so each model starts at its own. Comparing leaves this session's model as it is: to sample from
or save a NumPy model, pick it in the *Train* tab."""


def scratch_tab() -> Tab:
    t = Tab()
    gr.Markdown(SCRATCH_INTRO)
    gr.Markdown("### Side by side with PyTorch")
    rung = next(iter(PAIRS))
    twin = PAIRS[rung]
    with gr.Row():
        t.pair = gr.Radio(
            [(label, name) for name, label in PAIR_LABELS.items()],
            value=rung,
            label="Compare",
            scale=3,
            elem_id="compare-pair",
        )
        with gr.Column(scale=2):
            with gr.Row():
                t.steps = gr.Number(
                    TRAIN_DEFAULTS[twin][0],
                    label="Steps",
                    precision=0,
                    minimum=1,
                    maximum=MAX_STEPS,
                    elem_id="compare-steps",
                )
                t.batch_size = gr.Number(32, label="Batch size", precision=0, minimum=1, maximum=1024)
                t.seed = gr.Number(1337, label="Seed", precision=0, minimum=0)
            with gr.Row():
                t.numpy_lr = gr.Number(
                    TRAIN_DEFAULTS[rung][2],
                    label=f"Learning rate of {rung} (plain SGD)",
                    minimum=0,
                    maximum=10,
                )
                t.torch_lr = gr.Number(
                    TRAIN_DEFAULTS[twin][2], label=f"Learning rate of {twin} (AdamW)", minimum=0, maximum=10
                )
    with gr.Row(visible=False) as t.mlp_settings:
        t.settings = []
        for key in SHARED_MLP:
            label, info, low, high, step = SETTINGS[key]
            t.settings.append(
                gr.Slider(low, high, value=DEFAULTS["numpy-mlp"][key], step=step, label=label, info=info)
            )
    with gr.Row():
        t.start = gr.Button("Compare", variant="primary", elem_id="compare-button")
        t.stop = gr.Button("Stop", variant="stop", elem_id="compare-stop")
    t.progress = gr.HTML(viz.lockstep_progress_html({}), elem_id="compare-progress")
    t.plot = gr.Plot(viz.comparison_figure({}), show_label=False, elem_id="compare-plot")
    t.results = gr.Markdown(elem_id="compare-results")

    gr.Markdown(
        "### Gradient check\nFor one batch of the *Train* tab's text: the largest gap between each weight's "
        "hand-written gradient and PyTorch autograd's (on the PyTorch model holding the same weights), and "
        "between it and central finite differences at a few entries. All in float64."
    )
    with gr.Row():
        t.check_model = gr.Radio(GRADIENT_MODELS, value="numpy-mlp", label="Model", scale=3)
        t.check_batch = gr.Number(4, label="Batch size", precision=0, minimum=1, maximum=256, scale=1)
        t.check_seed = gr.Number(0, label="Seed", precision=0, minimum=0, scale=1)
        t.check = gr.Button("Check the gradients", scale=1, elem_id="check-button")
    t.gradients = gr.HTML(elem_id="gradient-check")
    return t


def wire_train(tr: Tab, ws: gr.State, session: gr.Markdown) -> None:
    described = dict(
        fn=describe,
        inputs=[tr.text, tr.mode, tr.model, *tr.settings],
        outputs=[tr.corpus, tr.params],
        show_progress="hidden",
        trigger_mode="always_last",
        api_visibility="undocumented",
    )
    tr.example.input(load_example, tr.example, [tr.text, tr.mode], api_visibility="undocumented")
    tr.upload.upload(read_upload, tr.upload, tr.text, api_name="upload")
    tr.text.change(**described)
    tr.mode.change(**described)
    tr.model.change(
        choose_model,
        tr.model,
        [tr.about, *tr.settings, tr.steps, tr.batch_size, tr.lr, tr.train_settings],
        api_visibility="undocumented",
    ).then(**described)
    for slider in tr.settings:
        slider.release(**described)
    inputs = [ws, tr.text, tr.mode, tr.model, tr.continue_training, tr.steps, tr.batch_size, tr.lr, tr.seed]
    tr.start.click(arm_stop, None, None, queue=False, api_visibility="undocumented").then(
        train,
        [*inputs, *tr.settings],
        [ws, session, tr.progress, tr.loss, tr.samples, tr.metrics, tr.warnings],
        api_name="train",
        concurrency_limit=TRAIN_CONCURRENCY,  # the rest wait in the queue
        concurrency_id="train",
        show_progress_on=tr.progress,  # the queue position and any error show on the progress bar only
    )
    # Stop flips the session's switch; the training then ends itself and shows where it stopped.
    # (Gradio's `cancels=` would race the training's last update and could leave a stale progress bar.)
    tr.stop.click(stop, None, None, api_name="stop", queue=False)


def wire_bigram(bg: Tab, tab: gr.Tab, tr: Tab, ws: gr.State) -> None:
    inputs, outputs = [tr.text, tr.mode, bg.show, bg.top_n, bg.char], [bg.heatmap, bg.char, bg.followers]
    compare = dict(
        fn=comparison_view,
        inputs=[ws, bg.top_n, bg.char],
        outputs=[bg.compare_note, bg.compare, bg.compare_bars],
        api_visibility="undocumented",
    )
    table = dict(fn=bigram_view, inputs=inputs, outputs=outputs, show_progress_on=bg.heatmap)
    tab.select(**table, api_name="bigram").then(**compare)
    bg.show.change(**table, api_visibility="undocumented")
    bg.top_n.release(**table, api_visibility="undocumented").then(**compare)
    bg.char.input(**table, api_visibility="undocumented").then(**compare)


def wire_sample(sm: Tab, tr: Tab, ws: gr.State, run: gr.State) -> None:
    options = [sm.prompt, sm.temperature, sm.top_k, sm.top_p, sm.length, sm.num_samples, sm.seed, sm.colour]
    inputs = [ws, sm.source, tr.text, *options]
    outputs = [run, sm.samples, sm.plain, sm.sample_number, sm.position, sm.alternatives, sm.distribution]
    sm.generate.click(generate, inputs, outputs, api_name="sample", show_progress_on=sm.samples)
    explained = dict(
        fn=explain,
        inputs=[run, sm.colour, sm.sample_number, sm.position, sm.temperature, sm.top_k, sm.top_p],
        outputs=[sm.samples, sm.alternatives, sm.distribution],
        show_progress="hidden",
        trigger_mode="always_last",
        api_visibility="undocumented",
    )
    for control in (sm.sample_number, sm.position, sm.colour):
        control.change(**explained)
    for control in (sm.temperature, sm.top_k, sm.top_p):
        control.release(
            resample, [run, *inputs], outputs, api_visibility="undocumented", show_progress_on=sm.samples
        )


def wire_checkpoints(ck: Tab, tr: Tab, sm: Tab, ws: gr.State, session: gr.Markdown) -> list:
    listing = [ck.table, ck.chosen, sm.source]
    ck.save.click(
        save,
        [ws, ck.name, ck.overwrite],
        [ck.status, session, *listing],
        api_name="save",
        show_progress="hidden",
    )
    ck.load.click(
        load, [ws, ck.chosen], [ws, ck.status, session, tr.mode], api_name="load", show_progress="hidden"
    )
    ck.delete.click(ask_delete, ck.chosen, [ck.confirm, ck.confirm_text], api_visibility="undocumented")
    ck.confirm_no.click(lambda: gr.update(visible=False), None, ck.confirm, api_visibility="undocumented")
    ck.confirm_yes.click(
        delete, ck.chosen, [ck.status, ck.confirm, *listing], api_name="delete", show_progress="hidden"
    )
    ck.refresh.click(checkpoints_view, None, listing, api_name="list_checkpoints")
    ck.push.click(
        share,
        [ck.chosen, ck.repo_id, ck.token, ck.private],
        ck.hub_status,
        api_name="push",
        show_progress_on=ck.hub_status,
    )
    ck.pull.click(
        pull_into_session,
        [ck.repo_id, ck.revision, ck.token],
        [ws, ck.hub_status, session, tr.mode, sm.source],
        api_name="pull",
        show_progress_on=ck.hub_status,
    )
    sm.hub_load.click(
        pull_into_session,
        [sm.hub_repo, sm.hub_revision, sm.hub_token],
        [ws, sm.hub_status, session, tr.mode, sm.source],
        api_visibility="undocumented",
        show_progress_on=sm.hub_status,
    )
    return listing


def wire_scratch(sc: Tab, tr: Tab, ws: gr.State) -> None:
    sc.pair.change(
        choose_pair,
        sc.pair,
        [sc.steps, sc.numpy_lr, sc.torch_lr, sc.mlp_settings],
        api_visibility="undocumented",
    )
    inputs = [tr.text, tr.mode, sc.pair, sc.steps, sc.batch_size, sc.seed, sc.numpy_lr, sc.torch_lr]
    sc.start.click(arm_compare, None, None, queue=False, api_visibility="undocumented").then(
        compare,
        [*inputs, *sc.settings],
        [sc.progress, sc.plot, sc.results],
        api_name="compare",
        concurrency_limit=TRAIN_CONCURRENCY,  # shares the training slots: the rest wait in the queue
        concurrency_id="train",
        show_progress_on=sc.progress,
    )
    sc.stop.click(stop_compare, None, None, api_name="stop_compare", queue=False)
    sc.check.click(
        check_gradients,
        [ws, tr.text, tr.mode, sc.check_model, sc.check_batch, sc.check_seed],
        sc.gradients,
        api_name="gradient_check",
        show_progress_on=sc.gradients,
    )


def build_demo() -> gr.Blocks:
    with gr.Blocks(title="charlm playground", analytics_enabled=False) as demo:
        gr.Markdown(INTRO)
        if ON_SPACE:
            gr.Markdown(
                f"ℹ **Running on a shared Hugging Face Space**, so runs are capped: texts up to {MAX_CHARS:,} "
                f"characters, {MAX_STEPS:,} steps and {viz.duration(MAX_TRAIN_SECONDS)} per training run. "
                "Run it on your own machine for no caps (see the README)."
            )
        session = gr.Markdown(describe_workspace(None), elem_id="session-model")
        ws = gr.State(None)  # this browser session's Workspace
        run = gr.State(None)  # its last SampleRun
        with gr.Tabs():
            with gr.Tab("Train", id="train"):
                tr = train_tab(next(iter(EXAMPLES)))
            with gr.Tab("Bigram table", id="bigram") as bigram:
                bg = bigram_tab()
            with gr.Tab("Sample", id="sample"):
                sm = sample_tab()
            with gr.Tab("Checkpoints", id="checkpoints"):
                ck = checkpoints_tab()
            with gr.Tab("From scratch (NumPy)", id="scratch"):
                sc = scratch_tab()
        wire_train(tr, ws, session)
        wire_bigram(bg, bigram, tr, ws)
        wire_sample(sm, tr, ws, run)
        listing = wire_checkpoints(ck, tr, sm, ws, session)
        wire_scratch(sc, tr, ws)
        demo.load(checkpoints_view, None, listing, api_visibility="undocumented")
        demo.unload(end_session)
    return demo


demo = build_demo()


def launch(**options):
    """Serve the playground. GRADIO_SERVER_NAME / GRADIO_SERVER_PORT change the address (Gradio reads them)."""
    # Small models train faster on few threads, and trainings that run at once share the cores.
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // TRAIN_CONCURRENCY))
    set_blas_threads(torch.get_num_threads())  # the NumPy rungs too (see charlm.compare)
    demo.queue(default_concurrency_limit=4, max_size=64)
    return demo.launch(
        **{
            "max_file_size": MAX_CHARS * 4 + 1024,
            "ssr_mode": False,
            "footer_links": ["api", "settings"],
            **options,
        }
    )


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # Gradio's own start-up probe is not news
    launch()
