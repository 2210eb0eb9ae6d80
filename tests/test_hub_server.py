"""The real huggingface_hub client against the in-process FakeHub: push, pull, errors, offline and broken networks."""

from pathlib import Path

import httpx2
import pytest
from hub_server import READ_TOKEN, WRITE_TOKEN, FakeHub, set_offline
from huggingface_hub import HfApi, hf_hub_download, model_info, snapshot_download
from huggingface_hub.errors import (
    HfHubHTTPError,
    LocalEntryNotFoundError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils.sha import git_hash

REPO = "alice/tiny"


@pytest.fixture
def api(hub: FakeHub) -> HfApi:
    return HfApi(token=WRITE_TOKEN)


@pytest.fixture
def pushed(api: HfApi, tmp_path: Path) -> str:
    """REPO with a folder pushed to main; returns the commit sha."""
    folder = tmp_path / "model"
    (folder / "sub").mkdir(parents=True)
    (folder / "config.json").write_text('{"n_layer": 2}')
    (folder / "sub" / "weights.bin").write_bytes(bytes(range(256)) * 40)
    api.create_repo(REPO, exist_ok=True)
    return api.upload_folder(folder_path=folder, repo_id=REPO, commit_message="first push").oid


def test_whoami_and_tokens(hub: FakeHub) -> None:
    me = HfApi(token=WRITE_TOKEN).whoami()
    assert me["name"] == "alice" and me["type"] == "user" and me["auth"]["accessToken"]["role"] == "write"
    assert HfApi(token=READ_TOKEN).whoami()["auth"]["accessToken"]["role"] == "read"
    with pytest.raises(HfHubHTTPError) as error:  # 401, "Invalid user token."
        HfApi(token="hf_bogus").whoami()
    assert error.value.response.status_code == 401


def test_push_and_pull_roundtrip(hub: FakeHub, api: HfApi, pushed: str, tmp_path: Path) -> None:
    assert len(pushed) == 40
    info = api.model_info(REPO)
    assert info.sha == pushed and info.private is False
    assert model_info(REPO).sha == pushed  # module-level helpers use a shared HfApi created at import
    assert sorted(s.rfilename for s in info.siblings) == [".gitattributes", "config.json", "sub/weights.bin"]
    assert api.list_repo_files(REPO) == [".gitattributes", "config.json", "sub/weights.bin"]
    assert [(b.name, b.target_commit) for b in api.list_repo_refs(REPO).branches] == [("main", pushed)]
    assert api.repo_exists(REPO) and not api.repo_exists("alice/nope")
    assert api.file_exists(REPO, "sub/weights.bin") and not api.file_exists(REPO, "missing.txt")

    second = api.upload_file(path_or_fileobj=b'{"n_layer": 4}', path_in_repo="config.json", repo_id=REPO).oid
    assert api.model_info(REPO).sha == second != pushed
    assert Path(hf_hub_download(REPO, "config.json")).read_text() == '{"n_layer": 4}'
    old = Path(hf_hub_download(REPO, "config.json", revision=pushed))
    assert old.read_text() == '{"n_layer": 2}' and pushed in old.parts
    assert api.model_info(REPO, revision=pushed).sha == pushed

    local = Path(snapshot_download(REPO, revision=pushed, local_dir=tmp_path / "out"))
    assert (local / "sub" / "weights.bin").read_bytes() == bytes(range(256)) * 40
    cached = Path(snapshot_download(REPO))
    assert cached.name == second and (cached / "config.json").read_text() == '{"n_layer": 4}'

    # Regular uploads only: no LFS batch or Xet endpoints, and tokens never reach the log.
    assert not any("lfs" in r or "xet" in r for r in hub.requests)
    assert not any("hf_" in r for r in hub.requests)
    assert f"POST /api/models/{REPO}/preupload/main" in hub.requests
    assert f"POST /api/models/{REPO}/commit/main" in hub.requests


def test_unchanged_upload_is_skipped_and_delete_works(api: HfApi, pushed: str) -> None:
    same = api.upload_file(path_or_fileobj=b'{"n_layer": 2}', path_in_repo="config.json", repo_id=REPO)
    assert same.oid == pushed  # preupload returned the remote oid, so the client made no commit
    api.delete_file("config.json", repo_id=REPO)
    api.delete_folder("sub", repo_id=REPO)
    assert api.list_repo_files(REPO) == [".gitattributes"]
    titles = [c.title for c in api.list_repo_commits(REPO)]
    assert titles == ["Delete folder sub with huggingface_hub", "Delete config.json with huggingface_hub"] + [
        "first push",
        "initial commit",
    ]


def test_branches_and_tree_pagination(hub: FakeHub, api: HfApi, pushed: str) -> None:
    api.create_branch(REPO, branch="dev")
    api.create_branch(REPO, branch="dev", exist_ok=True)
    api.upload_file(path_or_fileobj=b"dev only", path_in_repo="dev.txt", repo_id=REPO, revision="dev")
    assert Path(hf_hub_download(REPO, "dev.txt", revision="dev")).read_bytes() == b"dev only"
    assert "dev.txt" not in api.list_repo_files(REPO)
    hub.tree_page_size = 1
    assert api.list_repo_files(REPO, revision="dev") == [
        ".gitattributes",
        "config.json",
        "dev.txt",
        "sub/weights.bin",
    ]
    assert [f.path for f in api.list_repo_tree(REPO)] == [".gitattributes", "config.json", "sub"]


def test_create_repo_conflicts_and_seed(hub: FakeHub, api: HfApi) -> None:
    url = api.create_repo(REPO)
    assert url.repo_id == REPO
    api.create_repo(REPO, exist_ok=True)
    with pytest.raises(HfHubHTTPError) as error:
        api.create_repo(REPO)
    assert error.value.response.status_code == 409
    sha = hub.seed("bob/data", {"a.txt": b"a"})
    assert HfApi().model_info("bob/data").sha == sha


def test_missing_repo_revision_and_file(api: HfApi, pushed: str) -> None:
    with pytest.raises(RepositoryNotFoundError):
        api.model_info("alice/nope")
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("alice/nope", "config.json")
    with pytest.raises(RevisionNotFoundError):
        api.model_info(REPO, revision="v9")
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download(REPO, "config.json", revision="v9")
    with pytest.raises(RemoteEntryNotFoundError):
        hf_hub_download(REPO, "missing.txt")


def test_private_repos_are_invisible_to_others(hub: FakeHub, api: HfApi, tmp_path: Path) -> None:
    hub.tokens["hf_bob"] = ("bob", "write")
    api.create_repo("alice/secret", private=True)
    api.upload_file(path_or_fileobj=b"s", path_in_repo="s.txt", repo_id="alice/secret")
    assert api.model_info("alice/secret").private is True
    assert hf_hub_download("alice/secret", "s.txt", token=READ_TOKEN)
    for token in (None, "hf_bob"):
        with pytest.raises(RepositoryNotFoundError):
            HfApi(token=token).model_info("alice/secret")
        with pytest.raises(RepositoryNotFoundError):
            hf_hub_download("alice/secret", "s.txt", token=token, cache_dir=tmp_path / "other-cache")


def test_write_permissions(hub: FakeHub, api: HfApi, pushed: str) -> None:
    hub.tokens["hf_bob"] = ("bob", "write")
    for token, status in ((READ_TOKEN, 403), ("hf_bob", 403), (None, 401), ("hf_bogus", 401)):
        # Plain HfHubHTTPError: the client only maps a 401 to RepositoryNotFoundError on https:// URLs.
        with pytest.raises(HfHubHTTPError) as error:
            HfApi(token=token).upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=REPO)
        assert error.value.response.status_code == status
    with pytest.raises(HfHubHTTPError) as error:
        HfApi(token=READ_TOKEN).create_repo("alice/other")
    assert error.value.response.status_code == 403
    with pytest.raises(HfHubHTTPError) as error:  # an unknown token fails even on public reads
        HfApi(token="hf_bogus").model_info(REPO)
    assert error.value.response.status_code == 401
    assert error.value.server_message == "Invalid credentials in Authorization header"
    assert HfApi(token=READ_TOKEN).create_repo(REPO, exist_ok=True).repo_id == REPO  # 403 + exists => ok


