"""Sharing on the Hugging Face Hub: push a checkpoint directory to a model repo (with its card and
loss curve), pull one back, and search the charlm models there. Every Hub failure becomes a
CharlmError that says what to do; the token never appears in one."""

import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import httpx2
from huggingface_hub import (
    HfApi,
    constants,
    get_token,
    hf_hub_download,
    scan_cache_dir,
    snapshot_download,
)
from huggingface_hub.errors import (
    CacheNotFound,
    EntryNotFoundError,
    HfHubHTTPError,
    HFValidationError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils import validate_repo_id

from charlm.card import CURVE, card_samples, loss_curve_png, model_card
from charlm.checkpoint import (
    CARD,
    CONFIG,
    METRICS,
    TRAINER_STATE,
    WEIGHTS,
    is_checkpoint,
    load_checkpoint,
    read_config,
    replace_dir,
)
from charlm.errors import CharlmError, scrubbed

FILES = [CONFIG, WEIGHTS, METRICS, TRAINER_STATE, CARD, CURVE]
TOKENS_PAGE = "https://huggingface.co/settings/tokens"


def resolve_token(token: str | None = None) -> str | None:
    """The token given, else HF_TOKEN, else the one `hf auth login` stored."""
    return (token or "").strip() or os.environ.get("HF_TOKEN") or get_token()


def repo_url(repo_id: str) -> str:
    return f"{constants.ENDPOINT.rstrip('/')}/{repo_id}"


def check_repo_id(repo_id: str) -> str:
    repo_id = (repo_id or "").strip()
    try:
        validate_repo_id(repo_id)
        if repo_id.count("/") != 1:
            raise HFValidationError("it needs a namespace")
    except HFValidationError:
        raise CharlmError(
            f"{repo_id!r} is not a valid Hub repo id: write it as `username/model-name` "
            "(letters, digits, '-', '_' and '.')."
        ) from None
    return repo_id


@contextlib.contextmanager
def hub_errors(repo_id: str, revision: str | None = None, token: str | None = None, writing: bool = False):
    """Turn what huggingface_hub raises into one clear CharlmError, with the token scrubbed."""

    def fail(message: str) -> CharlmError:
        return CharlmError(scrubbed(message, token))

    try:
        yield
    except CharlmError:
        raise
    except RevisionNotFoundError:
        raise fail(
            f"revision {revision!r} does not exist in {repo_id}; leave it out to get the latest (main)."
        ) from None
    except RepositoryNotFoundError:
        raise fail(
            f"{repo_id} does not exist on the Hub, or it is private and your token cannot see it. "
            "Check the repo id (username/model-name) and the token."
        ) from None
    except LocalEntryNotFoundError:
        if constants.HF_HUB_OFFLINE:
            raise fail(
                f"{repo_id} is not in the local cache, and offline mode (HF_HUB_OFFLINE=1) forbids downloading it. "
                "Unset HF_HUB_OFFLINE and pull it once while online."
            ) from None
        raise fail(
            f"could not reach the Hub at {constants.ENDPOINT} and {repo_id} is not cached. Check your network."
        ) from None
    except EntryNotFoundError:
        raise fail(
            f"{repo_id} is not a charlm model: it has no {CONFIG} (charlm pushes one with every model)."
        ) from None
    except OfflineModeIsEnabled:
        raise fail(
            "offline mode (HF_HUB_OFFLINE=1) is on, so nothing can be pushed. Unset it to push."
        ) from None
    except HfHubHTTPError as e:
        status = e.response.status_code if e.response is not None else None
        if status == 401:
            raise fail(
                f"the Hub rejected the token (401 Unauthorized). Check it, or create a new one at {TOKENS_PAGE}."
            ) from None
        if status == 403:
            action = "write to" if writing else "read"
            raise fail(
                f"the token may not {action} {repo_id} (403 Forbidden). Use a token with write access "
                f"({TOKENS_PAGE}) to a namespace you own."
            ) from None
        raise fail(f"the Hub answered {status}: {str(e).splitlines()[0][:200]}") from None
    except httpx2.RemoteProtocolError:
        raise fail(
            f"the download from {repo_id} was interrupted. Run it again; nothing partial was kept."
        ) from None
    except (httpx2.TransportError, OSError) as e:
        raise fail(
            f"could not reach the Hub at {constants.ENDPOINT} ({type(e).__name__}). Check your network, "
            "or set HF_HUB_OFFLINE=1 to use models already downloaded."
        ) from None


@dataclass
class Card:
    """The card a push will write: README.md's text and the loss curve's PNG (None without a history)."""

    text: str
    curve: bytes | None


def make_card(path: str | Path, repo_id: str | None = None, description: str | None = None) -> Card:
    """The card for pushing the checkpoint at `path`: what the app previews, and what push uploads."""
    checkpoint = load_checkpoint(path)
    history = checkpoint.metrics.get("history") or []
    curve = loss_curve_png(history) if history else None
    samples = card_samples(checkpoint.model)
    text = model_card(
        checkpoint.config,
        checkpoint.metrics,
        repo_id,
        description=description,
        samples=samples,
        curve=bool(curve),
    )
    return Card(text, curve)


def push(
    path: str | Path,
    repo_id: str,
    *,
    token: str | None = None,
    private: bool = False,
    description: str | None = None,
) -> str:
    """Upload a checkpoint directory to the model repo `repo_id` (created if needed), with its card
    (`description` replaces the card's first paragraph) and loss curve; returns its URL."""
    path = Path(path)
    config = read_config(path)
    repo_id = check_repo_id(repo_id)
    token = resolve_token(token)
    if not token:
        raise CharlmError(
            f"pushing needs a Hugging Face token with write access: pass --token, or set HF_TOKEN. Create one at {TOKENS_PAGE}."
        )
    card = make_card(path, repo_id, description)
    with hub_errors(repo_id, token=token, writing=True):
        api = HfApi(token=token)
        api.create_repo(repo_id, private=private, exist_ok=True)
        with tempfile.TemporaryDirectory() as staging:  # the card gets the repo id in its loading snippet
            for name in FILES:
                if (path / name).is_file():
                    shutil.copy2(path / name, Path(staging) / name)
            (Path(staging) / CARD).write_text(card.text, encoding="utf-8")
            if card.curve:
                (Path(staging) / CURVE).write_bytes(card.curve)
            api.upload_folder(
                folder_path=staging,
                repo_id=repo_id,
                commit_message=f"Upload charlm {config['model_type']} model",
            )
    return repo_url(repo_id)


def pull(
    repo_id: str, *, revision: str | None = None, out: str | Path | None = None, token: str | None = None
) -> Path:
    """Download a charlm model repo; returns a checkpoint directory (the cache's, or `out`).

    config.json is fetched and checked first, so a repo that is not a charlm model is refused before
    any weights are downloaded. With `out`, the checkpoint is written there atomically.
    """
    repo_id = check_repo_id(repo_id)
    revision = (revision or "").strip() or None
    token = resolve_token(token)
    with hub_errors(repo_id, revision, token):
        config_file = hf_hub_download(repo_id, CONFIG, revision=revision, token=token)
        try:
            read_config(Path(config_file).parent)
        except CharlmError:
            raise CharlmError(
                f"{repo_id} is not a charlm model: its {CONFIG} was not written by charlm."
            ) from None
        snapshot = Path(snapshot_download(repo_id, revision=revision, token=token, allow_patterns=FILES))
    if not (snapshot / WEIGHTS).is_file():
        raise CharlmError(f"{repo_id} has no {WEIGHTS}: it is not a complete charlm model.")
    if out is None:
        return snapshot
    return replace_dir(
        out,
        lambda staging: [shutil.copy2(snapshot / n, staging / n) for n in FILES if (snapshot / n).is_file()],
    )


# ---------------------------------------------------------------------------------------------------
# Finding charlm models on the Hub, from their cards' metadata (no weights are downloaded)

SORTS = {"downloads": "downloads", "likes": "likes", "recent": "last_modified"}  # ours -> list_models'
EXPAND = ["cardData", "downloads", "likes", "lastModified", "tags"]
COLUMNS = ["repo", "model", "parameters", "corpus", "validation loss", "downloads", "likes", "updated"]


@dataclass
class Found:
    """One charlm model on the Hub, as its card's metadata describes it."""

    repo: str
    model: str | None
    params: int | None
    corpus: str
    val_loss: float | None
    downloads: int | None
    likes: int | None
    updated: str | None

    def cells(self) -> list:
        """The row a table shows, in COLUMNS' order."""
        loss = "-" if self.val_loss is None else f"{self.val_loss:.4f}"
        params = "?" if self.params is None else f"{self.params:,}"
        return [
            self.repo,
            self.model or "?",
            params,
            self.corpus,
            loss,
            self.downloads,
            self.likes,
            self.updated,
        ]


@dataclass
class SearchPage:
    rows: list[Found]
    page: int  # from 0
    has_more: bool


def found(info) -> Found:
    """A listing's ModelInfo as a row; huggingface_hub parsed the card's YAML (model-index included)."""
    data = info.card_data
    meta = (data.get("charlm") if data is not None else None) or {}
    meta = meta if isinstance(meta, dict) else {}
    corpus = meta.get("corpus") if isinstance(meta.get("corpus"), dict) else {}
    val = next(
        (
            r.metric_value
            for r in (getattr(data, "eval_results", None) or [])
            if r.metric_type == "loss" and r.dataset_split in (None, "validation")
        ),
        None,
    )
    words = [f"{corpus['characters']:,} characters" if isinstance(corpus.get("characters"), int) else ""]
    words += [f"{corpus['mode']} mode" if corpus.get("mode") else ""]
    words += [", ".join(getattr(data, "datasets", None) or [])]
    updated = info.last_modified.strftime("%Y-%m-%d %H:%M") if info.last_modified else None
    params = meta.get("parameters")
    return Found(
        info.id,
        meta.get("model_type"),
        params if isinstance(params, int) else None,
        ", ".join(w for w in words if w) or "?",
        float(val) if isinstance(val, (int, float)) else None,
        info.downloads,
        info.likes,
        updated,
    )


def cached_models() -> list[str]:
    """The charlm models in the local Hub cache: what still loads without a network."""
    try:
        repos = scan_cache_dir().repos
    except (CacheNotFound, OSError, ValueError):  # no cache yet, or one being written
        return []
    return sorted(
        r.repo_id
        for r in repos
        if r.repo_type == "model" and any(is_checkpoint(rev.snapshot_path) for rev in r.revisions)
    )


def unreachable(reason: str) -> CharlmError:
    cached = cached_models()
    where = f": {', '.join(cached[:10])}" if cached else " (none is cached yet)"
    return CharlmError(f"the Hub cannot be reached ({reason}); cached models still load{where}.")


def search(
    text: str | None = None,
    *,
    sort: str = "downloads",
    limit: int = 20,
    page: int = 0,
    token: str | None = None,
) -> SearchPage:
    """Page `page` (from 0) of the charlm models on the Hub whose id contains `text`, `limit` a page,
    most downloaded, most liked or most recently updated first."""
    if sort not in SORTS:
        raise CharlmError(f"sort by one of {', '.join(SORTS)}, not {sort!r}.")
    if not 1 <= limit <= 100 or page < 0:
        raise CharlmError("a page holds 1 to 100 models, and pages count from 0.")
    if constants.HF_HUB_OFFLINE:
        raise unreachable("offline mode, HF_HUB_OFFLINE=1")
    token = resolve_token(token)
    start = page * limit
    try:
        listing = HfApi(token=token).list_models(
            filter="charlm",
            search=(text or "").strip() or None,
            sort=SORTS[sort],
            limit=start + limit + 1,  # one more than the page: whether there is a next one
            expand=EXPAND,
        )
        infos = list(islice(listing, start, start + limit + 1))
    except HfHubHTTPError as e:
        status = e.response.status_code if e.response is not None else None
        if status == 401:
            raise CharlmError(
                f"the Hub rejected the token (401 Unauthorized). Check it at {TOKENS_PAGE}."
            ) from None
        message = scrubbed(str(e).splitlines()[0][:200], token)
        raise CharlmError(f"the Hub answered {status} to the search: {message}") from None
    except (httpx2.TransportError, OSError) as e:
        raise unreachable(f"{type(e).__name__} from {constants.ENDPOINT}") from None
    return SearchPage([found(i) for i in infos[:limit]], page, len(infos) > limit)
