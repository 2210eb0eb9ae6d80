"""charlm.checkpoint: round trips for every model, what the directory holds, clear errors for damaged or
foreign files, atomic saves that never lose the previous checkpoint, and safe checkpoint names."""

import json
import os
import pickle
from pathlib import Path

import pytest
import torch
from conftest import NAMES, TEXT, tiny_model, tiny_train_config, train_tiny

from charlm.checkpoint import (
    BESIDE_MODEL,
    checkpoint_path,
    delete_checkpoint,
    list_checkpoints,
    load_checkpoint,
    model_card,
    save_checkpoint,
)
from charlm.data import Vocab
from charlm.errors import CharlmError
from charlm.models import MODELS, model_config
from charlm.train import Trainer

MODES = [pytest.param(TEXT, "text", id="text"), pytest.param(NAMES, "lines", id="lines")]


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under root with its bytes: to show that nothing changed."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def logits_of(model, text: str = "the lazy dog") -> torch.Tensor:
    vocab = model.config.vocab
    idx = torch.tensor([[vocab.start_token] + vocab.encode(text[: model.config.block_size - 1])])
    model.eval()
    with torch.no_grad():
        return model(idx)[0]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A trained MLP saved with its trainer, metrics, corpus summary and samples."""
    trainer, _ = train_tiny("mlp", config=tiny_train_config(steps=10))
    path = tmp_path_factory.mktemp("ckpt") / "mlp"
    save_checkpoint(
        path,
        trainer.model,
        trainer=trainer,
        metrics=trainer.metrics(),
        corpus_summary=trainer.corpus.summary(),
        samples=["the lazy ```code``` dog", "a stitch"],
    )
    return path, trainer


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("text, mode", MODES)
def test_round_trip_gives_identical_logits(tmp_path, name, text, mode):
    trainer, _ = train_tiny(
        name, text, mode, tiny_train_config(steps=3, lr=max(1e-2, MODELS[name].default_lr))
    )
    before = logits_of(trainer.model, "emma" if mode == "lines" else "the lazy dog")
    save_checkpoint(tmp_path / "c", trainer.model, trainer=trainer, metrics=trainer.metrics())
    checkpoint = load_checkpoint(tmp_path / "c")
    assert type(checkpoint.model) is type(trainer.model)
    assert checkpoint.model.config == trainer.model.config
    assert torch.equal(logits_of(checkpoint.model, "emma" if mode == "lines" else "the lazy dog"), before)
    assert checkpoint.train_config == trainer.config


@pytest.mark.parametrize("name", MODELS)
def test_the_hub_mixin_alone_loads_a_checkpoint(tmp_path, name):
    """PyTorchModelHubMixin rebuilds the config dataclass from `__init__`'s annotation: this breaks if a
    model module uses `from __future__ import annotations`."""
    model, _ = tiny_model(name)
    with torch.no_grad():
        for tensor in model.state_dict().values():
            tensor.add_(torch.rand_like(tensor))
    save_checkpoint(tmp_path / "c", model)
    cls = MODELS[name]
    loaded = cls.from_pretrained(tmp_path / "c")
    assert isinstance(loaded.config, cls.config_class)
    assert loaded.config == model.config
    assert torch.equal(logits_of(loaded), logits_of(model))


def test_config_json_alone_rebuilds_vocab_and_settings(saved):
    path, trainer = saved
    config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    assert config["model_type"] == "mlp" and config["charlm_version"]
    assert config["train"]["steps"] == 10 and config["corpus"]["characters"] == len(TEXT)
    rebuilt = model_config(config["model_type"], **{k: v for k, v in config.items() if k not in BESIDE_MODEL})
    assert rebuilt == trainer.model.config
    vocab = Vocab(config["chars"], config["mode"] == "lines")
    assert vocab == trainer.corpus.vocab
    assert vocab.encode("the dog") == trainer.corpus.vocab.encode("the dog")


def test_metrics_and_model_card(saved):
    path, trainer = saved
    metrics = json.loads((path / "metrics.json").read_text(encoding="utf-8"))
    for key in ("train_loss", "val_loss", "val_bpc", "steps", "tokens_per_second", "elapsed_seconds"):
        assert isinstance(metrics[key], (int, float)), key
    assert metrics["steps"] == 10 and metrics["samples"][1] == "a stitch"
    assert load_checkpoint(path).metrics["val_loss"] == metrics["val_loss"]

    card = (path / "README.md").read_text(encoding="utf-8")
    assert card.startswith("---\n")
    front, body = card[4:].split("\n---\n", 1)
    assert "library_name: charlm" in front and "- mlp" in front and "text-generation" in front
    assert "# charlm mlp" in body and f"{metrics['val_loss']:.4f}" in body
    assert "````text\nthe lazy ```code``` dog" in body  # a fence longer than any run of backticks inside


def test_nan_metrics_become_null(tmp_path):
    model, _ = tiny_model("mlp")
    save_checkpoint(tmp_path / "c", model, metrics={"val_loss": float("nan"), "steps": 0})
    assert json.loads((tmp_path / "c" / "metrics.json").read_text())["val_loss"] is None
    assert "Not evaluated" in model_card(json.loads((tmp_path / "c" / "config.json").read_text()), {})


def copy_checkpoint(saved, tmp_path: Path) -> Path:
    path = tmp_path / "copy"
    path.mkdir()
    for f in saved[0].iterdir():
        (path / f.name).write_bytes(f.read_bytes())
    return path


class Unpickled:
    """Unpickling this writes a file: a test can see whether a loader ever unpickled anything."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def missing_dir(path):
    return path.parent / "nowhere", "nowhere"


