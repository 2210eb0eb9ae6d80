"""Finding charlm models on the Hub: the FakeHub's /api/models against the real client (filters, search,
sort, expanded fields, Link-header pages), charlm.hub.search's rows from the cards' metadata, paging,
`python -m charlm search`, loading a found model, and every error (offline, no such repo, not charlm)."""

import json
from pathlib import Path

import pytest
from conftest import train_tiny
from hub_server import WRITE_TOKEN, FakeHub, set_offline
from huggingface_hub import HfApi

from charlm.__main__ import main
from charlm.checkpoint import load_checkpoint, save_checkpoint
from charlm.errors import CharlmError
from charlm.hub import pull, push, search

CARD = b"---\nlibrary_name: %s\ntags:\n- %s\n---\n# %s\n"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    trainer, _ = train_tiny("mlp")
    path = tmp_path_factory.mktemp("ckpt") / "tiny"
    summary = trainer.corpus.summary()
    return save_checkpoint(
        path, trainer.model, trainer=trainer, metrics=trainer.metrics(), corpus_summary=summary
    )


def seed_cards(hub: FakeHub, n: int, library: str = "charlm", tag: str = "mlp") -> list[str]:
    """n repos whose cards name `library`, each with n - i downloads and i likes."""
    repos = []
    for i in range(n):
        repo = f"alice/{library}-{i}"
        hub.seed(repo, {"README.md": CARD % (library.encode(), tag.encode(), repo.encode())})
        hub.repos[("model", repo)].downloads, hub.repos[("model", repo)].likes = n - i, i
        repos.append(repo)
    return repos


def test_the_listing_answers_the_real_clients_query(hub: FakeHub) -> None:
    repos = seed_cards(hub, 5)
    seed_cards(hub, 2, library="transformers")
    hub.models_page_size = 2  # five models: three pages, followed through the Link header
    api = HfApi()
    assert [m.id for m in api.list_models(filter="charlm", sort="downloads")] == repos
    assert [m.id for m in api.list_models(filter="charlm", sort="likes")] == repos[::-1]
    assert [m.id for m in api.list_models(filter="charlm", sort="last_modified")] == repos[::-1]
    assert [m.id for m in api.list_models(filter=["charlm", "mlp"], search="CHARLM-3")] == ["alice/charlm-3"]
    assert [m.id for m in api.list_models(filter=["charlm", "lstm"])] == []
    assert len(list(api.list_models())) == 7 and hub.requests.count("GET /api/models") >= 3 + 1 + 4
    first = next(iter(api.list_models(filter="charlm", sort="downloads", expand=["cardData", "likes"])))
    assert first.card_data.library_name == "charlm" and first.likes == 0 and first.downloads is None


def test_private_models_are_listed_to_their_owner_only(hub: FakeHub) -> None:
    hub.seed("alice/secret", {"README.md": CARD % (b"charlm", b"mlp", b"x")}, private=True)
    assert [m.id for m in HfApi().list_models(filter="charlm")] == []
    assert [m.id for m in HfApi(token=WRITE_TOKEN).list_models(filter="charlm")] == ["alice/secret"]


def test_search_reads_each_row_from_the_card(hub: FakeHub, checkpoint: Path) -> None:
    push(checkpoint, "alice/names", token=WRITE_TOKEN)
    seed_cards(hub, 1, library="transformers")
    page = search()
    assert [r.repo for r in page.rows] == ["alice/names"] and not page.has_more
    row, metrics = page.rows[0], load_checkpoint(checkpoint).metrics
    assert row.model == "mlp" and row.params == metrics["num_params"]
    assert row.val_loss == pytest.approx(metrics["val_loss"], abs=1e-4)
    characters = load_checkpoint(checkpoint).config["corpus"]["characters"]
    assert row.corpus == f"{characters:,} characters, text mode" and row.downloads == 0
    assert not any(r.endswith("model.safetensors") for r in hub.requests)  # no weights to list them
    pull("alice/names")
    assert search().rows[0].downloads == 1  # a pull is a download, as the Hub counts them


def test_search_pages_sorts_and_filters(hub: FakeHub) -> None:
    repos = seed_cards(hub, 5)
    hub.models_page_size = 3
    pages = [search(sort="downloads", limit=2, page=p) for p in range(3)]
    assert [[r.repo for r in p.rows] for p in pages] == [repos[:2], repos[2:4], repos[4:]]
    assert [p.has_more for p in pages] == [True, True, False]
    assert [r.repo for r in search(sort="likes", limit=5).rows] == repos[::-1]
    assert [r.repo for r in search("charlm-2").rows] == ["alice/charlm-2"]
    assert search("nothing-like-it").rows == []
    for args, message in (({"sort": "stars"}, "sort by one of"), ({"limit": 0}, "1 to 100")):
        with pytest.raises(CharlmError, match=message):
            search(**args)


def test_a_listed_repo_that_is_not_a_charlm_model(hub: FakeHub) -> None:
    seed_cards(hub, 1)  # tagged charlm, but a card with no charlm block and no config.json
    row = search().rows[0]
    assert (row.model, row.params, row.val_loss, row.corpus) == (None, None, None, "?")
    assert row.cells()[:5] == ["alice/charlm-0", "?", "?", "?", "-"]
    with pytest.raises(CharlmError, match="alice/charlm-0 is not a charlm model"):
        pull("alice/charlm-0")
    with pytest.raises(CharlmError, match="alice/nowhere does not exist on the Hub"):
        pull("alice/nowhere")


def test_offline_search_says_so_in_one_line_and_cached_models_load(hub: FakeHub, checkpoint, monkeypatch):
    push(checkpoint, "alice/names", token=WRITE_TOKEN)
    pull("alice/names")
    hub.offline = True
    with pytest.raises(CharlmError, match="the Hub cannot be reached") as error:
        search()
    assert str(error.value).count("\n") == 0 and "cached models still load: alice/names" in str(error.value)
    assert load_checkpoint(pull("alice/names")).model.config.model_type == "mlp"
    hub.offline = False
    set_offline(monkeypatch, True)
    with pytest.raises(CharlmError, match=r"cannot be reached \(offline mode"):
        search()


def test_the_search_command(hub: FakeHub, checkpoint: Path, capsys) -> None:
    push(checkpoint, "alice/names", token=WRITE_TOKEN)
    seed_cards(hub, 3)
    assert main(["search", "--sort", "likes", "--limit", "2"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["repo", "model", "parameters"] and len(lines) == 3
    assert lines[1].startswith("alice/charlm-2") and "--page 2" in err
    assert main(["search", "names", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert [m["repo"] for m in found["models"]] == ["alice/names"] and found["models"][0]["model"] == "mlp"
    hub.offline = True
    assert main(["search"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the Hub cannot be reached") and err.count("\n") == 1
