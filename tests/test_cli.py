"""The command line, in-process through `main(argv)`: help, the happy path, and every bad input giving
exit status 2 with one `error:` line and nothing on disk damaged. Two tests run `python -m charlm` as
a real subprocess."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import NAMES, TEXT, run_cli

import charlm.data
from charlm.__main__ import make_parser
from charlm.checkpoint import load_checkpoint
from charlm.train import Trainer

ROOT = Path(__file__).resolve().parents[1]
# a tiny, quick run of the neural models (the settings they all have; a model refuses one it has not)
QUICK_OPTIONS = dict(steps=6, batch_size=4, eval_interval=3, block_size=8, n_embd=16, n_layer=1, device="cpu")
QUICK = [arg for key, value in QUICK_OPTIONS.items() for arg in ("--" + key.replace("_", "-"), str(value))]


run = run_cli  # conftest's: (exit status, stdout, stderr)


def assert_one_error_line(code: int, err: str, *words: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and err.rstrip("\n").endswith(errors[0]), err
    for word in words:
        assert word in errors[0], errors[0]


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """An empty working directory holding TEXT and NAMES files (so a default --out lands here)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "text.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / "names.txt").write_text(NAMES, encoding="utf-8")
    return tmp_path


@pytest.fixture
def existing(workdir, capsys) -> Path:
    """A checkpoint already at `ckpt`, which failed commands must leave byte for byte as it is."""
    code, _, err = run(capsys, "train", "text.txt", "--model", "mlp", "--out", "ckpt", *QUICK)
    assert code == 0, err
    return workdir / "ckpt"


def test_help_for_every_command(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "usage:" in out
    commands = next(a for a in make_parser()._actions if a.dest == "command").choices
    assert {"train", "sample", "eval", "list"} <= set(commands)
    for command in commands:
        code, out, _ = run(capsys, command, "--help")
        assert code == 0 and f"python -m charlm {command}" in out, command
    code, out, _ = run(capsys, "train", "--help")
    assert "--resume" in out and "--n-head" in out and "transformer 1000" in out


def test_train_sample_eval_list(workdir, capsys):
    code, out, err = run(
        capsys, "train", "names.txt", "--model", "transformer", "--mode", "lines", "--out", "n", *QUICK
    )
    assert code == 0, err
    assert "done at step 6" in err and out == ""
    checkpoint = load_checkpoint(workdir / "n")
    assert checkpoint.config["mode"] == "lines" and checkpoint.metrics["steps"] == 6
    steps = [row["step"] for row in checkpoint.metrics["history"]]  # the model card's loss curve
    assert steps[0] == 1 and steps[-1] == 6

    code, out, _ = run(capsys, "sample", "n", "--prompt", "em", "--num-samples", "3", "--seed", "1", "--json")
    samples = json.loads(out)
    assert code == 0 and len(samples) == 3 and all(s.startswith("em") and "\n" not in s for s in samples)
    code, again, _ = run(
        capsys, "sample", "n", "--prompt", "em", "--num-samples", "3", "--seed", "1", "--json"
    )
    assert json.loads(again) == samples
    code, out, _ = run(capsys, "sample", "n", "--prompt", "em", "--num-samples", "3", "--seed", "1")
    assert code == 0 and out.splitlines() == samples  # streamed: the same samples, one per line

    code, out, _ = run(capsys, "eval", "n", "names.txt", "--json")
    rows = json.loads(out)
    assert code == 0 and rows["uniform (ln V)"]["loss"] == pytest.approx(
        math.log(checkpoint.model.config.vocab_size)
    )
    assert rows["model"]["bpc"] == pytest.approx(rows["model"]["loss"] / math.log(2))
    assert rows["count bigram (fitted on this file)"]["loss"] < rows["uniform (ln V)"]["loss"]
    code, out, _ = run(capsys, "eval", "n", "names.txt")
    assert code == 0 and "perplexity" in out and "uniform" in out

    code, out, _ = run(capsys, "list", ".")
    assert code == 0 and out.split()[:2] == ["n", "transformer"]


def test_default_out_and_resume(workdir, capsys):
    code, _, err = run(capsys, "train", "text.txt", "--model", "gru", *QUICK)
    assert code == 0, err
    path = workdir / "checkpoints" / "text-gru"
    assert load_checkpoint(path).metrics["steps"] == 6
    code, _, err = run(capsys, "train", "text.txt", "--resume", path, "--steps", "9")
    assert code == 0, err
    assert load_checkpoint(path).metrics["steps"] == 9


def test_ctrl_c_stops_training_and_keeps_the_model(workdir, capsys, monkeypatch):
    run_steps = Trainer.run

    def interrupted(self):
        for event in run_steps(self):
            yield event
            if event.step == 3:
                raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "run", interrupted)
    code, _, err = run(capsys, "train", "text.txt", "--model", "lstm", "--out", "c", *QUICK)
    assert code == 0 and "stopped at step 3" in err
    assert load_checkpoint(workdir / "c").metrics["steps"] == 3