def test_hf_hub_offline_uses_cache(monkeypatch: pytest.MonkeyPatch, hub: FakeHub, pushed: str) -> None:
    folder = snapshot_download(REPO)
    set_offline(monkeypatch, True)
    seen = len(hub.requests)
    assert snapshot_download(REPO) == folder
    assert Path(hf_hub_download(REPO, "config.json")).read_text() == '{"n_layer": 2}'
    with pytest.raises(LocalEntryNotFoundError):  # not cached, and HF_HUB_OFFLINE forbids asking
        snapshot_download("alice/other")
    with pytest.raises(LocalEntryNotFoundError):
        hf_hub_download(REPO, "never-downloaded.txt")
    assert len(hub.requests) == seen
    set_offline(monkeypatch, False)
    assert snapshot_download(REPO) == folder


def test_network_down(api: HfApi, hub: FakeHub, pushed: str, tmp_path: Path) -> None:
    cached = hf_hub_download(REPO, "config.json")
    hub.offline = True
    with pytest.raises(httpx2.ConnectError):  # plain API calls surface the refused connection as is
        api.model_info(REPO)
    assert hf_hub_download(REPO, "config.json") == cached  # downloads fall back to the cache...
    with pytest.raises(LocalEntryNotFoundError):  # ...and raise LocalEntryNotFoundError when it has nothing
        hf_hub_download(REPO, "sub/weights.bin")
    with pytest.raises(LocalEntryNotFoundError):
        snapshot_download(REPO, local_dir=tmp_path / "never-synced")
    hub.offline = False
    assert api.model_info(REPO).sha == pushed


