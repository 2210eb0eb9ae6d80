"""Small texts written inline and tiny models of every rung, shared by the package's tests."""

from dataclasses import fields

import pytest
import torch

from charlm.data import Corpus
from charlm.models import build_model, model_class, model_config
from charlm.train import TrainConfig, Trainer

# Tiny models run fastest on one thread, and the test machine's few cores are shared.
torch.set_num_threads(1)

# Enough text for every rung to learn something in a few steps, with a vocabulary of about 30.
TEXT = (
    "the quick brown fox jumps over the lazy dog.\n"
    "a stitch in time saves nine; look before you leap!\n"
    "pack my box with five dozen liquor jugs, then go home.\n"
) * 6
NAMES = (  # one item per line, for lines mode
    "emma\nolivia\nava\nisabella\nsophia\nmia\namelia\nharper\nevelyn\nabigail\nemily\nella\nelizabeth\ncamila\nluna\n"
    "sofia\navery\nmila\naria\nscarlett\npenelope\nlayla\nchloe\nvictoria\nmadison\neleanor\ngrace\nnora\nriley\nzoey"
)
# Every model small enough to build and run in milliseconds; each takes the ones it has (`own`).
TINY = dict(block_size=8, n_embd=16, n_hidden=32, n_layer=2, n_head=2)
# ...but the scalar-autograd rung makes a Python object per multiplication: it gets the smallest sizes
TINY_FOR = {"value-mlp": dict(n_embd=2, n_hidden=4)}


def own(name: str, settings: dict) -> dict:
    """The part of `settings` that model `name` has (model_config refuses the rest by name), with TINY's
    sizes made TINY_FOR's for a rung that needs smaller ones (a size asked for explicitly stays)."""
    smaller = {k: v for k, v in TINY_FOR.get(name, {}).items() if settings.get(k) == TINY[k]}
    settings = {**settings, **smaller}
    known = {f.name for f in fields(model_class(name).config_class)}
    return {k: v for k, v in settings.items() if k in known}


def tiny_model(name: str, text: str = TEXT, mode: str = "text", seed: int = 0, **settings):
    """A freshly initialised tiny model of rung `name` for `text`, and its corpus."""
    corpus = Corpus.from_text(text, mode)
    torch.manual_seed(seed)
    model = build_model(
        model_config(name, chars=corpus.vocab.chars, mode=mode, **own(name, {**TINY, **settings}))
    )
    return model, corpus


def tiny_train_config(**overrides) -> TrainConfig:
    """A few CPU steps with small batches: what every training test starts from."""
    settings = dict(
        steps=20,
        batch_size=8,
        lr=1e-2,
        warmup_steps=2,
        eval_interval=10,
        eval_tokens=512,
        seed=7,
        device="cpu",
    )
    return TrainConfig(**{**settings, **overrides})


def train_tiny(
    name: str, text: str = TEXT, mode: str = "text", config: TrainConfig | None = None, **settings
):
    """A trained tiny model: a Trainer run to the end, returned with the losses of its steps."""
    model, corpus = tiny_model(name, text, mode, **settings)
    trainer = Trainer(model, corpus, config or tiny_train_config())
    losses = [event.train_loss for event in trainer.run()]
    return trainer, losses


def straight_and_resumed(tmp_path, config: TrainConfig, **settings) -> tuple[Trainer, Trainer, list, list]:
    """A transformer trained config.steps on NAMES, and the same run stopped halfway, saved, loaded and
    resumed: (the straight trainer, the resumed one, the straight run's losses, the two halves')."""
    from charlm.checkpoint import load_checkpoint, resume, save_checkpoint
    from charlm.train import new_trainer

    settings = {**own("transformer", TINY), **settings}
    straight = new_trainer(NAMES, "lines", "transformer", config, **settings)
    whole = [e.train_loss for e in straight.run()]
    half = new_trainer(NAMES, "lines", "transformer", config, **settings)
    parts = []
    for event in half.run():
        parts.append(event.train_loss)
        if event.step == config.steps // 2:
            break
    save_checkpoint(tmp_path / "half", half.model, trainer=half, metrics={})
    second = resume(load_checkpoint(tmp_path / "half"), NAMES)
    parts += [e.train_loss for e in second.run()]
    return straight, second, whole, parts


def same_weights(a: Trainer, b: Trainer) -> bool:
    """Whether two trainers' models hold equal weights, tensor for tensor."""
    ours, theirs = a.model.state_dict(), b.model.state_dict()
    return ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)


@pytest.fixture
def text_file(tmp_path):
    """TEXT written to a UTF-8 file."""
    path = tmp_path / "text.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def charlm_cache(tmp_path_factory, monkeypatch):
    """Token files and downloaded corpora go to a temporary folder, never the user's ~/.cache/charlm."""
    monkeypatch.setenv("CHARLM_CACHE", str(tmp_path_factory.mktemp("charlm-cache")))


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path):
    """The FakeHub on 127.0.0.1 with the real huggingface_hub client pointed at it (a temporary HF_HOME)."""
    from hub_server import FakeHub, use_fake_hub  # tests/ is on the path, as for conftest itself

    server = FakeHub().start()
    use_fake_hub(server, monkeypatch, tmp_path / "hf")
    yield server
    server.stop()


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    """`python -m charlm` in-process: (exit status, stdout, stderr). argparse's own errors exit via
    SystemExit."""
    from charlm.__main__ import main

    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def one_blas_thread():
    """Like the one torch thread above, for NumPy: tiny products run fastest on one BLAS thread."""
    from charlm.compare import blas_threads, set_blas_threads

    before = blas_threads()
    set_blas_threads(1)
    yield
    if before:
        set_blas_threads(before)