BAD_TEXTS = {
    "empty": (b"", "empty"),
    "whitespace": (b" \n\t\n   \n", "empty"),
    "one character": (b"a", "only 1 character"),
    "one repeated character": (b"a" * 40, "single character"),
    "binary": (bytes(range(256)) * 4, "binary"),
    "latin-1": ("café au lait, s'il vous plaît".encode("latin-1"), "UTF-8"),
}


@pytest.mark.parametrize("content, words", BAD_TEXTS.values(), ids=BAD_TEXTS.keys())
def test_train_refuses_bad_texts(existing, capsys, content, words):
    (existing.parent / "bad.txt").write_bytes(content)
    before = snapshot(existing.parent)
    code, _, err = run(capsys, "train", "bad.txt", "--model", "mlp", "--out", "ckpt", *QUICK)
    assert_one_error_line(code, err, words)
    assert snapshot(existing.parent) == before


BAD_OPTIONS = {  # the arguments after `train`; each run also has --out ckpt and the QUICK options
    "text shorter than the block size": (
        ["short.txt", "--model", "transformer", "--block-size", "64"],
        "block size",
    ),
    "zero steps": (["text.txt", "--steps", "0"], "steps must be"),
    "negative steps": (["text.txt", "--steps", "-3"], "steps must be"),
    "diverging learning rate": (["text.txt", "--model", "transformer", "--lr", "10"], "learning rate"),
    "learning rate out of range": (["text.txt", "--lr", "100"], "lr must be"),
    "n_embd and n_head": (
        ["text.txt", "--model", "transformer", "--n-embd", "30", "--n-head", "4"],
        "n_head",
    ),
    "dropout": (["text.txt", "--dropout", "1.5"], "dropout"),
    "a setting the model does not have": (
        ["text.txt", "--model", "lstm", "--n-head", "2"],
        "lstm has no setting n_head",
    ),
    "ema decay of 1": (["text.txt", "--ema-decay", "1"], "ema_decay must be"),
    "unknown device": (["text.txt", "--device", "quantum"], "device"),
    "missing file": (["absent.txt"], "no such file"),
    "missing checkpoint to resume": (["text.txt", "--resume", "nowhere"], "no such checkpoint"),
    "unknown model": (["text.txt", "--model", "gpt5"], "invalid choice"),
    "steps not a number": (["text.txt", "--steps", "many"], "invalid int value"),
}


@pytest.mark.parametrize("argv, words", BAD_OPTIONS.values(), ids=BAD_OPTIONS.keys())
def test_train_refuses_bad_options(existing, capsys, argv, words):
    (existing.parent / "short.txt").write_text("0123456789" * 5)
    before = snapshot(existing.parent)
    code, _, err = run(capsys, "train", "--out", "ckpt", *QUICK, *argv)
    assert_one_error_line(code, err, words)
    assert snapshot(existing.parent) == before


def test_train_refuses_a_file_over_the_size_limit(existing, capsys, monkeypatch):
    monkeypatch.setattr(charlm.data, "MAX_TEXT_BYTES", 500)
    before = snapshot(existing.parent)
    # text mode streams a bigger text from its token file (tests/test_tokens.py); lines mode reads it whole
    code, _, err = run(capsys, "train", "text.txt", "--mode", "lines", "--out", "ckpt", *QUICK)
    assert_one_error_line(code, err, "text.txt", "MB")
    assert snapshot(existing.parent) == before


