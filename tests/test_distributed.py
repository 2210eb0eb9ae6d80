"""Training across processes: two gloo ranks on 127.0.0.1 against one process that sees both ranks'
batches (the oracle), rank 0 alone saving, resuming with another number of processes, and the refusals."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from conftest import TEXT, own

import charlm.__main__ as cli
import charlm.train
from charlm.checkpoint import load_checkpoint
from charlm.data import Corpus, get_batch
from charlm.distributed import finish, setup, stream_seed
from charlm.models import build_model, model_config
from charlm.train import TrainConfig, Trainer

ROOT = Path(__file__).resolve().parents[1]
B, STEPS, SEED = 4, 5, 11
SETTINGS = dict(block_size=8, n_embd=16, n_layer=1, n_head=2, dropout=0.0)  # no dropout: masks differ by rank
QUICK = ["--steps", "4", "--batch-size", "4", "--eval-interval", "2", "--block-size", "8", "--n-embd", "16"]
QUICK += ["--n-layer", "1", "--device", "cpu"]
needs_two_cores = pytest.mark.skipif(
    len(os.sched_getaffinity(0)) < 2, reason="two ranks need two cores (charlm refuses more ranks than cores)"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun_env(rank: int, world: int, port: int) -> None:
    """The environment torchrun gives each rank."""
    os.environ.update(
        RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_RANK=str(rank),
        LOCAL_WORLD_SIZE=str(world),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )


def tiny_trainer(batch_size: int) -> Trainer:
    corpus = Corpus.from_text(TEXT)
    torch.manual_seed(SEED)
    model = build_model(model_config("transformer", chars=corpus.vocab.chars, **own("transformer", SETTINGS)))
    config = TrainConfig(steps=STEPS, batch_size=batch_size, lr=1e-2, warmup_steps=1, seed=SEED, device="cpu")
    return Trainer(model, corpus, config)


def train_rank(rank: int, world: int, port: int, out: str) -> None:
    torch.set_num_threads(1)
    torchrun_env(rank, world, port)
    run = setup("gloo", "cpu")
    try:
        trainer = tiny_trainer(B)
        run.wrap(trainer)
        for _ in trainer.run():
            pass
        torch.save(trainer.model.state_dict(), Path(out) / f"rank{rank}.pt")
    finally:
        finish(run)


@needs_two_cores
def test_two_ranks_of_batch_b_equal_one_process_of_both_ranks_batches(tmp_path, monkeypatch):
    mp.spawn(train_rank, args=(2, free_port(), str(tmp_path)), nprocs=2)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]

    streams = [torch.Generator().manual_seed(SEED), torch.Generator().manual_seed(stream_seed(SEED, 1, 0))]

    def union(split, batch_size, T, generator):  # rank 0's batch, then rank 1's
        x, y = zip(*(get_batch(split, batch_size // 2, T, g) for g in streams))
        return torch.cat(x), torch.cat(y)

    monkeypatch.setattr(charlm.train, "get_batch", union)
    oracle = tiny_trainer(2 * B)
    start = {k: v.clone() for k, v in oracle.model.state_dict().items()}
    for _ in oracle.run():
        pass
    for name, weight in oracle.model.state_dict().items():
        assert torch.allclose(ranks[0][name], weight, atol=1e-5), name  # the oracle
        assert torch.equal(ranks[0][name], ranks[1][name]), name  # one model, on every rank
    assert any(not torch.equal(start[k], v) for k, v in ranks[0].items())  # it trained


def cli_rank(rank: int, world: int, port: int, argv: list[str], log: str) -> None:
    """`python -m charlm train ...` as one rank of a torchrun, noting which ranks save."""
    torch.set_num_threads(1)
    torchrun_env(rank, world, port)
    save = cli.save_checkpoint

    def noted(*args, **kwargs):
        Path(log, f"saved-by-rank{rank}").touch()
        return save(*args, **kwargs)

    cli.save_checkpoint = noted
    assert cli.main(argv) == 0


@needs_two_cores
def test_rank_0_alone_saves_and_resume_works_with_another_number_of_processes(tmp_path, capsys):
    text, out = tmp_path / "text.txt", tmp_path / "ckpt"
    text.write_text(TEXT, encoding="utf-8")
    train = ["train", str(text), "--model", "transformer", "--out", str(out)]
    assert cli.main([*train, *QUICK]) == 0  # one process
    mp.spawn(
        cli_rank,
        args=(2, free_port(), [*train, "--resume", str(out), "--steps", "8"], str(tmp_path)),
        nprocs=2,
    )
    assert sorted(p.name for p in tmp_path.glob("saved-by-*")) == ["saved-by-rank0"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["steps"], metrics["world_size"], metrics["global_batch_size"]) == (8, 2, 8)
    assert (
        "Trained on 2 processes (DistributedDataParallel), global batch 8" in (out / "README.md").read_text()
    )
    checkpoint = load_checkpoint(out)
    assert not [k for k in checkpoint.model.state_dict() if k.startswith("module.")]
    assert int(checkpoint.trainer_state["step"]) == 8
    assert cli.main([*train, "--resume", str(out), "--steps", "10"]) == 0  # and back to one process
    assert json.loads((out / "metrics.json").read_text())["world_size"] == 1


@pytest.fixture
def one_rank(monkeypatch, tmp_path):
    """This test process as rank 0 of a torchrun of `WORLD_SIZE` processes (set by the test)."""
    for name, value in dict(
        RANK="0", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port())
    ).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # setup() replaces them
    previous = signal.getsignal(signal.SIGTERM)
    monkeypatch.chdir(tmp_path)
    Path("text.txt").write_text(TEXT, encoding="utf-8")
    yield monkeypatch
    signal.signal(signal.SIGTERM, previous)


def one_error_line(capsys, argv) -> str:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    return lines[0]


def test_more_processes_than_cores_is_refused_before_anything_starts(one_rank, capsys):
    cores = len(os.sched_getaffinity(0))
    one_rank.setenv("WORLD_SIZE", str(cores + 1))
    one_rank.setenv("LOCAL_WORLD_SIZE", str(cores + 1))
    line = one_error_line(capsys, ["train", "text.txt", *QUICK])
    assert f"{cores + 1} processes" in line and f"--nproc_per_node={cores}" in line
    assert not Path("checkpoints").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine can run nccl")
def test_a_missing_backend_is_named(one_rank, capsys):
    one_rank.setenv("WORLD_SIZE", "2")
    assert "--backend gloo" in one_error_line(capsys, ["train", "text.txt", "--backend", "nccl", *QUICK])


def test_a_model_that_does_not_train_by_torch_gradients_is_refused_under_torchrun(one_rank, capsys):
    one_rank.setenv("WORLD_SIZE", "1")
    assert "without torchrun" in one_error_line(capsys, ["train", "text.txt", "--model", "bigram"])
    assert not Path("checkpoints").exists()


@pytest.mark.slow
@needs_two_cores
def test_a_rank_that_dies_ends_the_run_with_one_line_and_no_checkpoint(tmp_path):
    """Real torchrun; rank 1 dies at its third batch."""
    (tmp_path / "text.txt").write_text(TEXT, encoding="utf-8")
    script = tmp_path / "dying.py"
    script.write_text(
        "import os, sys\nimport charlm.train as t\nfrom charlm.__main__ import main\n"
        "if os.environ['RANK'] == '1':\n    real, calls = t.get_batch, []\n"
        "    def dying(*a):\n        calls.append(1)\n        if len(calls) == 3:\n            os._exit(1)\n"
        "        return real(*a)\n    t.get_batch = dying\nsys.exit(main(sys.argv[1:]))\n"
    )
    argv = ["train", "text.txt", "--model", "transformer", "--out", "ckpt", *QUICK, "--steps", "50"]
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        str(script),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [*command, *argv], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode != 0
    # torchrun prefixes each line of a rank with [rankN]: and then reports the failure in its own words
    errors = [line for line in done.stderr.splitlines() if re.match(r"(\[rank\d+\]:\s*)?error:", line)]
    assert len(errors) == 1 and errors[0].startswith("[rank0]:"), done.stderr  # the others are silent
    assert "another process of this run failed" in errors[0]
    assert not (tmp_path / "ckpt").exists() and not list(tmp_path.glob(".ckpt.*"))
