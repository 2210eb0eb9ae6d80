"""Corpora from the Hugging Face Hub (`hf://datasets/OWNER/NAME[@REVISION][/PATH]`) and the web (a URL),
downloaded through huggingface_hub's cache; a Parquet file's text column written out once as text.
Every failure is one CharlmError, and the token appears in none."""

import contextlib
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx2
from huggingface_hub import HfApi, constants, get_hf_file_metadata, get_token, hf_hub_download, hf_hub_url
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    HFValidationError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from charlm.errors import CharlmError, scrubbed
from charlm.tokens import cache_dir, file_hash

TEXT_SUFFIXES = (".txt", ".text", ".parquet")
# Well-known corpora, fetched on demand. They could not be checked from the machine this was written on
# (no internet there); one that has moved fails with the usual one-line error.
PRESETS = {
    "Tiny Shakespeare (char-rnn)": "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
    "Tiny Shakespeare (Hub, Parquet)": "hf://datasets/karpathy/tiny_shakespeare@refs%2Fconvert%2Fparquet/default/train/0000.parquet",
    "Names (makemore)": "https://raw.githubusercontent.com/karpathy/makemore/master/names.txt",
    "TinyStories (validation)": "hf://datasets/roneneldan/TinyStories/TinyStories-valid.txt",
}
HF_PATTERN = re.compile(r"^hf://datasets/([^/@]+/[^/@]+)(?:@([^/]+))?(?:/(.*))?$")


@dataclass
class HubFile:
    """A file (or, with path empty, the one text file) of a dataset repo."""

    repo_id: str
    path: str
    revision: str | None = None

    def __str__(self) -> str:
        at = f"@{self.revision}" if self.revision else ""
        return f"hf://datasets/{self.repo_id}{at}" + (f"/{self.path}" if self.path else "")


def is_remote(source: str) -> bool:
    return str(source).startswith(("hf://", "https://", "http://"))


def parse_source(source: str, revision: str | None = None) -> HubFile | str:
    """hf://datasets/... and Hub download URLs as a HubFile; any other URL as it is."""
    source = source.strip()
    endpoint = constants.ENDPOINT.rstrip("/")
    for host in {endpoint, "https://huggingface.co"}:  # a Hub URL goes through the Hub's cache and token
        match = re.match(re.escape(host) + r"/datasets/([^/]+/[^/]+)/(?:resolve|blob)/([^/]+)/(.+)$", source)
        if match:
            return HubFile(match[1], unquote(match[3]), revision or unquote(match[2]))
    if source.startswith("hf://"):
        match = HF_PATTERN.match(source)
        if not match:
            raise CharlmError(
                f"{source!r} is not a Hub dataset address: write hf://datasets/OWNER/NAME, optionally "
                "followed by @REVISION and /PATH/TO/FILE (.txt or .parquet)."
            )
        return HubFile(match[1], (match[3] or "").strip("/"), revision or (match[2] and unquote(match[2])))
    return source


def fetch(
    source: str,
    *,
    column: str | None = None,
    revision: str | None = None,
    token: str | bool | None = None,
    max_bytes: int | None = None,
) -> Path:
    """A local plain-text file holding the corpus at `source` (downloaded, or found in the cache), refused
    above `max_bytes`. A Parquet file gives its text column (`column`, or its only string column).
    `token`: the one given, else HF_TOKEN, else the stored login; False sends none (a public Space's
    visitors must not read its owner's private datasets)."""
    where = parse_source(source, revision)
    if token is not False:
        token = (token or "").strip() or get_token()
    with corpus_errors(str(where), token, getattr(where, "path", "")):
        if isinstance(where, HubFile):
            local = download_hub(where, token, max_bytes)
        else:
            local = download_url(where, max_bytes)
    name = str(where)
    if local.suffix == ".parquet" or _magic(local):
        return parquet_text(local, column, name)
    if column:
        raise CharlmError(f"{name} is a text file, not Parquet: it has no columns; leave out --column.")
    check_text_start(local, name)
    return local


