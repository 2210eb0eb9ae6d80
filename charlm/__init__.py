"""charlm: a playground for character-level language models. Train, look inside, sample, share."""

from pathlib import Path

from charlm.checkpoint import VERSION as __version__
from charlm.checkpoint import Checkpoint, list_checkpoints, load_checkpoint, save_checkpoint
from charlm.data import Corpus, Vocab, read_text
from charlm.errors import CharlmError
from charlm.models import MODELS, CharLM, build_model, model_config
from charlm.sampling import sample, stream
from charlm.train import Progress, TrainConfig, Trainer, evaluate, new_trainer


def load(name_or_path: str, device: str = "cpu", revision: str | None = None) -> CharLM:
    """A trained model from a checkpoint directory, or from a Hub repo id (`user/model`, downloaded
    once and then read from the local cache)."""
    path = Path(name_or_path)
    if (
        not path.exists()
        and str(name_or_path).count("/") == 1
        and not str(name_or_path).startswith((".", "/"))
    ):
        from charlm.hub import pull  # only Hub users pay for importing the Hub client's machinery

        path = pull(str(name_or_path), revision=revision)
    return load_checkpoint(path, device).model


__all__ = [
    "__version__",
    "MODELS",
    "CharLM",
    "CharlmError",
    "Checkpoint",
    "Corpus",
    "Progress",
    "TrainConfig",
    "Trainer",
    "Vocab",
    "build_model",
    "evaluate",
    "list_checkpoints",
    "load",
    "load_checkpoint",
    "model_config",
    "new_trainer",
    "read_text",
    "sample",
    "save_checkpoint",
    "stream",
]
