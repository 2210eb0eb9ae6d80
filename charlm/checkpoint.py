"""The only code that reads or writes checkpoints. A checkpoint is a directory: config.json (model,
vocabulary, corpus mode, training settings), model.safetensors, metrics.json, the trainer state for
resuming, and a README.md model card. Nothing is ever unpickled."""

import contextlib
import io
import json
import math
import os
import re
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from charlm.card import history_rows, model_card
from charlm.data import Corpus
from charlm.errors import CharlmError
from charlm.models import MODELS, CharLM, check_config
from charlm.tokens import open_corpus
from charlm.train import Progress, TrainConfig, Trainer

VERSION = "0.1.0"
CONFIG, WEIGHTS, METRICS, TRAINER_STATE, CARD = (
    "config.json",
    "model.safetensors",
    "metrics.json",
    "trainer_state.safetensors",
    "README.md",
)
BESIDE_MODEL = ("charlm_version", "train", "corpus")  # config.json's keys that are not the model's fields
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass
class Checkpoint:
    path: Path
    model: CharLM
    config: dict  # all of config.json: the model's fields plus "train" and "corpus"
    metrics: dict
    trainer_state: dict[str, torch.Tensor] | None

    @property
    def train_config(self) -> TrainConfig:
        return TrainConfig(**self.config.get("train", {}))  # read_config checked the names


