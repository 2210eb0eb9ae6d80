"""Shared by the benchmarks: where the data lives, and a quiet training run."""

import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from charlm.data import Corpus  # noqa: E402
from charlm.train import TrainConfig, Trainer, fresh_trainer, new_trainer  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def data_file(name: str) -> Path:
    """A file from ../shared/data, or exit with a message when it is not there."""
    path = DATA / name
    if not path.is_file():
        print(f"skipped: {path} is not there (the benchmarks read ../shared/data beside the checkout)")
        sys.exit(0)
    return path


def train(
    text: str, mode: str, model: str, config: TrainConfig, corpus: Corpus | None = None, **settings
) -> tuple[Trainer, float]:
    """Train to the end (on `corpus` when given, else on charlm's own split of `text`); return the
    trainer and the wall time in seconds."""
    if corpus is None:
        trainer = new_trainer(text, mode, model, config, **settings)
    else:
        trainer = fresh_trainer(corpus, model, config, **settings)
    start = time.perf_counter()
    for _ in trainer.run():
        pass
    return trainer, time.perf_counter() - start


def machine() -> str:
    """torch, threads and the processor: the machines these benches run on change, and so do the figures."""
    cpu = platform.processor() or platform.machine()
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        cpu = next(line.split(":", 1)[1].strip() for line in lines if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"torch {torch.__version__}, {torch.get_num_threads()} threads, {cpu}"