def a_file(path):
    file = path.parent / "file.txt"
    file.write_text("hello")
    return file, "file.txt"


def no_config(path):
    (path / "config.json").unlink()
    return path, "config.json"


def damaged_json(path):
    (path / "config.json").write_text('{"model_type": "mlp", "chars": ')
    return path, "config.json"


def truncated_weights(path):
    weights = path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:300])
    return path, "model.safetensors"


def transformers_config(path):
    (path / "config.json").write_text(
        json.dumps({"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2"})
    )
    return path, "config.json"


def pickle_only(path):
    (path / "model.safetensors").unlink()
    (path / "pytorch_model.bin").write_bytes(pickle.dumps(Unpickled(path / "UNPICKLED")))
    return path, "model.safetensors"


def unknown_model_type(path):
    config = json.loads((path / "config.json").read_text())
    (path / "config.json").write_text(json.dumps({**config, "model_type": "gpt9"}))
    return path, "config.json"


def other_vocabulary(path):
    config = json.loads((path / "config.json").read_text())
    (path / "config.json").write_text(json.dumps({**config, "chars": config["chars"] + "ÿ"}))
    return path, "model.safetensors"


def damaged_metrics(path):
    (path / "metrics.json").write_text("{oops")
    return path, "metrics.json"


def damaged_trainer_state(path):
    (path / "trainer_state.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}garbage")
    return path, "trainer_state.safetensors"


@pytest.mark.parametrize(
    "damage",
    [
        missing_dir,
        a_file,
        no_config,
        damaged_json,
        truncated_weights,
        transformers_config,
        pickle_only,
        unknown_model_type,
        other_vocabulary,
        damaged_metrics,
        damaged_trainer_state,
    ],
)
def test_a_damaged_or_foreign_checkpoint_gives_a_clear_error(saved, tmp_path, damage):
    path, culprit = damage(copy_checkpoint(saved, tmp_path))
    with pytest.raises(CharlmError) as error:
        load_checkpoint(path)
    assert culprit in str(error.value)
    assert "\n" not in str(error.value)
    assert not (path.parent / "copy" / "UNPICKLED").exists()  # nothing was unpickled


def test_saving_over_something_else_is_refused_and_leaves_it_intact(tmp_path):
    model, _ = tiny_model("mlp")
    other = tmp_path / "photos"
    other.mkdir()
    (other / "cat.jpg").write_bytes(b"\xff\xd8 not really a cat")
    (other / "config.json").write_text('{"model_type": "gpt2"}')
    before = snapshot(tmp_path)
    with pytest.raises(CharlmError, match="not a charlm checkpoint"):
        save_checkpoint(other, model)
    assert snapshot(tmp_path) == before
    (tmp_path / "notes.txt").write_text("keep me")
    before = snapshot(tmp_path)
    with pytest.raises(CharlmError, match="not a charlm checkpoint"):
        save_checkpoint(tmp_path / "notes.txt", model)
    assert snapshot(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "photos"]