def test_train_never_writes_over_a_directory_that_is_not_a_checkpoint(workdir, capsys):
    (workdir / "photos").mkdir()
    (workdir / "photos" / "cat.jpg").write_bytes(b"\xff\xd8 a cat")
    before = snapshot(workdir)
    code, _, err = run(capsys, "train", "text.txt", "--model", "bigram", "--out", "photos")
    assert_one_error_line(code, err, "not a charlm checkpoint")
    assert snapshot(workdir) == before


def test_resume_refuses_to_go_backwards(existing, capsys):
    before = snapshot(existing.parent)
    code, _, err = run(capsys, "train", "text.txt", "--resume", "ckpt", "--steps", "4")
    assert_one_error_line(code, err, "already trained 6 steps")
    assert snapshot(existing.parent) == before


@pytest.fixture
def foreign(workdir) -> Path:
    """A model directory written by another program: a transformers config and pickled weights."""
    path = workdir / "gpt2"
    path.mkdir()
    (path / "config.json").write_text(
        json.dumps({"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2"})
    )
    (path / "pytorch_model.bin").write_bytes(b"PK\x03\x04 not for us")
    return path


@pytest.mark.parametrize(
    "argv, words",
    [
        (["sample", "nowhere"], "no such checkpoint"),
        (["eval", "nowhere", "text.txt"], "no such checkpoint"),
        (["sample", "gpt2"], "not written by charlm"),
        (["eval", "gpt2", "text.txt"], "not written by charlm"),
        (["train", "text.txt", "--resume", "gpt2"], "not written by charlm"),
        (["sample", "text.txt"], "is a file"),
        (["sample", "ckpt", "--prompt", "Zebra€"], "'Z'"),
        (["sample", "ckpt", "--temperature", "-1"], "temperature"),
        (["sample", "ckpt", "--top-p", "2"], "top_p"),
        (["sample", "ckpt", "--num-samples", "0", "--json"], "num_samples"),
        (["sample", "ckpt", "--length", "0"], "length"),
        (["eval", "ckpt", "names.txt"], "not in the model's vocabulary"),
        (["eval", "ckpt", "absent.txt"], "no such file"),
        (["eval", "ckpt", "empty.txt"], "nothing to evaluate"),
    ],
)
def test_sample_and_eval_refuse_bad_input(existing, foreign, capsys, argv, words):
    (existing.parent / "empty.txt").write_text("")
    (existing.parent / "names.txt").write_text("Ödön\nÅsa\n")
    before = snapshot(existing.parent)
    code, out, err = run(capsys, *argv)
    assert_one_error_line(code, err, words)
    assert snapshot(existing.parent) == before


def subprocess_env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), "CUDA_VISIBLE_DEVICES": ""}


def test_python_m_charlm_help():
    done = subprocess.run(
        [sys.executable, "-m", "charlm", "--help"], capture_output=True, text=True, env=subprocess_env()
    )
    assert done.returncode == 0 and "usage: python -m charlm" in done.stdout
    for command in ("train", "sample", "eval"):
        assert command in done.stdout


@pytest.mark.slow  # three fresh Python processes, each importing torch
def test_python_m_charlm_train_sample_eval(workdir):
    def charlm(*argv):
        return subprocess.run(
            [sys.executable, "-m", "charlm", *argv],
            capture_output=True,
            text=True,
            env=subprocess_env(),
            cwd=workdir,
        )

    done = charlm("train", "text.txt", "--model", "bigram", "--out", "m", "--device", "cpu")
    assert done.returncode == 0, done.stderr
    done = charlm(
        "sample", "m", "--prompt", "the", "--num-samples", "2", "--length", "30", "--seed", "0", "--json"
    )
    assert done.returncode == 0, done.stderr
    samples = json.loads(done.stdout)
    assert len(samples) == 2 and all(s.startswith("the") and len(s) == 33 for s in samples)
    done = charlm("eval", "m", "text.txt", "--json")
    assert done.returncode == 0 and json.loads(done.stdout)["model"]["loss"] > 0
