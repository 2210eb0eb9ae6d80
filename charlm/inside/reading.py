"""How every "Look inside" view reads a text: capped, encoded in the model's vocabulary (unknown
characters refused by name), and the model's inputs switched to evaluation mode."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch

from charlm.data import BOUNDARY, Split, make_split
from charlm.errors import CharlmError
from charlm.models import CharLM

MAX_CHARS = 2000  # a view draws every character; beyond this the page and the figures get slow


@dataclass
class Reading:
    """A text as a model reads it: the token stream (lines mode: `• line • line •`), the label of each
    token for axes, the character each token stands for in running text, and notes for the reader."""

    split: Split
    labels: list[str]  # vocab.label of every token: ␣ for space, ⏎ for newline, • for the boundary
    chars: list[str]  # what each token prints as in running text ("\n" for a line's end, "" at the start)
    notes: list[str] = field(default_factory=list)

    @property
    def ids(self) -> torch.Tensor:
        return self.split.tokens


def read(model: CharLM, text: str, max_chars: int = MAX_CHARS) -> Reading:
    """The first `max_chars` characters of `text` in `model`'s vocabulary and mode.

    Unknown characters raise the vocabulary's CharlmError, which names them.
    """
    if not isinstance(text, str) or not text.strip():
        raise CharlmError("the text is empty; type or paste a text to look at.")
    notes = []
    if len(text) > max_chars:
        notes.append(f"the text has {len(text):,} characters; only its first {max_chars:,} are shown.")
        text = text[:max_chars]
    vocab = model.config.vocab
    split = make_split(text, vocab)
    if len(split.tokens) < 2:
        raise CharlmError(
            "the text gives the model nothing to predict; give at least two characters (or one non-blank line)."
        )
    ids = split.tokens.tolist()
    labels = [vocab.label(i) for i in ids]
    if vocab.boundary:
        chars = ["" if k == 0 else "\n" if i == BOUNDARY else vocab.decode([i]) for k, i in enumerate(ids)]
    else:
        chars = list(text)
    return Reading(split, labels, chars, notes)


def last_block(reading: Reading, block_size: int, who: str) -> tuple[torch.Tensor, int, list[str]]:
    """The last `block_size` token ids of a reading (what a model with that context sees at the end),
    where they start, and the reading's notes plus one saying so when the text was longer."""
    ids = reading.ids
    start = max(0, len(ids) - block_size)
    notes = list(reading.notes)
    if start:
        notes.append(
            f"the {who} reads at most {block_size} characters; this shows the last {block_size} "
            f"of {len(ids):,}."
        )
    return ids[start:], start, notes


@contextmanager
def evaluating(model: CharLM) -> Iterator[CharLM]:
    """The model in evaluation mode (no dropout) without gradients, put back as it was afterwards."""
    with model.evaluation(), torch.no_grad():
        yield model
