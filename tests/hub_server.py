"""In-memory Hugging Face Hub-compatible HTTP server for tests (stdlib, and PyYAML to read model cards).

It speaks enough of the Hub API for the real `huggingface_hub` client to create repos, commit, list and download,
and to list models as `HfApi.list_models` asks: filters on tags, search, sort, expanded fields, Link-header pages.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

if TYPE_CHECKING:
    import pytest

WRITE_TOKEN = "hf_write_token"
READ_TOKEN = "hf_read_token"
INVALID_CREDENTIALS = "Invalid credentials in Authorization header"
GITATTRIBUTES = (
    b"*.bin filter=lfs diff=lfs merge=lfs -text\n*.safetensors filter=lfs diff=lfs merge=lfs -text\n"
)
_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
_URL_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
User = tuple[str, str]  # (username, "write" | "read")


def _git_blob_sha(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _flag(query: dict[str, str], name: str) -> bool:
    return query.get(name, "").lower() in ("1", "true")


class _HubError(Exception):
    def __init__(
        self, status: int, message: str, code: str | None = None, extra: dict | None = None, **headers: str
    ) -> None:
        super().__init__(message)
        self.status, self.payload = status, {"error": message, **(extra or {})}
        self.headers = {"X-Error-Message": message, **({"X-Error-Code": code} if code else {}), **headers}


@dataclass
class _Commit:
    sha: str
    parent: str | None
    title: str
    message: str
    author: str
    date: str
    files: dict[str, bytes]


@dataclass
class _Repo:
    repo_id: str
    repo_type: str
    owner: str
    private: bool
    created_at: str = field(default_factory=_now)
    commits: dict[str, _Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    downloads: int = 0  # like the Hub's count for libraries it has no rule for: GETs of config.json
    likes: int = 0

    def resolve(self, revision: str) -> _Commit:
        sha = self.branches.get(revision, revision)
        if sha not in self.commits:
            raise _HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        return self.commits[sha]

    def branch(self, revision: str) -> str:
        if revision not in self.branches:
            raise _HubError(404, f"Invalid rev id: {revision} is not a branch", "RevisionNotFound")
        return revision


class FakeHub:
    """In-memory Hub: repos of files with commits, users and tokens."""

    def __init__(self, tokens: dict[str, tuple[str, str]] | None = None) -> None:
        default = {WRITE_TOKEN: ("alice", "write"), READ_TOKEN: ("alice", "read")}
        self.tokens: dict[str, User] = dict(default if tokens is None else tokens)
        self.url = ""
        self.requests: list[str] = []
        self.fail_downloads_after_bytes: int | None = None
        self.tree_page_size = 1000
        self.models_page_size = 1000  # the Hub's largest page of /api/models
        self.repos: dict[tuple[str, str], _Repo] = {}
        self._lock = threading.RLock()
        self._offline = False
        self._port = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> FakeHub:
        if self._server is None and not self._offline:
            self._server = _Server(self, self._port)
            self._port = self._server.server_address[1]
            self.url = f"http://127.0.0.1:{self._port}"
            self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            assert self._thread is not None
            self._thread.join()
            self._server = self._thread = None

    @property
    def offline(self) -> bool:
        return self._offline

    @offline.setter
    def offline(self, value: bool) -> None:
        # Close the listening socket (same port is re-bound when back online) so the client gets a real
        # "connection refused" (httpx2.ConnectError), which it treats as "no network" and falls back to its cache.
        if value == self._offline:
            return
        if value:
            self.stop()
        self._offline = value
        if not value and self._port:
            self.start()

    def seed(
        self, repo_id: str, files: dict[str, bytes], *, private: bool = False, repo_type: str = "model"
    ) -> str:
        """Create `repo_id` if needed and commit `files` to its main branch, bypassing HTTP; returns the commit sha."""
        with self._lock:
            repo = self.repos.get((repo_type, repo_id)) or self._create(repo_id, repo_type, private)
            merged = {**repo.resolve("main").files, **files}
            return self._commit(repo, "main", merged, "Seed files", "", repo.owner).sha

    # State changes

    def _create(self, repo_id: str, repo_type: str, private: bool) -> _Repo:
        repo = _Repo(repo_id, repo_type, repo_id.split("/")[0], private)
        self.repos[(repo_type, repo_id)] = repo
        self._commit(repo, "main", {".gitattributes": GITATTRIBUTES}, "initial commit", "", repo.owner)
        return repo

    def _commit(
        self, repo: _Repo, branch: str, files: dict[str, bytes], title: str, message: str, author: str
    ) -> _Commit:
        parent = repo.branches.get(branch)
        digest = hashlib.sha1(f"{repo.repo_id}\0{parent}\0{title}\0{time.time_ns()}".encode())
        for path in sorted(files):
            digest.update(f"\0{path}\0{_git_blob_sha(files[path])}".encode())
        date = _now()
        if parent is not None and date <= repo.commits[parent].date:  # ordered even within a millisecond
            last = datetime.strptime(repo.commits[parent].date, "%Y-%m-%dT%H:%M:%S.%fZ")
            date = (last + timedelta(milliseconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        commit = _Commit(digest.hexdigest(), parent, title, message, author, date, files)
        repo.commits[commit.sha] = commit
        repo.branches[branch] = commit.sha
        return commit

    # Request handling (the handler calls these under `self._lock`)

    def _user(self, authorization: str | None) -> User | None:
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or token not in self.tokens:
            raise _HubError(401, INVALID_CREDENTIALS)
        return self.tokens[token]

    def _visible_repo(self, repo_type: str, repo_id: str, user: User | None) -> _Repo:
        repo = self.repos.get((repo_type, repo_id))
        if repo is None or (repo.private and (user is None or user[0] != repo.owner)):
            raise _HubError(404, "Repository not found", "RepoNotFound")
        return repo

    @staticmethod
    def _check_write(user: User | None, namespace: str | None) -> User:
        if user is None:
            raise _HubError(401, "You must be authenticated to write to the Hub")
        if user[1] != "write" or user[0] != namespace:
            raise _HubError(
                403, f"You don't have the rights to write to '{namespace}' with this {user[1]} token"
            )
        return user

    def _resolve(self, method: str, segs: list[str], user: User | None) -> tuple[str, bytes] | None:
        """(commit sha, content) for `[{datasets,spaces}/]{repo_id}/resolve/{revision}/{path}`, else None."""
        skip = 1 if segs[0] in ("datasets", "spaces") else 0
        if method not in ("GET", "HEAD") or len(segs) <= skip + 4 or segs[skip + 2] != "resolve":
            return None
        repo_type = _TYPES[segs[0]] if skip else "model"
        commit = self._visible_repo(repo_type, "/".join(segs[skip : skip + 2]), user).resolve(segs[skip + 3])
        path = "/".join(segs[skip + 4 :])
        if path not in commit.files:
            raise _HubError(404, "Entry not found", "EntryNotFound", **{"X-Repo-Commit": commit.sha})
        return commit.sha, commit.files[path]

    def _route(self, method: str, segs: list[str], query: dict[str, str], user: User | None, body: bytes):
        match method, segs:
            case "GET", ["api", "whoami-v2"]:
                if user is None:
                    raise _HubError(401, "Invalid username or password.")
                auth = {"type": "access_token", "accessToken": {"displayName": "fake", "role": user[1]}}
                return {"type": "user", "name": user[0], "fullname": user[0], "orgs": [], "auth": auth}, {}
            case "POST", ["api", "validate-yaml"]:
                return {"errors": [], "warnings": []}, {}
            case "POST", ["api", "repos", "create"]:
                return self._create_repo(user, json.loads(body)), {}
            case "DELETE", ["api", "repos", "delete"]:
                payload = json.loads(body)
                namespace = payload.get("organization") or (user[0] if user else "")
                repo_id = f"{namespace}/{payload['name']}"
                repo = self._visible_repo(payload.get("type") or "model", repo_id, user)
                self._check_write(user, repo.owner)
                del self.repos[(repo.repo_type, repo.repo_id)]
                return {}, {}
            case "GET", ["api", "models"]:
                return self._list_models(getattr(query, "lists", {}), user)
            case _, ["api", "models" | "datasets" | "spaces" as kind, namespace, name, *rest]:
                repo = self._visible_repo(_TYPES[kind], f"{namespace}/{name}", user)
                return self._repo_route(method, repo, rest, query, user, body)
        raise _HubError(404, f"Route not found: {method} /{'/'.join(segs)}")

    def _create_repo(self, user: User | None, payload: dict[str, Any]) -> dict[str, Any]:
        namespace = payload.get("organization") or (user[0] if user else None)
        self._check_write(user, namespace)
        repo_id, repo_type = f"{namespace}/{payload['name']}", payload.get("type") or "model"
        url = f"{self.url}/{_URL_PREFIX[repo_type]}{repo_id}"
        if (repo_type, repo_id) in self.repos:
            # The client reads "url" from this 409 body when exist_ok=True.
            raise _HubError(409, f"You already created this {repo_type} repo", extra={"url": url})
        private = payload.get("visibility") == "private" or payload.get("private") is True
        self._create(repo_id, repo_type, private)
        return {"url": url, "name": repo_id}

    def _repo_route(
        self, method: str, repo: _Repo, rest: list[str], query: dict[str, str], user: User | None, body: bytes
    ):
        match method, rest:
            case "GET", []:
                return self._info(repo, repo.resolve("main"), query), {}
            case "GET", ["revision", revision]:
                return self._info(repo, repo.resolve(revision), query), {}
            case "GET", ["tree", revision, *path]:
                return self._tree(repo, revision, "/".join(path), query)
            case "GET", ["refs"]:
                branches = [
                    {"name": name, "ref": f"refs/heads/{name}", "targetCommit": sha}
                    for name, sha in sorted(repo.branches.items())
                ]
                return {"branches": branches, "converts": [], "tags": [], "pullRequests": []}, {}
            case "GET", ["commits", revision]:
                history, sha = [], repo.resolve(revision).sha
                while sha is not None:
                    commit = repo.commits[sha]
                    entry = {"id": sha, "title": commit.title, "message": commit.message, "date": commit.date}
                    history.append({**entry, "authors": [{"user": commit.author}]})
                    sha = commit.parent
                return history, {}
            case "POST", ["preupload", revision]:
                self._check_write(user, repo.owner)
                files = repo.resolve(repo.branch(revision)).files
                # Always "regular": file content then travels base64-encoded inside the commit call (no LFS, no Xet).
                modes = [
                    {"path": path, "uploadMode": "regular", "shouldIgnore": False, "oid": None}
                    | ({"oid": _git_blob_sha(files[path])} if path in files else {})
                    for path in (f["path"] for f in json.loads(body)["files"])
                ]
                return {"files": modes}, {}
            case "POST", ["commit", revision]:
                author = self._check_write(user, repo.owner)[0]
                return self._apply_commit(repo, repo.branch(revision), body, author), {}
            case "POST", ["branch", branch]:
                self._check_write(user, repo.owner)
                if branch in repo.branches:
                    raise _HubError(409, f"Reference already exists: refs/heads/{branch}")
                start = (json.loads(body or b"{}") or {}).get("startingPoint") or "main"
                repo.branches[branch] = repo.resolve(start).sha
                return {}, {}
            case "DELETE", ["branch", branch]:
                self._check_write(user, repo.owner)
                del repo.branches[repo.branch(branch)]
                return {}, {}
        raise _HubError(404, f"Route not found: {method} .../{'/'.join(rest)}")

    def _info(self, repo: _Repo, commit: _Commit, query: dict[str, str]) -> dict[str, Any]:
        blobs = _flag(query, "blobs")
        siblings = [
            {"rfilename": path, **({"size": len(data), "blobId": _git_blob_sha(data)} if blobs else {})}
            for path, data in sorted(commit.files.items())
        ]
        return {
            "id": repo.repo_id,
            "author": repo.owner,
            "sha": commit.sha,
            "private": repo.private,
            "gated": False,
            "disabled": False,
            "lastModified": commit.date,
            "createdAt": repo.created_at,
            "tags": _tags(_card(commit)),
            "downloads": repo.downloads,
            "likes": repo.likes,
            "siblings": siblings,
        }

    @staticmethod
    def _model_fields(repo: _Repo) -> dict[str, Any]:
        """Every field /api/models can answer for `repo`, from its main branch."""
        commit = repo.resolve("main")
        card = _card(commit)
        fields = {
            "_id": hashlib.sha1(repo.repo_id.encode()).hexdigest()[:24],
            "id": repo.repo_id,
            "modelId": repo.repo_id,
            "author": repo.owner,
            "private": repo.private,
            "downloads": repo.downloads,
            "likes": repo.likes,
            "tags": _tags(card),
            "library_name": card.get("library_name"),
            "pipeline_tag": card.get("pipeline_tag"),
            "createdAt": repo.created_at,
            "lastModified": commit.date,
            "sha": commit.sha,
            "cardData": card,
            "trendingScore": 0,
        }
        if "model-index" in card:
            fields["model-index"] = card["model-index"]
        return fields

    def _list_models(self, query: dict[str, list[str]], user: User | None) -> tuple[list, dict]:
        """GET /api/models as the Hub answers it: every `filter` must be one of a repo's tags, `search` is
        part of its id, `sort` is descending, `expand` picks the fields, and a Link header holds the next page."""
        last = {key: values[-1] for key, values in query.items()}
        repos = [
            r
            for r in self.repos.values()
            if r.repo_type == "model" and (not r.private or (user is not None and user[0] == r.owner))
        ]
        listed = []
        for repo in repos:
            fields = self._model_fields(repo)
            if all(f in fields["tags"] for f in query.get("filter", [])) and (
                last.get("search", "").lower() in repo.repo_id.lower()
                and last.get("author", repo.owner) == repo.owner
            ):
                listed.append(fields)
        key = {
            "downloads": "downloads",
            "likes": "likes",
            "lastModified": "lastModified",
            "createdAt": "createdAt",
        }
        if last.get("sort") in key:
            listed.sort(key=lambda m: (m[key[last["sort"]]], m["id"]), reverse=True)
        expand = query.get("expand", []) + query.get("expand[]", [])
        default = ["_id", "id", "modelId", "likes", "trendingScore", "private", "downloads", "tags"]
        default += ["pipeline_tag", "library_name", "createdAt"]
        shown = ["_id", "id", *expand] if expand else default + ["cardData"] * _flag(last, "cardData")
        if _flag(last, "full") and not expand:
            shown += ["author", "lastModified", "sha", "cardData"]
        page = max(1, min(int(last.get("limit") or self.models_page_size), self.models_page_size))
        cursor = json.loads(base64.b64decode(last["cursor"])) if "cursor" in last else 0
        headers = {}
        if cursor + page < len(listed):
            next_cursor = base64.b64encode(json.dumps(cursor + page).encode()).decode()
            pairs = [(k, v) for k, values in query.items() if k != "cursor" for v in values]
            headers["Link"] = (
                f'<{self.url}/api/models?{urlencode([*pairs, ("cursor", next_cursor)])}>; rel="next"'
            )
        items = [{k: m[k] for k in shown if k in m} for m in listed[cursor : cursor + page]]
        return items, headers

    def _tree(self, repo: _Repo, revision: str, path: str, query: dict[str, str]):
        commit = repo.resolve(revision)
        prefix = f"{path}/" if path else ""
        files = {p: data for p, data in commit.files.items() if p.startswith(prefix)}
        if path and not files:
            raise _HubError(404, f"{path} does not exist", "EntryNotFound", **{"X-Repo-Commit": commit.sha})
        recursive, entries = _flag(query, "recursive"), {}
        for file_path, data in files.items():
            parts = file_path[len(prefix) :].split("/")
            for depth in range(1, len(parts) if recursive else min(len(parts), 2)):
                folder = prefix + "/".join(parts[:depth])
                oid = hashlib.sha1(folder.encode()).hexdigest()
                entries[folder] = {"type": "directory", "oid": oid, "size": 0, "path": folder}
            if recursive or len(parts) == 1:
                entries[file_path] = {
                    "type": "file",
                    "oid": _git_blob_sha(data),
                    "size": len(data),
                    "path": file_path,
                }
        items = [entries[key] for key in sorted(entries)]
        cursor = int(query.get("cursor", 0))
        headers = {}
        if cursor + self.tree_page_size < len(items):
            next_query = urlencode({**query, "cursor": cursor + self.tree_page_size})
            tree_path = "/".join(quote(part, safe="") for part in [revision, *path.split("/")] if part)
            next_url = f"{self.url}/api/{repo.repo_type}s/{repo.repo_id}/tree/{tree_path}?{next_query}"
            headers["Link"] = f'<{next_url}>; rel="next"'
        return items[cursor : cursor + self.tree_page_size], headers

    def _apply_commit(self, repo: _Repo, branch: str, body: bytes, author: str) -> dict[str, Any]:
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        header = next((line["value"] for line in lines if line["key"] == "header"), {})
        parent = repo.resolve(branch)
        if header.get("parentCommit") and not parent.sha.startswith(header["parentCommit"]):
            raise _HubError(412, f"A commit has happened since. Please refresh and try again. ({parent.sha})")
        files = dict(parent.files)
        for line in lines:
            key, value = line["key"], line["value"]
            if key == "file":
                raw = value["content"]
                files[value["path"]] = (
                    base64.b64decode(raw) if value.get("encoding") == "base64" else raw.encode()
                )
            elif key == "deletedFile":
                if files.pop(value["path"], None) is None:
                    raise _HubError(404, "A file with this name doesn't exist", "EntryNotFound")
            elif key == "deletedFolder":
                folder = value["path"].rstrip("/") + "/"
                files = {p: data for p, data in files.items() if not p.startswith(folder)}
            elif key != "header":  # lfsFile never happens: preupload answers "regular" for every file
                raise _HubError(400, f"Unsupported commit operation: {key}")
        commit = self._commit(
            repo, branch, files, header.get("summary", ""), header.get("description", ""), author
        )
        url = f"{self.url}/{_URL_PREFIX[repo.repo_type]}{repo.repo_id}/commit/{commit.sha}"
        return {"success": True, "commitOid": commit.sha, "commitUrl": url, "pullRequestUrl": None}


def _card(commit: _Commit) -> dict[str, Any]:
    """The YAML at the top of the README.md of `commit` (what the Hub calls cardData), else {}."""
    text = commit.files.get("README.md", b"").decode("utf-8", "replace")
    if not text.startswith("---"):
        return {}
    import yaml

    try:
        meta = yaml.safe_load(text.split("---", 2)[1])
    except (yaml.YAMLError, IndexError):
        return {}
    return meta if isinstance(meta, dict) else {}


def _tags(card: dict[str, Any]) -> list[str]:
    """The tags the Hub derives from a card: its own, the library, the task, datasets and license."""
    tags = list(card.get("tags") or [])
    tags += [card[k] for k in ("library_name", "pipeline_tag") if card.get(k)]
    tags += [f"dataset:{d}" for d in card.get("datasets") or []]
    tags += [f"license:{card['license']}"] if card.get("license") else []
    return list(dict.fromkeys(str(t) for t in tags))


class _Query(dict):
    """A request's query: the last value of each parameter, and every value in `lists` (filter and expand repeat)."""

    lists: dict[str, list[str]]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, hub: FakeHub, port: int) -> None:
        self.hub = hub
        super().__init__(("127.0.0.1", port), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # client hung up mid-response (e.g. interrupted downloads): nothing to report


class _Handler(BaseHTTPRequestHandler):
    # One request per connection: the client never holds a pooled socket that could go stale when we go offline.
    protocol_version = "HTTP/1.0"
    timeout = 30
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        hub = self.server.hub
        if hub.offline:
            return  # accepted just before going offline: close without a response
        url = urlsplit(self.path)
        hub.requests.append(f"{self.command} {url.path}")
        segs = [unquote(seg) for seg in url.path.strip("/").split("/")]
        query = _Query({key: values[-1] for key, values in parse_qs(url.query).items()})
        query.lists = parse_qs(url.query)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            with hub._lock:
                user = hub._user(self.headers.get("Authorization"))
                download = hub._resolve(self.command, segs, user)
                if download is None:
                    payload, headers = hub._route(self.command, segs, query, user, body)
                counted = self.command == "GET" and segs[0] not in _TYPES and segs[-1] == "config.json"
                if download is not None and counted:
                    hub.repos[("model", "/".join(segs[:2]))].downloads += 1
            if download is not None:
                self._send_file(*download, hub.fail_downloads_after_bytes)
            else:
                self._send_json(200, payload, headers)
        except _HubError as error:
            self._send_json(error.status, error.payload, error.headers)
        except Exception as error:  # a bug in the fake: surface it in the client's error message
            message = f"FakeHub crashed: {type(error).__name__}: {error}".replace("\n", " ")
            self._send_json(500, {"error": message}, {"X-Error-Message": message})

    do_HEAD = do_POST = do_PUT = do_DELETE = do_GET

    def _send_json(self, status: int, payload: Any, headers: dict[str, str]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        headers = {**headers, "Content-Type": "application/json", "Content-Length": str(len(body))}
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_file(self, commit_sha: str, data: bytes, fail_after: int | None) -> None:
        start, end, status = 0, len(data), 200
        headers = {"X-Repo-Commit": commit_sha, "ETag": f'"{_git_blob_sha(data)}"', "Accept-Ranges": "bytes"}
        if self.headers.get("Range"):  # "bytes=START-" or "bytes=START-END": the client resumes downloads
            first, _, last = self.headers["Range"].removeprefix("bytes=").partition("-")
            start, end, status = int(first), min(int(last) + 1 if last else len(data), len(data)), 206
            if start >= len(data):
                raise _HubError(
                    416, "Requested range not satisfiable", **{"Content-Range": f"bytes */{len(data)}"}
                )
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{len(data)}"
        self.send_response(status)
        for name, value in {**headers, "Content-Type": "application/octet-stream"}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(end - start))
        self.end_headers()
        if self.command == "GET":
            # The cut is an absolute offset in the file, so resumed requests cannot get past it either.
            stop = end if fail_after is None else max(start, min(end, fail_after))
            self.wfile.write(data[start:stop])


class _NoSleep:
    """Stand-in for `time` inside the client's retry loops: the real module, except that `sleep` returns at once."""

    @staticmethod
    def sleep(seconds: float) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


_ENV = {
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_XET": "1",
    "HF_HUB_ETAG_TIMEOUT": "5",
    "HF_HUB_DOWNLOAD_TIMEOUT": "5",
}
_UNSET_ENV = (
    *("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_OIDC_RESOURCE", "HF_OIDC_ID_TOKEN"),
    *("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_ASSETS_CACHE", "HUGGINGFACE_ASSETS_CACHE", "HF_XET_CACHE"),
    *("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_IMPLICIT_TOKEN", "HUGGINGFACE_CO_STAGING"),
)


def use_fake_hub(hub: FakeHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Point `huggingface_hub` (in-process, and subprocesses via env) at `hub`, with a fresh HF_HOME under tmp_path."""
    from huggingface_hub import constants, file_download, hf_api
    from huggingface_hub.utils import _cache_assets, _cache_manager, _http

    home = tmp_path / "hf_home"
    for name, value in _ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_HOME", str(home))
    for name in _UNSET_ENV:
        monkeypatch.delenv(name, raising=False)

    # huggingface_hub copies the environment into module constants at import time: patch the copies too.
    hub_cache, assets_cache = str(home / "hub"), str(home / "assets")
    constants_patch = {
        "ENDPOINT": hub.url,
        "HUGGINGFACE_CO_URL_TEMPLATE": hub.url + "/{repo_id}/resolve/{revision}/{filename}",
        "HF_URL_HOSTS": constants.HF_URL_HOSTS | {"127.0.0.1"},
        "HF_HOME": str(home),
        "HF_HUB_CACHE": hub_cache,
        "HUGGINGFACE_HUB_CACHE": hub_cache,
        "HF_ASSETS_CACHE": assets_cache,
        "HUGGINGFACE_ASSETS_CACHE": assets_cache,
        "HF_XET_CACHE": str(home / "xet"),
        "HF_TOKEN_PATH": str(home / "token"),
        "HF_STORED_TOKENS_PATH": str(home / "stored_tokens"),
        "HF_HUB_OFFLINE": False,
        "HF_HUB_DISABLE_IMPLICIT_TOKEN": False,
        "HF_HUB_DISABLE_TELEMETRY": True,  # also stops the user-agent code from fetching /api/agent-harnesses
        "HF_HUB_DISABLE_XET": True,  # hf_xet is installed: without this upload_folder takes the Xet pipeline
        "HF_HUB_ETAG_TIMEOUT": 5,
        "HF_HUB_DOWNLOAD_TIMEOUT": 5,
    }
    for name, value in constants_patch.items():
        monkeypatch.setattr(constants, name, value)
    monkeypatch.setattr(_cache_manager, "HF_HUB_CACHE", hub_cache)  # imported by name
    monkeypatch.setattr(_cache_assets, "HF_ASSETS_CACHE", assets_cache)
    monkeypatch.setattr(hf_api.api, "endpoint", hub.url)  # the HfApi behind huggingface_hub.model_info & co
    monkeypatch.setattr(_http, "_HUB_ORIGINS", _http._HUB_ORIGINS | {_http._url_origin(hub.url)})
    # Retries on 5xx / network errors wait 1-8 s each (~23 s per call, 5 s for a broken download): keep the
    # retries, skip the waits.
    monkeypatch.setattr(_http, "time", _NoSleep())
    monkeypatch.setattr(file_download, "time", _NoSleep())
    _http.close_session()


def set_offline(monkeypatch: pytest.MonkeyPatch, offline: bool = True) -> None:
    """Toggle HF_HUB_OFFLINE for this process (the client reads it at import time) and for subprocesses."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", offline)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1" if offline else "0")
