"""Training across processes under torchrun: the process group (gloo on CPU, NCCL on CUDA), one model in
DistributedDataParallel, each rank's own seeded batch stream, and what only rank 0 does (print, evaluate,
save). Outside torchrun every call here is a no-op, so one code path trains in one process or many."""

import os
import re
import signal
import sys
import traceback
from dataclasses import dataclass

import torch
import torch.distributed as dist

from charlm.errors import CharlmError

BACKENDS = ("auto", "gloo", "nccl")
LOST = re.compile(r"gloo|nccl|connection (reset|closed|refused)|remote worker|broken pipe", re.IGNORECASE)
NOTHING_SAVED = "Nothing was saved by this run; a checkpoint saved before is intact."


class Ended(Exception):
    """torchrun ended this rank (SIGTERM), because another rank failed or the run was stopped."""


@dataclass
class Run:
    """Where this process stands in the run: its rank among `world_size`, and on which device."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.backend is not None

    def device(self, name: str | None) -> str | None:
        """The device for this rank: a CUDA run puts each rank on its own GPU (its local rank)."""
        if self.distributed and self.backend == "nccl" and (name or "auto") in ("auto", "cuda"):
            return f"cuda:{self.local_rank}"
        if self.distributed and (name or "auto") == "auto":
            return "cpu"
        return name

    def metrics(self, batch_size: int) -> dict:
        """What metrics.json records of the run's shape: the batch is per process."""
        return {"world_size": self.world_size, "global_batch_size": batch_size * self.world_size}

    def rank0_first(self, work):
        """`work()` on rank 0, then on the others (downloads and token files are made once, then reused)."""
        if self.distributed and not self.main:
            dist.barrier()
        result = work()
        if self.distributed and self.main:
            dist.barrier()
        return result

    def wrap(self, trainer) -> None:
        """Train `trainer`'s model with DDP: forward passes go through the wrapper (so backward averages
        the gradients), everything else (evaluation, sampling, saving) sees the plain model, so
        checkpoints carry no `module.` prefixes. Ranks above 0 draw their own batches and do not evaluate."""
        if not self.distributed:
            return
        model = trainer.model
        if model.trained_by_counting or model.trains_itself:
            raise CharlmError(
                f"{model.config.model_type} does not train by gradient descent in torch, so it trains in one "
                "process: run it without torchrun."
            )
        # each rank would decide on its own when to stop (rank 0 alone evaluates)
        for name in ("time_budget", "patience", "target_loss"):
            if getattr(trainer.config, name, 0):
                raise CharlmError(
                    f"--{name.replace('_', '-')} is not available under torchrun yet; leave it out."
                )
        ids = [trainer.device.index or 0] if trainer.device.type == "cuda" else None
        trainer.forward = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)
        if not self.main:
            trainer.generator.manual_seed(stream_seed(trainer.config.seed, self.rank, trainer.step))
            trainer.evaluates = False


def stream_seed(seed: int, rank: int, step: int) -> int:
    """The seed of rank `rank`'s batch stream from step `step` (rank 0 keeps the trainer's own stream, which
    a checkpoint saves; the others start anew from the step, so resuming with any number of ranks works)."""
    return (seed * 1_000_003 + rank * 7_919 + step) % 2**63


def setup(backend: str = "auto", device: str | None = None) -> Run:
    """Join the process group torchrun describes in the environment (RANK, WORLD_SIZE, LOCAL_RANK,
    MASTER_ADDR, ...); outside torchrun, a Run of one process that changes nothing."""
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return Run()
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", world))
    backend = choose_backend(backend, device)
    if rank > 0:  # rank 0 speaks for the run
        sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (for the life of the process)
        os.environ["TQDM_DISABLE"] = "1"
    if backend == "nccl":
        if local_world > torch.cuda.device_count():
            raise CharlmError(
                f"{local_world} processes on this machine but {torch.cuda.device_count()} CUDA device(s): "
                f"use --nproc_per_node={torch.cuda.device_count()} at most."
            )
        torch.cuda.set_device(local_rank)
    else:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        if local_world > cores:
            raise CharlmError(
                f"{local_world} processes on this machine but {cores} CPU core(s): each process needs a core; "
                f"use --nproc_per_node={cores} at most."
            )
    signal.signal(signal.SIGTERM, _ended)
    sys.excepthook = _one_line
    dist.init_process_group(backend, rank=rank, world_size=world)
    return Run(rank, world, local_rank, backend)


def choose_backend(backend: str, device: str | None) -> str:
    """gloo for CPU, NCCL for CUDA (auto: NCCL when this machine has CUDA and the device allows it)."""
    if backend not in BACKENDS:
        raise CharlmError(f"unknown backend {backend!r}; use one of: {', '.join(BACKENDS)}.")
    if not dist.is_available():
        raise CharlmError("this torch was built without torch.distributed; train in one process.")
    cuda = torch.cuda.is_available() and (device or "auto").split(":")[0] in ("auto", "cuda")
    if backend == "auto":
        backend = "nccl" if cuda and dist.is_nccl_available() else "gloo"
    if backend == "nccl" and not (cuda and dist.is_nccl_available()):
        raise CharlmError(
            "the nccl backend needs CUDA devices and a torch built with NCCL, and this machine has "
            f"{'no CUDA device' if not torch.cuda.is_available() else 'no NCCL'}; use --backend gloo."
        )
    if backend == "gloo" and not dist.is_gloo_available():
        raise CharlmError("this torch was built without the gloo backend; use --backend nccl on CUDA.")
    return backend


def finish(run: Run) -> None:
    if run.distributed and dist.is_initialized():
        dist.destroy_process_group()


def _ended(signum, frame) -> None:
    raise Ended("torchrun ended this process: another process of the run failed or was stopped")


def _one_line(kind, error, tb) -> None:
    """A lost rank (gloo's or NCCL's error, or torchrun's SIGTERM) in one line on rank 0; anything else,
    a bug, keeps its traceback."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # torchrun's SIGTERM may follow: let this line out first
    text = str(error).strip()
    if issubclass(kind, Ended):
        print(f"error: {text}. {NOTHING_SAVED}", file=sys.stderr)
    elif issubclass(kind, dist.DistError) or (issubclass(kind, RuntimeError) and LOST.search(text)):
        first = re.sub(r"^\[[^\]]*\]\s*", "", text.splitlines()[0] if text else kind.__name__)[:160]
        print(
            f"error: another process of this run failed or was stopped ({first}). {NOTHING_SAVED}",
            file=sys.stderr,
        )
    else:
        traceback.print_exception(kind, error, tb, file=sys.__stderr__)
    sys.stderr.flush()