def _magic(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == b"PAR1"


def download_hub(where: HubFile, token: str | bool | None, max_bytes: int | None) -> Path:
    """hf_hub_download into the Hub's cache (a cached file loads offline), after checking the size."""
    if not where.path or where.path.endswith("/"):
        where.path = pick_file(where, token)
    if not constants.HF_HUB_OFFLINE:
        url = hf_hub_url(where.repo_id, where.path, repo_type="dataset", revision=where.revision)
        try:
            size = get_hf_file_metadata(url, token=token).size
        except (httpx2.TransportError, OfflineModeIsEnabled):
            size = None  # no network: the cache may still hold it
        check_size(size, max_bytes, str(where))
    path = Path(
        hf_hub_download(where.repo_id, where.path, repo_type="dataset", revision=where.revision, token=token)
    )
    check_size(path.stat().st_size, max_bytes, str(where))
    return path


def pick_file(where: HubFile, token: str | bool | None) -> str:
    """The one .txt or .parquet file of the repo (under `where.path`, a folder), or an error naming them."""
    files = HfApi().list_repo_files(where.repo_id, repo_type="dataset", revision=where.revision, token=token)
    found = [f for f in files if f.startswith(where.path) and f.lower().endswith(TEXT_SUFFIXES)]
    if len(found) == 1:
        return found[0]
    base = f"hf://datasets/{where.repo_id}" + (f"@{where.revision}" if where.revision else "")
    if not found:
        raise CharlmError(f"{where} holds no .txt or .parquet file; name the file: {base}/PATH.")
    shown = ", ".join(f"{base}/{f}" for f in found[:4]) + (" ..." if len(found) > 4 else "")
    raise CharlmError(f"{where} holds {len(found)} text or Parquet files; name one: {shown}")


def download_url(url: str, max_bytes: int | None) -> Path:
    """Any other URL, downloaded once into the charlm cache (no Hub token is sent to it). Offline, or
    when the network fails, a copy downloaded before is used."""
    scheme = urlsplit(url).scheme
    if scheme not in ("https", "http"):
        raise CharlmError(f"{url!r}: charlm reads files, hf://datasets/... addresses and http(s) URLs only.")
    name = Path(urlsplit(url).path).name or "corpus.txt"
    path = cache_dir() / "web" / hashlib.sha256(url.encode()).hexdigest()[:32] / name
    if path.is_file() and constants.HF_HUB_OFFLINE:
        return path
    if constants.HF_HUB_OFFLINE:
        raise OfflineModeIsEnabled(url)
    try:
        _stream_to(url, path, max_bytes)
    except httpx2.TransportError:
        if path.is_file():
            return path
        raise
    return path


def _stream_to(url: str, path: Path, max_bytes: int | None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".incomplete")
    try:
        with httpx2.stream("GET", url, follow_redirects=True, timeout=constants.HF_HUB_DOWNLOAD_TIMEOUT) as r:
            if r.status_code == 404:
                raise CharlmError(f"{url}: not found (404). Check the address.")
            r.raise_for_status()
            size = int(r.headers.get("Content-Length") or 0) or None
            check_size(size, max_bytes, url)
            written = 0
            with open(partial, "wb") as f:
                for block in r.iter_bytes():
                    written += len(block)
                    check_size(written, max_bytes, url)
                    f.write(block)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def check_size(size: int | None, max_bytes: int | None, name: str) -> None:
    if size is not None and max_bytes is not None and size > max_bytes:
        raise CharlmError(
            f"{name} is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.1f} MB this place allows; "
            "train on it with `python -m charlm train` on your own machine, or pick a smaller file."
        )


def check_text_start(path: Path, name: str) -> None:
    """Refuse a download that is plainly not text (the rest is checked as it is read)."""
    with open(path, "rb") as f:
        head = f.read(65536)
    if b"\x00" in head:
        raise CharlmError(
            f"{name} is a binary file, not text (it contains NUL bytes). Give a .txt or .parquet file."
        )
    try:
        head.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        if e.start < len(head) - 3:  # not just a character cut at the end of the 64 KiB
            raise CharlmError(
                f"{name} is not UTF-8 text (byte 0x{head[e.start]:02x} at offset {e.start}). Give a UTF-8 text file."
            ) from None


def parquet_text(path: Path, column: str | None, name: str) -> Path:
    """The text column of a Parquet file as a text file (each row, then a newline), written once into
    the charlm cache and reused."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as e:
        raise CharlmError(
            f"{name} is not a readable Parquet file ({str(e).splitlines()[0][:120]})."
        ) from None
    schema = table.schema_arrow
    strings = [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
    if column is None and len(strings) != 1:
        listed = ", ".join(strings) or "none"
        raise CharlmError(
            f"{name} has {len(strings)} text columns ({listed}); choose one with --column NAME."
        )
    column = column or strings[0]
    if column not in strings:
        kind = "is not a text column" if column in schema.names else "does not exist"
        raise CharlmError(
            f"{name}: column {column!r} {kind}; its text columns: {', '.join(strings) or 'none'}."
        )
    out = (
        cache_dir()
        / "parquet"
        / f"{file_hash(path)[:32]}-{hashlib.sha256(column.encode()).hexdigest()[:8]}.txt"
    )
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".incomplete")
    try:
        with open(partial, "w", encoding="utf-8", newline="") as f:
            for batch in table.iter_batches(columns=[column]):
                for value in batch.column(0).to_pylist():
                    if value is not None:
                        f.write(value.replace("\r\n", "\n") + ("" if value.endswith("\n") else "\n"))
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return out


@contextlib.contextmanager
def corpus_errors(source: str, token: str | bool | None, path: str = ""):
    """What huggingface_hub and httpx2 raise, as one CharlmError naming `source`, the token scrubbed."""

    def fail(message: str) -> CharlmError:
        return CharlmError(scrubbed(message, token))

    login = "log in (`hf auth login`) or set HF_TOKEN to read a private one"
    try:
        yield
    except CharlmError as e:
        raise fail(str(e)) from None
    except RevisionNotFoundError:
        raise fail(f"{source}: no such revision; leave out @REVISION to read the main branch.") from None
    except GatedRepoError:
        raise fail(f"{source} is gated: accept its terms on the Hub, then use a token that has.") from None
    except RepositoryNotFoundError:
        why = "your token cannot see it (is it private?)" if token else f"it is private: {login}"
        raise fail(f"{source}: no such dataset repo on the Hub, or {why}. Check OWNER/NAME.") from None
    except LocalEntryNotFoundError:
        if constants.HF_HUB_OFFLINE:
            raise fail(
                f"{source} is not in the local cache, and offline mode (HF_HUB_OFFLINE=1) forbids downloading it. "
                "Unset HF_HUB_OFFLINE and load it once while online."
            ) from None
        raise fail(
            f"could not reach the Hub at {constants.ENDPOINT}, and {source} is not cached. Check your network."
        ) from None
    except EntryNotFoundError:
        raise fail(f"{source}: the repo has no file {path!r}. Check the path (case matters).") from None
    except OfflineModeIsEnabled:
        raise fail(
            f"{source} is not in the local cache, and offline mode (HF_HUB_OFFLINE=1) forbids downloading it."
        ) from None
    except HFValidationError:
        raise fail(f"{source}: not a valid dataset repo id; write hf://datasets/OWNER/NAME.") from None
    except (HfHubHTTPError, httpx2.HTTPStatusError) as e:
        status = e.response.status_code if e.response is not None else None
        if status == 401:
            raise fail(
                f"{source}: the Hub rejected the token (401 Unauthorized). Check it, or {login}."
            ) from None
        raise fail(f"{source}: the server answered {status}: {str(e).splitlines()[0][:160]}") from None
    except (httpx2.TransportError, OSError) as e:
        raise fail(
            f"could not download {source} ({type(e).__name__}): check your network, or set HF_HUB_OFFLINE=1 "
            "to use a copy downloaded before."
        ) from None


def source_file(source: str, **options) -> tuple[Path, dict]:
    """The local text file of a command line's corpus (a path, an hf:// address or a URL), and what the
    model card records of where it came from."""
    if not is_remote(source):
        return Path(source), {}
    path = fetch(source, **options)
    where = parse_source(source, options.get("revision"))
    return path, {"dataset": where.repo_id} if isinstance(where, HubFile) else {"source": where}
