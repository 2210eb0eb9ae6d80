"""charlm's Hub sharing through the real huggingface_hub client, against the FakeHub on 127.0.0.1:
push, list, pull, identical logits, the model card's metadata, and every error with its message."""

import json
import shutil
from pathlib import Path

import pytest
import torch
from conftest import tiny_model, tiny_train_config
from hub_server import READ_TOKEN, WRITE_TOKEN, FakeHub, set_offline
from huggingface_hub import HfApi, ModelCard

from charlm.__main__ import main
from charlm.checkpoint import load_checkpoint, save_checkpoint
from charlm.errors import CharlmError
from charlm.hub import pull, push
from charlm.train import Trainer, loss_metrics

REPO = "alice/tiny-lstm"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    model, corpus = tiny_model("lstm")
    trainer = Trainer(model, corpus, tiny_train_config())
    history = list(trainer.run())
    path = tmp_path_factory.mktemp("ckpt") / "tiny"
    metrics = trainer.metrics()
    summary = {**corpus.summary(), "dataset": "alice/verses"}  # as if the corpus came from a Hub dataset
    return save_checkpoint(
        path,
        trainer.model,
        trainer=trainer,
        metrics=metrics,
        corpus_summary=summary,
        samples=["the fox", "a dog"],
        history=history,
    )


def logits_of(path: Path) -> torch.Tensor:
    model = load_checkpoint(path).model
    idx = torch.arange(model.config.vocab_size)[None, :12] % model.config.vocab_size
    return model(idx)[0]


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_push_list_pull_gives_identical_logits(
    hub: FakeHub, checkpoint: Path, tmp_path: Path, capsys
) -> None:
    code, out = run(capsys, "push", str(checkpoint), REPO, "--token", WRITE_TOKEN)
    assert code == 0 and f"{hub.url}/{REPO}" in out
    files = HfApi(token=WRITE_TOKEN).list_repo_files(REPO)
    assert {
        "config.json",
        "model.safetensors",
        "metrics.json",
        "README.md",
        "trainer_state.safetensors",
        "loss_curve.png",
    } <= set(files)

    code, out = run(capsys, "pull", REPO, "--out", str(tmp_path / "pulled"))
    assert code == 0 and str(tmp_path / "pulled") in out
    assert torch.equal(logits_of(checkpoint), logits_of(tmp_path / "pulled"))
    assert WRITE_TOKEN not in out


def test_the_cards_three_lines_load_a_pushed_model(hub: FakeHub, checkpoint: Path) -> None:
    import charlm

    push(checkpoint, REPO, token=WRITE_TOKEN)
    model = charlm.load(REPO)
    idx = torch.arange(model.config.vocab_size)[None, :12]
    assert torch.equal(model(idx)[0], load_checkpoint(checkpoint).model(idx)[0])
    assert len(charlm.sample(model, num_samples=2, length=10, seed=0)) == 2


def test_pull_to_cache_and_a_revision(hub: FakeHub, checkpoint: Path) -> None:
    push(checkpoint, REPO, token=WRITE_TOKEN)
    first = HfApi().model_info(REPO).sha
    push(
        checkpoint, REPO, token=WRITE_TOKEN
    )  # an identical second push still lands as its own commit or none
    cached = pull(REPO, revision=first)
    assert first in cached.parts and torch.equal(logits_of(cached), logits_of(checkpoint))


def test_the_card_round_trips_through_huggingface_hub(hub: FakeHub, checkpoint: Path, tmp_path: Path) -> None:
    push(checkpoint, REPO, token=WRITE_TOKEN, description="Trained on *verses* <b>by me</b>.")
    card = ModelCard.load(pull(REPO, out=tmp_path / "p") / "README.md")  # huggingface_hub's own parser
    data, metrics = card.data, load_checkpoint(checkpoint).metrics
    assert data.library_name == "charlm" and data.pipeline_tag == "text-generation" and data.license == "mit"
    assert {"character-level", "charlm", "lstm"} <= set(data.tags) and data.datasets == ["alice/verses"]
    results = {r.metric_type: r for r in data.eval_results}
    expected = loss_metrics(metrics["val_loss"])
    assert sorted(results) == ["bpc", "loss", "perplexity"]
    for kind, key in (("loss", "loss"), ("bpc", "bpc"), ("perplexity", "perplexity")):
        assert results[kind].metric_value == pytest.approx(expected[key], abs=1e-4)
        assert results[kind].dataset_type == "alice/verses" and results[kind].dataset_split == "validation"
    assert data.get("charlm")["parameters"] == metrics["num_params"]
    assert (
        data.get("charlm")["corpus"]["characters"]
        == load_checkpoint(checkpoint).config["corpus"]["characters"]
    )
    assert f'charlm.load("{REPO}")' in card.text  # the card is rewritten with the repo id on push
    assert (
        "Trained on *verses* <b>by me</b>." in card.text
        and "A character-level language model" not in card.text
    )
    assert all(f"At temperature {t}:" in card.text for t in ("0.5", "0.8", "1"))
    assert "![Training and validation loss](loss_curve.png)" in card.text


