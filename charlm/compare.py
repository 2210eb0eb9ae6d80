"""Models trained side by side: the same text, split, batches, steps and seed, each with its own learning
rate, one step of each in turn. What the app's from-scratch-against-PyTorch comparison runs."""

import functools
from collections.abc import Iterator
from dataclasses import replace
from types import SimpleNamespace

from threadpoolctl import ThreadpoolController

from charlm.data import Corpus
from charlm.errors import CharlmError
from charlm.models import MODELS, build_model, model_config
from charlm.models.base import private_rng
from charlm.train import Progress, TrainConfig, Trainer, fresh_trainer, sequence_length

# a rung written from scratch -> the PyTorch rung it is built like (each declares its twin)
PAIRS = {name: cls.twin_model for name, cls in MODELS.items() if getattr(cls, "twin_model", "")}


def companions(rung: str) -> list[str]:
    """The models trained beside a rung written from scratch: itself, the from-scratch rungs listed before
    it that share its twin (value-mlp: numpy-mlp), then the twin."""
    before = list(PAIRS)[: list(PAIRS).index(rung)]
    return [rung, *[r for r in before if PAIRS[r] == PAIRS[rung]], PAIRS[rung]]


def twin_settings(rung: str) -> dict:
    """The settings `rung`'s PyTorch twin is built with that `rung` itself has no setting for (value-mlp's
    twin: relu and two layers), read from the twin its gradient check builds, so both agree."""
    return dict(_twin_settings(rung))


@functools.cache
def _twin_settings(rung: str) -> dict:
    cls = MODELS[rung]
    smallest = {s.name: s.default if s.choices else s.low for s in cls.settings()}  # cheap to build
    with private_rng():  # building draws weights; nobody else's numbers move
        twin = build_model(model_config(rung, chars="ab", **smallest)).torch_twin()
    own = set(smallest)
    return {s.name: getattr(twin.config, s.name) for s in MODELS[PAIRS[rung]].settings() if s.name not in own}


def side_by_side(
    text: str,
    mode: str,
    lrs: dict[str, float],
    config: TrainConfig,
    per_model: dict[str, dict] | None = None,
    **settings,
) -> dict[str, Trainer]:
    """A fresh trainer for each model named in `lrs`, all on one corpus with `config` but their own
    learning rate, and `settings` plus that model's own in `per_model` (settings only some of them have).
    Each model starts as `new_trainer` would start it alone, and since windowed models of one block size
    read windows of one length, all of them see the same batches."""
    if len(lrs) < 1:
        raise CharlmError("name at least one model to train.")
    per_model = per_model or {}
    config.check()
    corpus = Corpus.from_text(text, mode, val_fraction=config.val_fraction, seed=config.seed)
    return {
        name: fresh_trainer(corpus, name, replace(config, lr=lr), **{**settings, **per_model.get(name, {})})
        for name, lr in lrs.items()
    }


def is_slow(name: str) -> bool:
    """A model that can tell how long a step will take, because it is slow enough to need to."""
    return hasattr(MODELS[name], "estimated_seconds")


def step_seconds(
    corpus: Corpus, names: list[str], batch_size: int, settings: dict
) -> dict[str, tuple[float, int]]:
    """For each slow model among `names`: its estimated seconds per step on `corpus` and its predictions
    per step, from the model's own estimate; found before anything is built or trained."""
    found = {}
    for name in filter(is_slow, names):
        cls = MODELS[name]
        config = model_config(name, chars=corpus.vocab.chars, mode=corpus.mode, **settings)
        # the windows the Trainer would cut, from the config alone (building the model can be costly)
        T = sequence_length(SimpleNamespace(config=config, windowed=cls.windowed), corpus.train)
        found[name] = (cls.estimated_seconds(config, 1, batch_size * T), batch_size * T)
    return found


def lockstep(trainers: dict[str, Trainer]) -> Iterator[dict[str, Progress]]:
    """One step of each trainer in turn; after each round, the events of the trainers that stepped.

    Ends when every trainer is done; stop iterating to stop them all. Each Trainer keeps its own random
    streams, so a model trained in lockstep ends exactly as it would trained alone.
    """
    runs = {name: trainer.run() for name, trainer in trainers.items()}
    while True:
        events = {name: next(run, None) for name, run in runs.items()}
        stepped = {name: event for name, event in events.items() if event is not None}
        if not stepped:
            return
        yield stepped


# NumPy's bundled OpenBLAS starts one thread per core and spins them between calls; on a busy machine
# (or beside a PyTorch training) that made the NumPy MLP's small matrix products 16 times slower here.
# threadpoolctl sets the thread count of the BLAS that NumPy loaded, whichever it is.


@functools.cache
def _controller() -> ThreadpoolController:
    return ThreadpoolController()  # looks the loaded libraries up once


def blas_threads() -> int | None:
    """The threads NumPy's BLAS uses, or None when no BLAS library is loaded that can be told."""
    found = _controller().select(user_api="blas")
    return found.lib_controllers[0].num_threads if found.lib_controllers else None


def set_blas_threads(n: int) -> bool:
    """Let NumPy's BLAS use `n` threads, as `torch.set_num_threads(n)` does for PyTorch, so that a speed
    comparison compares the code. Returns False (and changes nothing) when there is no BLAS to tell."""
    found = _controller().select(user_api="blas")
    if not found.lib_controllers:
        return False
    found.limit(limits=int(n))
    return True