def test_interrupted_download(hub: FakeHub, pushed: str, tmp_path: Path) -> None:
    hub.fail_downloads_after_bytes = 100
    # http_get retries 5 times (the 100 bytes sit in httpx's 10 MB read buffer, so it never resumes), then re-raises.
    with pytest.raises(httpx2.RemoteProtocolError):
        hf_hub_download(REPO, "sub/weights.bin")
    assert hub.requests.count(f"GET /{REPO}/resolve/main/sub/weights.bin") == 6
    assert not list(Path(tmp_path / "hf_home" / "hub").rglob("weights.bin"))
    hub.fail_downloads_after_bytes = None
    assert Path(hf_hub_download(REPO, "sub/weights.bin")).read_bytes() == bytes(range(256)) * 40


def test_resolve_headers_and_ranges(hub: FakeHub, pushed: str) -> None:
    data, url = bytes(range(256)) * 40, f"{hub.url}/{REPO}/resolve/main/sub/weights.bin"
    with httpx2.Client() as client:
        head = client.head(url)
        assert head.headers["X-Repo-Commit"] == pushed and head.headers["Content-Length"] == str(len(data))
        assert head.headers["ETag"] == f'"{git_hash(data)}"'
        part = client.get(url, headers={"Range": "bytes=10-19"})
        assert part.status_code == 206 and part.content == data[10:20]
        assert part.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
        assert client.get(url, headers={"Range": f"bytes={len(data)}-"}).status_code == 416
        hub.fail_downloads_after_bytes = 100
        with pytest.raises(
            httpx2.RemoteProtocolError
        ):  # 50 bytes of the promised 10190, then the socket closes
            client.get(url, headers={"Range": "bytes=50-"})