def test_the_loss_curve_png_is_pushed_with_the_model(hub: FakeHub, checkpoint: Path, tmp_path: Path) -> None:
    push(checkpoint, REPO, token=WRITE_TOKEN)
    assert "loss_curve.png" in HfApi().list_repo_files(REPO)
    png = (pull(REPO, out=tmp_path / "p") / "loss_curve.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000  # a drawn chart, not an empty image
    history = load_checkpoint(checkpoint).metrics["history"]
    assert history[-1]["step"] == 20 and sum(r["val_loss"] is not None for r in history) >= 2


def test_an_old_checkpoint_without_history_still_loads_and_pushes(
    hub: FakeHub, checkpoint: Path, tmp_path: Path
):
    old = tmp_path / "old"
    shutil.copytree(checkpoint, old)
    metrics = json.loads((old / "metrics.json").read_text())
    del metrics["history"]
    (old / "metrics.json").write_text(json.dumps(metrics))
    assert torch.equal(logits_of(old), logits_of(checkpoint))
    push(old, "alice/old", token=WRITE_TOKEN)
    assert "loss_curve.png" not in HfApi().list_repo_files("alice/old")
    card = ModelCard.load(pull("alice/old") / "README.md")
    assert "No training history was saved." in card.text and card.data.eval_results[0].metric_type == "loss"


def test_push_private_is_hidden_from_others(hub: FakeHub, checkpoint: Path, capsys) -> None:
    assert run(capsys, "push", str(checkpoint), REPO, "--private", "--token", WRITE_TOKEN)[0] == 0
    hub.tokens["hf_bob_token"] = ("bob", "write")
    code, out = run(capsys, "pull", REPO, "--token", "hf_bob_token")
    assert code == 2 and "does not exist on the Hub, or it is private" in out
    assert "hf_bob_token" not in out


@pytest.mark.parametrize(
    "token, message",
    [
        (None, "pushing needs a Hugging Face token"),
        ("hf_not_a_real_token", "rejected the token (401"),
        (READ_TOKEN, "may not write to alice/tiny-lstm (403"),
    ],
)
def test_push_token_errors(hub: FakeHub, checkpoint: Path, capsys, token, message) -> None:
    code, out = run(capsys, "push", str(checkpoint), REPO, *(["--token", token] if token else []))
    assert code == 2 and message in out and out.startswith("error:") and out.count("\n") == 1
    if token:
        assert token not in out
    assert not HfApi(token=WRITE_TOKEN).repo_exists(REPO)


def test_token_from_environment(hub: FakeHub, checkpoint: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("HF_TOKEN", WRITE_TOKEN)
    code, out = run(capsys, "push", str(checkpoint), REPO)
    assert code == 0 and WRITE_TOKEN not in out


def test_pull_errors(hub: FakeHub, checkpoint: Path, tmp_path: Path, capsys) -> None:
    push(checkpoint, REPO, token=WRITE_TOKEN)
    hub.seed("bob/gpt2", {"config.json": b'{"model_type": "gpt2"}', "model.safetensors": b"\0" * 64})
    hub.seed("bob/notes", {"README.md": b"# just notes"})
    cases = {
        ("alice/missing",): "alice/missing does not exist on the Hub",
        (REPO, "--revision", "v9"): "revision 'v9' does not exist in alice/tiny-lstm",
        ("bob/gpt2",): "bob/gpt2 is not a charlm model",
        ("bob/notes",): "bob/notes is not a charlm model: it has no config.json",
        ("no slash",): "is not a valid Hub repo id",
    }
    for argv, message in cases.items():
        code, out = run(capsys, "pull", *argv, "--out", str(tmp_path / "out"))
        assert code == 2 and message in out, (argv, out)
    assert not (tmp_path / "out").exists()


def test_pull_keeps_what_is_on_disk_when_it_fails(
    hub: FakeHub, checkpoint: Path, tmp_path: Path, capsys
) -> None:
    push(checkpoint, REPO, token=WRITE_TOKEN)
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    code, text = run(capsys, "pull", REPO, "--out", str(out))
    assert code == 2 and "is not a charlm checkpoint" in text
    assert (out / "notes.txt").read_text() == "mine"


def test_no_network(hub: FakeHub, checkpoint: Path, capsys) -> None:
    push(checkpoint, REPO, token=WRITE_TOKEN)
    pull(REPO)  # now cached
    hub.offline = True
    assert torch.equal(logits_of(pull(REPO)), logits_of(checkpoint))  # the cached copy still loads
    code, out = run(capsys, "pull", "alice/never-pulled")
    assert code == 2 and "could not reach the Hub" in out
    code, out = run(capsys, "push", str(checkpoint), REPO, "--token", WRITE_TOKEN)
    assert code == 2 and "could not reach the Hub" in out and WRITE_TOKEN not in out


def test_offline_mode(hub: FakeHub, checkpoint: Path, monkeypatch, capsys) -> None:
    push(checkpoint, REPO, token=WRITE_TOKEN)
    pull(REPO)
    set_offline(monkeypatch, True)
    before = len(hub.requests)
    assert torch.equal(logits_of(pull(REPO)), logits_of(checkpoint))
    code, out = run(capsys, "pull", "alice/never-pulled")
    assert code == 2 and "not in the local cache" in out and "HF_HUB_OFFLINE" in out
    code, out = run(capsys, "push", str(checkpoint), REPO, "--token", WRITE_TOKEN)
    assert code == 2 and "offline mode" in out
    assert len(hub.requests) == before  # offline means no request at all


def test_interrupted_download(hub: FakeHub, checkpoint: Path, tmp_path: Path, capsys) -> None:
    push(checkpoint, REPO, token=WRITE_TOKEN)
    hub.fail_downloads_after_bytes = 100
    code, out = run(capsys, "pull", REPO, "--out", str(tmp_path / "half"))
    assert code == 2 and "interrupted" in out
    assert not (tmp_path / "half").exists()
    hub.fail_downloads_after_bytes = None
    assert run(capsys, "pull", REPO, "--out", str(tmp_path / "half"))[0] == 0


def test_push_refuses_what_is_not_a_checkpoint(hub: FakeHub, tmp_path: Path) -> None:
    with pytest.raises(CharlmError, match="not a charlm checkpoint"):
        push(tmp_path, REPO, token=WRITE_TOKEN)