def save_checkpoint(
    path: str | Path,
    model: CharLM,
    *,
    trainer: Trainer | None = None,
    metrics: dict | None = None,
    corpus_summary: dict | None = None,
    samples: list[str] | None = None,
    train_config: TrainConfig | None = None,
    trainer_state: dict[str, torch.Tensor] | None = None,
    history: list[Progress] | None = None,
) -> Path:
    """Write the checkpoint directory atomically (see `replace_dir`).

    The training settings and the state a resumed run needs come from `trainer`, or, for a model that
    was loaded rather than trained here, from `train_config` and `trainer_state`. `history`, the run's
    progress events, goes into metrics.json (thinned) for the model card's loss curve.
    """
    if trainer is not None:
        train_config, trainer_state = trainer.config, trainer.state_dict()
    config = {
        **asdict(model.config),
        "charlm_version": VERSION,
        "train": asdict(train_config) if train_config else {},
        "corpus": corpus_summary or {},
    }
    metrics = {**(metrics or {}), "samples": samples or [], "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
    if history:
        metrics["history"] = history_rows(history)

    def write(staging: Path) -> None:
        model.save_pretrained(staging, config=config, model_card_kwargs={})
        (staging / METRICS).write_text(
            json.dumps(_jsonable(metrics), indent=2, ensure_ascii=False), encoding="utf-8"
        )
        if trainer_state is not None:
            save_file({k: v.contiguous() for k, v in trainer_state.items()}, str(staging / TRAINER_STATE))
        (staging / CARD).write_text(model_card(config, metrics), encoding="utf-8")

    return replace_dir(path, write)


def replace_dir(path: str | Path, write) -> Path:
    """Let `write(staging)` fill a temporary sibling of `path`, then swap it in as `path`.

    A crash at any point leaves the previous checkpoint at `path` intact. An existing `path` that
    is not a charlm checkpoint is never replaced.
    """
    path = Path(path)
    if path.exists() and not is_checkpoint(path):
        raise CharlmError(
            f"{path} exists and is not a charlm checkpoint; choose another name so nothing is overwritten."
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        write(tmp)
        _swap_in(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _swap_in(tmp: Path, path: Path) -> None:
    for f in tmp.iterdir():  # the bytes are on disk before the directory becomes the checkpoint
        with open(f, "rb") as handle:
            os.fsync(handle.fileno())
    if not path.exists():
        os.rename(tmp, path)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
    previous = old / "previous"
    try:
        os.rename(path, previous)
        os.rename(tmp, path)
    except BaseException:
        if previous.exists():  # the new one did not get in: put the previous checkpoint back
            os.rename(previous, path)
        old.rmdir()
        raise
    shutil.rmtree(old, ignore_errors=True)


def _jsonable(value):
    """JSON has no NaN or infinity: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def is_checkpoint(path: Path) -> bool:
    try:
        return "charlm_version" in json.loads((Path(path) / CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        return False


def read_config(path: str | Path) -> dict:
    """config.json of a checkpoint directory, checked to be charlm's, with a clear error if not."""
    path = Path(path)
    if not path.exists():
        raise CharlmError(f"{path}: no such checkpoint. Give the directory `charlm train --out` wrote.")
    if not path.is_dir():
        raise CharlmError(
            f"{path} is a file; a charlm checkpoint is a directory holding {CONFIG} and {WEIGHTS}."
        )
    file = path / CONFIG
    if not file.is_file():
        raise CharlmError(f"{file} is missing: {path} is not a charlm checkpoint.")
    try:
        config = json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise CharlmError(
            f"{file} is damaged: not valid JSON ({e}). Save or download the checkpoint again."
        ) from None
    if not isinstance(config, dict) or "charlm_version" not in config:
        raise CharlmError(
            f"{file} was not written by charlm (it has no charlm_version): not a charlm checkpoint."
        )
    if config.get("model_type") not in MODELS or not isinstance(config.get("chars"), str):
        raise CharlmError(
            f"{file} names model_type {config.get('model_type')!r}, which this charlm does not know "
            f"({', '.join(MODELS)}). Upgrade charlm or check the checkpoint."
        )
    known = {f.name for f in fields(MODELS[config["model_type"]].config_class)}
    unknown = sorted(set(config) - known - set(BESIDE_MODEL))
    unknown += sorted(
        f"train.{k}" for k in set(config.get("train") or {}) - {f.name for f in fields(TrainConfig)}
    )
    if unknown:
        raise CharlmError(
            f"{file} holds setting(s) {', '.join(unknown)} that a {config['model_type']} does not have "
            "(a typo, or a newer charlm's checkpoint): correct or remove them."
        )
    return config


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> Checkpoint:
    """Rebuild the model from a checkpoint directory, with every setting it needs from config.json."""
    path = Path(path)
    config = read_config(path)
    weights = path / WEIGHTS
    if not weights.is_file():
        raise CharlmError(
            f"{weights} is missing. charlm loads safetensors weights only (it never unpickles files)."
        )
    cls = MODELS[config["model_type"]]
    try:
        check_config(cls.config_class(**{k: v for k, v in config.items() if k not in BESIDE_MODEL}))
    except (CharlmError, TypeError) as e:
        raise CharlmError(f"{path / CONFIG} holds a setting no model can be built with: {e}") from None
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the mixin prints where it loads from
            model = cls.from_pretrained(path, strict=True, map_location=str(device))
    except (SafetensorError, RuntimeError, ValueError, OSError) as e:
        reason = str(e).splitlines()[0][:200]
        raise CharlmError(
            f"{weights} is damaged or does not match {CONFIG} ({reason}). Save or download it again."
        ) from None
    except (TypeError, AssertionError) as e:
        raise CharlmError(f"{path / CONFIG} holds settings charlm cannot build a model from ({e}).") from None
    metrics = read_json(path / METRICS)
    state = None
    if (path / TRAINER_STATE).is_file():
        try:
            state = load_file(str(path / TRAINER_STATE))
        except (SafetensorError, OSError) as e:
            raise CharlmError(
                f"{path / TRAINER_STATE} is damaged ({e}); delete it to load the model without it."
            ) from None
    return Checkpoint(path, model, config, metrics, state)


def read_json(file: Path) -> dict:
    if not file.is_file():
        return {}
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise CharlmError(
            f"{file} is damaged: not valid JSON. Delete it or save the checkpoint again."
        ) from None


def checkpoint_path(root: str | Path, name: str) -> Path:
    """The directory for checkpoint `name` inside `root`; names that could escape `root` are refused."""
    name = (name or "").strip()
    if not NAME_PATTERN.match(name) or ".." in name:
        raise CharlmError(
            f"{name!r} is not a valid checkpoint name: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (no slashes, no '..')."
        )
    root = Path(root).resolve()
    path = (root / name).resolve()
    if path.parent != root:
        raise CharlmError(f"{name!r} would point outside {root}; choose a plain name.")
    return path


def list_checkpoints(root: str | Path) -> list[dict]:
    """Every checkpoint in `root`: name, model type, size, validation loss and date, newest first."""
    rows = []
    root = Path(root)
    for path in sorted(root.iterdir()) if root.is_dir() else []:
        if path.name.startswith(".") or not is_checkpoint(path):
            continue
        config = json.loads((path / CONFIG).read_text(encoding="utf-8"))
        try:
            metrics = read_json(path / METRICS)
        except CharlmError:
            metrics = {}
        rows.append(
            {
                "name": path.name,
                "model": config.get("model_type"),
                "params": metrics.get("num_params"),
                "val_loss": metrics.get("val_loss"),
                "steps": metrics.get("steps"),
                "saved": metrics.get("saved_at")
                or time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(path.stat().st_mtime)),
            }
        )
    return sorted(rows, key=lambda r: r["saved"], reverse=True)


def delete_checkpoint(root: str | Path, name: str) -> None:
    path = checkpoint_path(root, name)
    if not is_checkpoint(path):
        raise CharlmError(f"there is no checkpoint named {name!r} in {root}.")
    shutil.rmtree(path)


def resume(checkpoint: Checkpoint, text: str | Path, **overrides) -> Trainer:
    """A trainer that continues `checkpoint` on `text` (or the text file at that Path, which a big one
    reads through its token file) where it stopped, optimizer state included.

    `overrides` change training settings (say `steps`, the new total); the rest come from the checkpoint.
    """
    config = checkpoint.train_config
    for key, value in overrides.items():
        if value is not None:
            setattr(config, key, value)
    vocab = checkpoint.model.config.vocab
    corpus = (open_corpus if isinstance(text, Path) else Corpus.from_text)(
        text, checkpoint.model.config.mode, val_fraction=config.val_fraction, seed=config.seed, vocab=vocab
    )
    trainer = Trainer(checkpoint.model, corpus, config)
    if checkpoint.trainer_state is not None:
        trainer.load_state_dict(checkpoint.trainer_state)
    return trainer
