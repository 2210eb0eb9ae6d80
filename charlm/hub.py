"""Sharing on the Hugging Face Hub: push a checkpoint directory to a model repo, pull one back.
Every Hub failure becomes a CharlmError that says what to do; the token never appears in one."""

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

import httpx2
from huggingface_hub import HfApi, constants, get_token, hf_hub_download, snapshot_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    HFValidationError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils import validate_repo_id

from charlm.checkpoint import (
    CARD,
    CONFIG,
    METRICS,
    TRAINER_STATE,
    WEIGHTS,
    model_card,
    read_config,
    read_json,
    replace_dir,
)
from charlm.errors import CharlmError

FILES = [CONFIG, WEIGHTS, METRICS, TRAINER_STATE, CARD]
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
        return CharlmError(message.replace(token, "***") if token else message)

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


def push(path: str | Path, repo_id: str, *, token: str | None = None, private: bool = False) -> str:
    """Upload a checkpoint directory to the model repo `repo_id` (created if needed); returns its URL."""
    path = Path(path)
    config = read_config(path)
    repo_id = check_repo_id(repo_id)
    token = resolve_token(token)
    if not token:
        raise CharlmError(
            f"pushing needs a Hugging Face token with write access: pass --token, or set HF_TOKEN. Create one at {TOKENS_PAGE}."
        )
    with hub_errors(repo_id, token=token, writing=True):
        api = HfApi(token=token)
        api.create_repo(repo_id, private=private, exist_ok=True)
        with tempfile.TemporaryDirectory() as staging:  # the card gets the repo id in its loading snippet
            for name in FILES:
                if (path / name).is_file():
                    shutil.copy2(path / name, Path(staging) / name)
            card = model_card(config, read_json(path / METRICS), repo_id)
            (Path(staging) / CARD).write_text(card, encoding="utf-8")
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