def test_saving_over_a_checkpoint_replaces_it(tmp_path):
    a, _ = tiny_model("mlp", seed=1)
    b, _ = tiny_model("mlp", seed=2)
    save_checkpoint(tmp_path / "c", a)
    save_checkpoint(tmp_path / "c", b)
    assert torch.equal(logits_of(load_checkpoint(tmp_path / "c").model), logits_of(b))
    assert [p.name for p in tmp_path.iterdir()] == ["c"]


def fail_writing_the_card(monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("charlm.checkpoint.model_card", broken)


def fail_swapping_in(monkeypatch):
    """The second rename of the swap fails: the old checkpoint has moved aside, the new not yet in."""
    rename, calls = os.rename, []

    def flaky(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError("disk full")
        rename(src, dst)

    monkeypatch.setattr("charlm.checkpoint.os.rename", flaky)


def interrupted(monkeypatch):
    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("charlm.checkpoint.save_file", stop)


@pytest.mark.parametrize("failure", [fail_writing_the_card, fail_swapping_in, interrupted])
def test_a_failed_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch, failure):
    old, _ = tiny_model("mlp", seed=1)
    new, corpus = tiny_model("mlp", seed=2)

    save_checkpoint(tmp_path / "c", old)
    before = snapshot(tmp_path)
    failure(monkeypatch)
    with pytest.raises((OSError, KeyboardInterrupt)):
        save_checkpoint(tmp_path / "c", new, trainer=Trainer(new, corpus, tiny_train_config()))
    monkeypatch.undo()
    assert snapshot(tmp_path) == before
    assert [p.name for p in tmp_path.iterdir()] == ["c"]  # no temporary directories left behind
    assert torch.equal(logits_of(load_checkpoint(tmp_path / "c").model), logits_of(old))


@pytest.mark.parametrize(
    "name",
    ["../x", "/abs", "a/b", "", "  ", "..", "a..b", ".hidden", "sp ace", "t\tab", "é", "x" * 65, "a\\b"],
)
def test_checkpoint_path_refuses_names_that_could_escape(tmp_path, name):
    with pytest.raises(CharlmError, match="not a valid checkpoint name"):
        checkpoint_path(tmp_path, name)


def test_checkpoint_path_accepts_plain_names(tmp_path):
    assert checkpoint_path(tmp_path, "names-mlp_2.v1") == tmp_path.resolve() / "names-mlp_2.v1"
    assert checkpoint_path(tmp_path, " spaced ") == tmp_path.resolve() / "spaced"


def test_list_and_delete_checkpoints(tmp_path, saved):
    model, _ = tiny_model("lstm")
    save_checkpoint(tmp_path / "one", model, metrics={"val_loss": 1.5, "num_params": 7, "steps": 3})
    (tmp_path / "two").mkdir()
    (tmp_path / "two" / "config.json").write_text('{"model_type": "gpt2"}')
    (tmp_path / ".one.abc.tmp").mkdir()
    rows = list_checkpoints(tmp_path)
    assert [(r["name"], r["model"], r["val_loss"], r["params"], r["steps"]) for r in rows] == [
        ("one", "lstm", 1.5, 7, 3)
    ]
    assert list_checkpoints(tmp_path / "absent") == []
    with pytest.raises(CharlmError, match="no checkpoint named 'two'"):
        delete_checkpoint(tmp_path, "two")
    with pytest.raises(CharlmError, match="not a valid checkpoint name"):
        delete_checkpoint(tmp_path, "../" + tmp_path.name)
    delete_checkpoint(tmp_path, "one")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".one.abc.tmp", "two"]


def test_a_hand_edited_setting_is_named(tmp_path):
    trainer, _ = train_tiny("transformer")
    path = save_checkpoint(tmp_path / "ck", trainer.model)
    config = json.loads((path / "config.json").read_text())
    config["n_head"] = 3  # 16 is not a multiple of 3
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(CharlmError, match=r"config.json holds a setting .*n_head \(3\)"):
        load_checkpoint(path)


def test_a_hand_edited_setting_the_model_lacks_refuses_to_load_with_its_name(saved, tmp_path):
    path = copy_checkpoint(saved, tmp_path)
    config = json.loads((path / "config.json").read_text())
    (path / "config.json").write_text(json.dumps({**config, "n_embdd": 64}))  # a typo, by hand
    with pytest.raises(CharlmError, match="config.json holds setting.s. n_embdd"):
        load_checkpoint(path)
