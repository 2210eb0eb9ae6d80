"""Models trained side by side: the same text, split, batches, steps and seed, each with its own learning
rate, one step of each in turn. What the app's NumPy-against-PyTorch comparison runs."""

import ctypes
import functools
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np

from charlm.data import Corpus
from charlm.errors import CharlmError
from charlm.train import Progress, TrainConfig, Trainer, fresh_trainer

PAIRS = {"numpy-bigram": "neural-bigram", "numpy-mlp": "mlp"}  # a NumPy rung -> its PyTorch twin


def side_by_side(
    text: str, mode: str, lrs: dict[str, float], config: TrainConfig, **settings
) -> dict[str, Trainer]:
    """A fresh trainer for each model named in `lrs`, all on one corpus with `config` but their own
    learning rate. Each model starts as `new_trainer` would start it alone, and since windowed models of
    one block size read windows of one length, all of them see the same batches."""
    if len(lrs) < 1:
        raise CharlmError("name at least one model to train.")
    config.check()
    corpus = Corpus.from_text(text, mode, val_fraction=config.val_fraction, seed=config.seed)
    return {name: fresh_trainer(corpus, name, replace(config, lr=lr), **settings) for name, lr in lrs.items()}


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
# It reads its thread count only at import, so a running app sets it through the library itself.
BLAS_SYMBOLS = ("scipy_openblas_{}_num_threads64_", "openblas_{}_num_threads64_", "openblas_{}_num_threads")


@functools.cache
def _openblas():
    """NumPy's bundled OpenBLAS and its symbol pattern, or None (another BLAS, or none found)."""
    root = Path(np.__file__).parent
    for lib in sorted([*root.parent.glob("numpy.libs/*openblas*"), *root.glob(".dylibs/*openblas*")]):
        try:
            dll = ctypes.CDLL(str(lib))  # already loaded by NumPy: this returns the same library
        except OSError:
            continue
        for pattern in BLAS_SYMBOLS:
            if hasattr(dll, pattern.format("set")) and hasattr(dll, pattern.format("get")):
                return dll, pattern
    return None


def blas_threads() -> int | None:
    """The threads NumPy's OpenBLAS uses, or None when NumPy uses another BLAS."""
    found = _openblas()
    return None if found is None else int(getattr(found[0], found[1].format("get"))())


def set_blas_threads(n: int) -> bool:
    """Let NumPy's OpenBLAS use `n` threads, as `torch.set_num_threads(n)` does for PyTorch, so that a
    speed comparison compares the code. Returns False (and changes nothing) for another BLAS."""
    found = _openblas()
    if found is None:
        return False
    getattr(found[0], found[1].format("set"))(int(n))
    return True
