"""Each character's learned vector in 2-D: PCA of a model's embedding table, character classes for
colour, and `Snapshots`, which keeps a copy of the table at every evaluation during training."""

import unicodedata
from dataclasses import dataclass

import numpy as np
import torch

from charlm.data import BOUNDARY, Vocab
from charlm.errors import CharlmError
from charlm.models import CharLM
from charlm.models.bigram import NeuralBigram
from charlm.models.numpy_models import NumpyBigram, NumpyMLP
from charlm.models.value_mlp import ValueMLP
from charlm.train import Progress

CLASSES = ("vowel", "consonant", "digit", "punctuation", "whitespace", "boundary")

# Rungs whose table is not called `wte`: the neural bigram's rows are each character's vector of logits.
TABLES = {
    NeuralBigram: lambda m: m.table,
    NumpyBigram: lambda m: m.W,
    NumpyMLP: lambda m: m.C,
    ValueMLP: lambda m: m.C,
}


def embedding_table(model: CharLM) -> torch.Tensor:
    """The model's character table (vocab_size, n): row i is token i's vector (a copy, on the CPU)."""
    get = next((f for cls, f in TABLES.items() if isinstance(model, cls)), None)
    wte = getattr(model, "wte", None)
    if get is not None:
        table = get(model)
    elif isinstance(wte, torch.nn.Embedding):
        table = wte.weight
    else:
        raise CharlmError(
            f"the {model.config.model_type} has no embeddings (it keeps counts, not vectors); "  # the count bigram
            "train a neural bigram, an MLP, an RNN or a transformer."
        )
    return table.detach().float().cpu().clone()


def char_class(vocab: Vocab, i: int) -> str:
    """Which of CLASSES token i is. Accented vowels (é, ü) count as vowels."""
    if vocab.boundary and i == BOUNDARY:
        return "boundary"
    c = vocab.chars[i - vocab.boundary]
    if c.isspace():
        return "whitespace"
    if c.isdigit():
        return "digit"
    if c.isalpha():
        base = unicodedata.normalize("NFD", c)[0].lower()
        return "vowel" if base in "aeiou" else "consonant"
    return "punctuation"


def pca(table: np.ndarray, k: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The first k principal directions of the rows of `table` (k, n), the rows' mean (n,), and the
    share of variance each direction explains (k,). Each direction's sign is fixed so that its largest
    loading is positive: the same table always gives the same picture."""
    X = np.asarray(table, dtype=np.float64)
    mean = X.mean(0)
    _, s, vt = np.linalg.svd(X - mean, full_matrices=False)
    basis = vt[:k]
    if basis.shape[0] < k:  # fewer dimensions than k (a table one wide): pad with zero directions
        basis = np.vstack([basis, np.zeros((k - basis.shape[0], X.shape[1]))])
    rows = np.arange(k)
    basis = basis * np.where(basis[rows, np.abs(basis).argmax(1)] < 0, -1.0, 1.0)[:, None]
    variance = s**2
    explained = np.zeros(k)
    explained[: min(k, len(s))] = (variance / max(variance.sum(), 1e-30))[:k]
    return basis, mean, explained


@dataclass
class Embeddings:
    """Characters in 2-D, one frame per snapshot: coords[frame, token] = (x, y)."""

    coords: np.ndarray  # (frames, vocab_size, 2)
    steps: list[int | None]  # the training step of each frame (None: the model as it is)
    labels: list[str]
    classes: list[str]  # CLASSES entry of each token
    explained: np.ndarray  # (2,) share of the variance the two axes explain, in the final table
    notes: list[str]


def project(tables: list[np.ndarray], vocab: Vocab, steps: list, normalise: bool = True) -> Embeddings:
    """Project every table on the PCA basis of the last one.

    One basis for all frames, so a character's motion between frames is motion of its vector, not a
    rotation of the axes. Each frame is centred on its own mean, and with `normalise` scaled to unit
    mean radius: initial tables are far smaller than trained ones (std 0.02), and the picture is about
    their shape.
    """
    basis, _, explained = pca(tables[-1])
    frames = []
    for t in tables:
        t = np.asarray(t, dtype=np.float64)
        xy = (t - t.mean(0)) @ basis.T  # (V, 2)
        if normalise:
            xy = xy / max(float(np.sqrt((xy**2).sum(1).mean())), 1e-12)
        frames.append(xy)
    ids = range(vocab.size)
    notes = ["each frame is projected on the final table's two principal directions, centred and scaled."]
    return Embeddings(
        np.stack(frames),
        list(steps),
        [vocab.label(i) for i in ids],
        [char_class(vocab, i) for i in ids],
        explained,
        notes if len(tables) > 1 else [],
    )


def embeddings(model: CharLM) -> Embeddings:
    """The model's character vectors projected on their first two principal directions (unscaled)."""
    table = embedding_table(model).numpy()
    return project([table], model.config.vocab, [None], normalise=False)


class Snapshots:
    """Copies of a model's embedding table during training, for the step slider.

    Call it with every Progress event; it keeps a copy at each evaluation (`event.val_loss` is set),
    and one at construction (`step`, the model as it starts; None skips it). Past `max_frames` every
    other older copy is dropped, so a long run keeps an even spread. Then `embedding_history(snapshots)`.

        snapshots = Snapshots(trainer.model)
        for event in trainer.run():
            snapshots(event)
    """

    def __init__(self, model: CharLM, step: int | None = 0, max_frames: int = 60):
        embedding_table(model)  # a rung without a table refuses now, not after training
        self.model, self.max_frames = model, max_frames
        self.steps: list[int] = []
        self.tables: list[np.ndarray] = []
        if step is not None:
            self.record(step)

    def __call__(self, event: Progress) -> None:
        if event.val_loss is not None:
            self.record(event.step)

    def record(self, step: int) -> None:
        if self.steps and self.steps[-1] == step:
            return
        self.steps.append(step)
        self.tables.append(embedding_table(self.model).numpy())
        if len(self.steps) > self.max_frames:
            keep = list(range(0, len(self.steps) - 1, 2)) + [len(self.steps) - 1]
            self.steps = [self.steps[i] for i in keep]
            self.tables = [self.tables[i] for i in keep]


def embedding_history(snapshots: Snapshots, normalise: bool = True) -> Embeddings:
    """Every snapshot projected on the last one's PCA basis (see `project`)."""
    if not snapshots.tables:
        raise CharlmError("no embedding snapshots yet; they are taken at each evaluation during training.")
    return project(snapshots.tables, snapshots.model.config.vocab, snapshots.steps, normalise)
