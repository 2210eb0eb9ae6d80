"""One browser session's state: the model it trained or loaded (a Workspace in a gr.State, so two
people on one server never see each other's models), the stop switches of running trainings, and the
cleanup when the page closes."""

import contextlib
import copy
import threading
import time
from dataclasses import asdict, dataclass, field

import gradio as gr
import torch

from charlm import viz
from charlm.checkpoint import Checkpoint
from charlm.errors import CharlmError
from charlm.inside import Dynamics, Snapshots
from charlm.models import MODELS, CharLM
from charlm.playground import settings
from charlm.train import Progress, TrainConfig, Trainer

SESSION = "This session's model"  # how pickers name the session's model beside saved checkpoints


@dataclass
class Workspace:
    model: CharLM
    source: str  # how the model came to be, in words
    trainer: Trainer | None = None  # when trained here: its corpus, settings and optimizer
    checkpoint: Checkpoint | None = None  # when loaded: its settings and trainer state
    history: list[Progress] = field(default_factory=list)
    refs: dict[str, float] = field(default_factory=dict)  # reference losses for the chart
    metrics: dict = field(default_factory=dict)
    # recorded while training here, for the Look inside tab (None: the rung has no such thing)
    snapshots: Snapshots | None = None
    dynamics: Dynamics | None = None

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

    def as_checkpoint(self) -> Checkpoint:
        """The session's model as a checkpoint in memory, on a copy: a continued run that fails loses
        nothing."""
        train = asdict(self.train_config) if self.train_config is not None else {}
        return Checkpoint(
            None, copy.deepcopy(self.model), {"train": train}, dict(self.metrics), self.trainer_state()
        )

    def trainer_state(self) -> dict[str, torch.Tensor] | None:
        """A copy of what a continued run needs: the step, optimizer moments and random generators."""
        if self.trainer is not None:
            state = self.trainer.state_dict()
        elif self.checkpoint is not None:
            state = self.checkpoint.trainer_state
        else:
            state = None
        return None if state is None else {k: v.clone() for k, v in state.items()}


def recorders(model: CharLM, every: int) -> tuple[Snapshots | None, Dynamics | None]:
    """What the Look inside tab shows of a training: embedding snapshots at each evaluation and the
    training dynamics every `every` steps, for the rungs that have them."""
    try:
        snapshots = Snapshots(model)
    except CharlmError:  # no embedding table (the count bigram)
        snapshots = None
    try:
        dynamics = Dynamics(model, every=every)
    except CharlmError:  # no gradients to record (counting, the rungs from scratch)
        dynamics = None
    return snapshots, dynamics


def describe_workspace(ws: Workspace | None) -> str:
    if ws is None:
        return "**This session has no model yet.** Train one in the *Train* tab, or load a checkpoint."
    c = ws.model.config
    val = ws.metrics.get("val_loss")
    loss = f", validation loss {val:.3f} nats" if isinstance(val, (int, float)) else ""
    steps = ws.trainer.step if ws.trainer else ws.metrics.get("steps")
    trained = f", {steps:,} steps" if isinstance(steps, int) and not ws.model.trained_by_counting else ""
    name = f"{MODELS[c.model_type].title} ({c.model_type})" if c.model_type in MODELS else c.model_type
    return (
        f"**This session's model:** {name}, "
        f"{ws.model.num_params():,} parameters, vocabulary {c.vocab_size}, {c.mode} mode{trained}{loss}; "
        f"{ws.source}."
    )


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

    def stop(self, session: str | None) -> bool:
        """Flip the session's switch; whether a training (running or queued) was there to stop."""
        with self.lock:
            stop = self.stops.get(session)
        if stop is not None:
            stop.set()
        return stop is not None


TRAINING = Trainings()  # the Train tab's trainings
COMPARING = Trainings()  # the From scratch tab's side-by-side runs, with switches of their own


def session_of(request: gr.Request | None) -> str | None:
    return request.session_hash if request else None


def stop_reason(stopping: threading.Event, deadline: float, stopped: str) -> str:
    """Why a running training should end now, or "" to go on: its Stop switch (`stopped` says so) or
    the playground's time limit."""
    if stopping.is_set():
        return stopped
    if time.monotonic() > deadline:
        return f"stopped at the playground's limit of {viz.duration(settings.MAX_TRAIN_SECONDS)}"
    return ""


def end_session(request: gr.Request) -> None:
    """The page was closed or reloaded: stop its trainings (its models go with the session)."""
    TRAINING.stop(request.session_hash)
    COMPARING.stop(request.session_hash)
