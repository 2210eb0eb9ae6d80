"""How surprised a model is by each character of a text (its loss there, in bits), read exactly the
way `charlm.train.evaluate` reads a split; and two models compared character by character."""

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from charlm.data import Split, eval_windows
from charlm.errors import CharlmError
from charlm.inside.reading import Reading, evaluating, read
from charlm.models import CharLM
from charlm.train import sequence_length

LN2 = math.log(2)


@dataclass
class Surprisal:
    """bits[t]: -log2 p(token t | what the model read before it); NaN where nothing predicts it (the
    first character)."""

    bits: np.ndarray  # (T,) float64
    labels: list[str]
    chars: list[str]
    model: str  # the model's type, for titles
    notes: list[str]

    @property
    def count(self) -> int:
        return int(np.isfinite(self.bits).sum())

    @property
    def total_bits(self) -> float:
        return float(np.nansum(self.bits))

    @property
    def mean_bits(self) -> float:
        return self.total_bits / max(self.count, 1)

    def worst(self, n: int = 10) -> list[tuple[int, str, float]]:
        """The n characters that cost the most: (position, label, bits), worst first."""
        order = np.argsort(-np.nan_to_num(self.bits, nan=-np.inf), kind="stable")[:n]
        return [(int(t), self.labels[t], float(self.bits[t])) for t in order if np.isfinite(self.bits[t])]


def token_nats(model: CharLM, split: Split) -> tuple[torch.Tensor, int, int]:
    """The loss in nats of every prediction `evaluate(model, split)` makes, at the position of the token
    predicted (NaN where none is); and the window length and number of windows it reads with."""
    T = sequence_length(model, split)
    # the same windows over a stream of positions: their targets say which token each prediction is for
    positions = Split(torch.arange(len(split.tokens)), split.starts, split.lengths)
    nats = torch.full((len(split.tokens),), math.nan, dtype=torch.float64)
    windows = 0
    with evaluating(model):
        for (x, y), (_, where) in zip(eval_windows(split, T, 64), eval_windows(positions, T, 64)):
            logits, _ = model(x.to(model.device))  # (B, T, V)
            loss = F.cross_entropy(
                logits.transpose(1, 2), y.to(model.device), ignore_index=-1, reduction="none"
            )
            keep = y != -1
            nats[where[keep]] = loss.cpu().double()[keep]
            windows += len(x)
    return nats, T, windows


def surprisal(model: CharLM, text: str | Reading) -> Surprisal:
    """Each character's loss in bits under `model`, read as evaluation reads a text: in non-overlapping
    windows (of block_size for the transformer and recurrent models, of max(64, 4 × block_size) for
    windowed models), each starting without the text before it. The notes say when there is more than one."""
    reading = text if isinstance(text, Reading) else read(model, text)
    nats, T, windows = token_nats(model, reading.split)
    notes = list(reading.notes)
    split = reading.split
    if split.starts is not None:
        longer = int((split.lengths > T).sum())
        notes.append(
            "read as evaluation reads it: each line on its own, from the boundary before it"
            + (f"; {longer} line(s) longer than {T} characters in windows of {T}." if longer else ".")
        )
    elif windows > 1:
        notes.append(
            f"read as evaluation reads it: in {windows} windows of up to {T} characters, each starting "
            "without the characters before it."
        )
    return Surprisal((nats / LN2).numpy(), reading.labels, reading.chars, model.config.model_type, notes)


@dataclass
class Comparison:
    """Two models' surprisal on one text; `gain[t]` = bits of a - bits of b (> 0: b did better)."""

    a: Surprisal
    b: Surprisal

    @property
    def gain(self) -> np.ndarray:
        return self.a.bits - self.b.bits

    @property
    def b_better(self) -> int:
        return int((self.gain > 0).sum())

    @property
    def a_better(self) -> int:
        return int((self.gain < 0).sum())


def compare(a: CharLM, b: CharLM, text: str) -> Comparison:
    """Both models' surprisal on `text`, character by character. They must read text the same way
    (both in text mode or both in lines mode); their vocabularies may differ if both know the text."""
    if a.config.mode != b.config.mode:
        raise CharlmError(
            f"one model reads {a.config.mode} and the other {b.config.mode}; compare models of one mode."
        )
    sa, sb = surprisal(a, text), surprisal(b, text)
    return Comparison(sa, sb)
