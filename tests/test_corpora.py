"""Corpora from Hub dataset repos (text and Parquet) and URLs, through the real huggingface_hub client
against the FakeHub on 127.0.0.1: download, cache, offline, training from them, and every error in one line."""

import functools
import io
import json
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import NAMES, TEXT
from hub_server import READ_TOKEN, set_offline

from charlm.__main__ import main
from charlm.corpora import PRESETS, HubFile, fetch, parse_source
from charlm.errors import CharlmError

SECRET = "hf_not_a_real_token_123"


def parquet(**columns) -> bytes:
    out = io.BytesIO()
    pq.write_table(pa.table(columns), out)
    return out.getvalue()


@pytest.fixture
def hub(hub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # conftest's FakeHub, with dataset repos
    server = hub
    monkeypatch.setenv("CHARLM_CACHE", str(tmp_path / "charlm-cache"))
    lines = NAMES.split("\n")
    server.seed(
        "alice/verses",
        {
            "verses.txt": TEXT.encode(),
            "data/names.parquet": parquet(name=lines, n=list(range(len(lines)))),
            "two.parquet": parquet(title=["a", "b"], body=["c", "d"]),
            "blob.txt": b"\x89PNG\r\n\x1a\n\x00\x00\x00",
            "latin1.txt": "caf\xe9 cr\xe8me".encode("latin-1"),
        },
        repo_type="dataset",
    )
    server.seed("alice/only", {"corpus.txt": TEXT.encode()}, repo_type="dataset")
    server.seed("alice/secret", {"corpus.txt": TEXT.encode()}, repo_type="dataset", private=True)
    return server


def one_line(excinfo) -> str:
    message = str(excinfo.value)
    assert "\n" not in message and SECRET not in message
    return message


def test_a_text_file_downloads_into_the_hub_cache_and_loads_offline(hub, monkeypatch):
    path = fetch("hf://datasets/alice/verses/verses.txt")
    assert path.read_text(encoding="utf-8") == TEXT
    assert "hub" in path.parts  # huggingface_hub's own cache
    hub.offline = True  # no network: the cached copy still loads
    assert fetch("hf://datasets/alice/verses/verses.txt").read_text(encoding="utf-8") == TEXT
    set_offline(monkeypatch)  # HF_HUB_OFFLINE=1: the same
    assert fetch("hf://datasets/alice/verses/verses.txt").read_text(encoding="utf-8") == TEXT
    with pytest.raises(CharlmError) as e:
        fetch("hf://datasets/alice/only/corpus.txt")
    assert "offline mode" in one_line(e) and "not in the local cache" in one_line(e)


def test_no_network_and_nothing_cached_is_one_line(hub):
    hub.offline = True
    with pytest.raises(CharlmError) as e:
        fetch("hf://datasets/alice/verses/verses.txt")
    assert "network" in one_line(e)


def test_a_parquet_text_column_by_name_or_the_only_one(hub):
    for column in (None, "name"):  # "n" is a number: "name" is the only string column
        text = fetch("hf://datasets/alice/verses/data/names.parquet", column=column).read_text(
            encoding="utf-8"
        )
        assert text == NAMES + "\n"
    assert (
        fetch("hf://datasets/alice/verses/two.parquet", column="body").read_text(encoding="utf-8") == "c\nd\n"
    )


@pytest.mark.parametrize(
    "source, options, words",
    [
        ("hf://datasets/alice/missing/a.txt", {}, ["no such dataset repo", "HF_TOKEN"]),
        ("hf://datasets/alice/verses/nope.txt", {}, ["no file 'nope.txt'"]),
        ("hf://datasets/alice/secret/corpus.txt", {}, ["private", "hf auth login"]),
        ("hf://datasets/alice/secret/corpus.txt", {"token": SECRET}, ["401", "token"]),
        ("hf://datasets/alice/verses@v9/verses.txt", {}, ["no such revision"]),
        ("hf://datasets/alice/verses/two.parquet", {}, ["2 text columns", "title, body", "--column"]),
        ("hf://datasets/alice/verses/two.parquet", {"column": "nope"}, ["'nope' does not exist"]),
        ("hf://datasets/alice/verses/data/names.parquet", {"column": "n"}, ["'n' is not a text column"]),
        ("hf://datasets/alice/verses/verses.txt", {"column": "text"}, ["not Parquet"]),
        ("hf://datasets/alice/verses/blob.txt", {}, ["binary"]),
        ("hf://datasets/alice/verses/latin1.txt", {}, ["not UTF-8", "0xe9"]),
        ("hf://datasets/alice/verses/verses.txt", {"max_bytes": 100}, ["MB, over the", "smaller file"]),
        ("hf://datasets/alice/verses", {}, ["holds 5 text or Parquet files", "blob.txt"]),
        ("hf://models/alice/verses", {}, ["not a Hub dataset address"]),
    ],
)
def test_every_error_is_one_line_naming_what_to_do(hub, source, options, words):
    with pytest.raises(CharlmError) as e:
        fetch(source, **options)
    message = one_line(e)
    assert all(word in message for word in words), message


def test_a_private_dataset_with_its_owners_token_and_the_only_text_file_of_a_repo(hub):
    assert (
        fetch("hf://datasets/alice/secret/corpus.txt", token=READ_TOKEN).read_text(encoding="utf-8") == TEXT
    )
    assert fetch("hf://datasets/alice/only").name == "corpus.txt"


def test_a_hub_url_goes_through_the_hub_and_revisions_parse(hub):
    url = f"{hub.url}/datasets/alice/verses/resolve/main/verses.txt"
    assert parse_source(url) == HubFile("alice/verses", "verses.txt", "main")
    assert fetch(url).read_text(encoding="utf-8") == TEXT
    preset = parse_source(PRESETS["Tiny Shakespeare (Hub, Parquet)"])
    assert preset.revision == "refs/convert/parquet" and preset.path.endswith("0000.parquet")


@pytest.fixture
def web(tmp_path, monkeypatch):
    """A plain HTTP server (not the Hub) serving a folder."""
    root = tmp_path / "www"
    root.mkdir()
    (root / "input.txt").write_text(TEXT, encoding="utf-8")
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("CHARLM_CACHE", str(tmp_path / "charlm-cache"))
    yield f"http://127.0.0.1:{server.server_address[1]}", server
    server.shutdown()
    server.server_close()


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def test_a_url_downloads_once_and_loads_when_the_network_is_gone(web, monkeypatch):
    url, server = web
    assert fetch(f"{url}/input.txt").read_text(encoding="utf-8") == TEXT
    with pytest.raises(CharlmError) as e:
        fetch(f"{url}/missing.txt")
    assert "404" in one_line(e)
    with pytest.raises(CharlmError) as e:
        fetch(f"{url}/input.txt", max_bytes=10)
    assert "over the" in one_line(e)
    server.shutdown()
    server.server_close()
    assert fetch(f"{url}/input.txt").read_text(encoding="utf-8") == TEXT


def test_charlm_train_on_a_hub_dataset_records_it(hub, tmp_path, capsys):
    out = tmp_path / "ckpt"
    argv = ["train", "hf://datasets/alice/verses/data/names.parquet", "--mode", "lines", "--model", "bigram"]
    assert main([*argv, "--out", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["corpus"]["dataset"] == "alice/verses" and config["mode"] == "lines"
    assert main(["train", "hf://datasets/alice/secret/corpus.txt", "--token", SECRET]) == 2
    err = capsys.readouterr().err
    assert SECRET not in err and err.strip().splitlines()[-1].startswith("error: ")
