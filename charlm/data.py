"""Text in, tensors out: reading a text file, the vocabulary, the two corpus modes, the
deterministic train/validation split, and random training batches."""

from dataclasses import dataclass
from pathlib import Path

import torch

from charlm.errors import CharlmError

MODES = ("text", "lines")
MAX_TEXT_BYTES = 20_000_000  # a playground trains in minutes; bigger corpora belong in nanoGPT
BOUNDARY = 0  # in lines mode, token 0 marks where a line starts and ends
DISPLAY = {" ": "␣", "\n": "⏎", "\t": "⇥", "\r": "␍"}


def read_text(path: str | Path, max_bytes: int | None = None) -> str:
    """Read a UTF-8 text file, refusing what is not text or bigger than `max_bytes` (MAX_TEXT_BYTES)."""
    max_bytes = MAX_TEXT_BYTES if max_bytes is None else max_bytes  # read now, so the limit can be changed
    path = Path(path)
    if not path.is_file():
        raise CharlmError(f"{path}: no such file. Give the path of a plain-text file.")
    size = path.stat().st_size
    if size > max_bytes:
        raise CharlmError(
            f"{path} is {size / 1e6:.1f} MB; charlm trains on texts up to {max_bytes / 1e6:.0f} MB. "
            f"Train on a part of it, e.g. `head -c {max_bytes // 2} {path} > part.txt`."
        )
    return decode_text(path.read_bytes(), str(path))


def decode_text(raw: bytes, name: str = "the text") -> str:
    """Bytes to text: UTF-8 (a BOM is dropped), CRLF line ends become LF. Binary data is refused."""
    if b"\x00" in raw[:65536]:
        raise CharlmError(f"{name} looks like a binary file (it contains NUL bytes). Give a plain-text file.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise CharlmError(
            f"{name} is not UTF-8 text (byte 0x{raw[e.start]:02x} at offset {e.start}). "
            "Save it as UTF-8 plain text and try again."
        ) from None
    return text.replace("\r\n", "\n")


def split_lines(text: str) -> list[str]:
    """The items of `lines` mode: the non-blank lines, without their line ends."""
    return [line for line in text.split("\n") if line.strip()]


@dataclass(frozen=True)
class Vocab:
    """Characters <-> token ids. In lines mode id 0 is the boundary token and characters start at 1."""

    chars: str  # the sorted unique characters of the text
    boundary: bool = False

    def __post_init__(self) -> None:
        offset = 1 if self.boundary else 0
        object.__setattr__(self, "stoi", {c: i + offset for i, c in enumerate(self.chars)})

    @classmethod
    def from_text(cls, text: str, mode: str = "text") -> "Vocab":
        return cls("".join(sorted(set(text) - ({"\n"} if mode == "lines" else set()))), mode == "lines")

    @property
    def size(self) -> int:
        return len(self.chars) + self.boundary

    def encode(self, s: str) -> list[int]:
        unknown = sorted(set(s) - self.stoi.keys())
        if unknown:
            shown = ", ".join(repr(c) for c in unknown[:10]) + (" ..." if len(unknown) > 10 else "")
            raise CharlmError(
                f"{len(unknown)} character(s) not in the model's vocabulary: {shown}. "
                "Remove them, or train on a text that contains them."
            )
        return [self.stoi[c] for c in s]

    def decode(self, ids) -> str:
        offset = 1 if self.boundary else 0
        return "".join(self.chars[i - offset] for i in ids if not (self.boundary and i == BOUNDARY))

    def label(self, i: int) -> str:
        """A visible name for token i: space, newline, tab and the boundary get symbols."""
        if self.boundary and i == BOUNDARY:
            return "•"
        c = self.chars[i - self.boundary]
        return DISPLAY.get(c, c if c.isprintable() else f"U+{ord(c):04X}")

    @property
    def start_token(self) -> int:
        """What generation starts from when there is no prompt: the boundary, or else a newline."""
        if self.boundary:
            return BOUNDARY
        return self.stoi.get("\n", self.stoi.get(" ", 0))


@dataclass
class Split:
    """One split as a token stream. In lines mode the stream is `B l1 B l2 B ... B` (B the boundary),
    with `starts[i]` the index of the B before line i and `lengths[i]` its number of predictions."""

    tokens: torch.Tensor  # (N,) int64
    starts: torch.Tensor | None = None  # (L,) int64, lines mode only
    lengths: torch.Tensor | None = None  # (L,) int64, lines mode only

    @property
    def longest(self) -> int:
        """The longest stretch of predictions one item needs."""
        return int(self.lengths.max()) if self.lengths is not None else len(self.tokens) - 1


@dataclass
class Corpus:
    """A text prepared for training: its vocabulary and its train and validation splits."""

    text: str
    mode: str
    vocab: Vocab
    train: Split
    val: Split

    @classmethod
    def from_text(
        cls,
        text: str,
        mode: str = "text",
        val_fraction: float = 0.1,
        seed: int = 1337,
        vocab: Vocab | None = None,
    ) -> "Corpus":
        if mode not in MODES:
            raise CharlmError(f"unknown corpus mode {mode!r}; use one of: {', '.join(MODES)}.")
        if not text.strip():
            raise CharlmError("the text is empty (or only whitespace). Paste or load some text to train on.")
        vocab = vocab or Vocab.from_text(text, mode)
        if mode == "text":
            if len(text) < 20:
                raise CharlmError(
                    f"the text has only {len(text)} characters; give at least 20 so that there is "
                    "something to learn and something left over to validate on."
                )
            if len(vocab.chars) < 2:
                raise CharlmError(
                    f"the text uses a single character ({vocab.chars!r}); a language model needs at least two."
                )
            data = make_split(text, vocab)
            n = int(len(data.tokens) * (1 - val_fraction))
            return cls(text, mode, vocab, Split(data.tokens[:n]), Split(data.tokens[n:]))
        lines = split_lines(text)
        if len(lines) < 2:
            raise CharlmError(
                f"lines mode needs at least 2 non-blank lines (one to train on, one to validate); this text "
                f"has {len(lines)}. Put one item per line, or use text mode."
            )
        order = torch.randperm(len(lines), generator=torch.Generator().manual_seed(seed)).tolist()
        n_val = max(1, round(len(lines) * val_fraction))
        train = [lines[i] for i in order[:-n_val]]
        val = [lines[i] for i in order[-n_val:]]
        return cls(text, mode, vocab, _lines_split(train, vocab), _lines_split(val, vocab))

    def summary(self) -> dict:
        """Characters, vocabulary size and lines: what the app and the model card show."""
        return {
            "characters": len(self.text),
            "vocab_size": self.vocab.size,
            "lines": self.text.count("\n") + (not self.text.endswith("\n")),
            "mode": self.mode,
            "train_tokens": len(self.train.tokens),
            "val_tokens": len(self.val.tokens),
        }


def make_split(text: str, vocab: Vocab) -> Split:
    """The whole of `text` as one split, in the vocabulary's mode (for evaluating on another file)."""
    if vocab.boundary:
        return _lines_split(split_lines(text), vocab)
    return Split(torch.tensor(vocab.encode(text), dtype=torch.long))


def _lines_split(lines: list[str], vocab: Vocab) -> Split:
    ids: list[int] = [BOUNDARY]
    starts, lengths = [], []
    for line in lines:
        starts.append(len(ids) - 1)
        ids.extend(vocab.encode(line))
        ids.append(BOUNDARY)
        lengths.append(len(line) + 1)
    return Split(torch.tensor(ids), torch.tensor(starts), torch.tensor(lengths))


def get_batch(
    split: Split, batch_size: int, T: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random windows: x (B, T) and the next characters y (B, T); -1 in y marks padding to ignore."""
    if split.starts is None:
        ix = torch.randint(len(split.tokens) - T, (batch_size,), generator=generator)
        offsets = ix[:, None] + torch.arange(T + 1)
        w = split.tokens[offsets]
        return w[:, :-1], w[:, 1:]
    item = torch.randint(len(split.starts), (batch_size,), generator=generator)
    room = (split.lengths[item] - T).clamp(min=0)  # how far a window can slide inside a long line
    shift = (torch.rand(batch_size, generator=generator) * (room + 1)).long()
    return _window(split, split.starts[item] + shift, split.starts[item] + split.lengths[item], T)


def eval_spans(split: Split, T: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The evaluation windows that cover every prediction of the split exactly once: where each one
    begins, and where its item (the whole text, or its line) ends. A window holds min(T, end - begin)
    predictions."""
    if split.starts is None:
        n = len(split.tokens) - 1
        begins = torch.arange(0, n, T)
        return begins, torch.full_like(begins, n)
    per_item = (split.lengths + T - 1) // T
    item = torch.repeat_interleave(torch.arange(len(split.starts)), per_item)
    first = torch.cumsum(per_item, 0) - per_item
    begins = split.starts[item] + (torch.arange(len(item)) - first[item]) * T
    return begins, split.starts[item] + split.lengths[item]


def eval_windows(
    split: Split,
    T: int,
    batch_size: int,
    max_tokens: int | None = None,
    windows: torch.Tensor | None = None,
):
    """Batches (x, y) of the non-overlapping windows of `eval_spans`: every prediction of the split
    exactly once, or only the windows numbered in `windows`, or only the first `max_tokens` predictions."""
    begins, ends = eval_spans(split, T)
    if windows is not None:
        begins, ends = begins[windows], ends[windows]
    if max_tokens is not None:
        keep = max(1, max_tokens // T)
        begins, ends = begins[:keep], ends[:keep]
    for i in range(0, len(begins), batch_size):
        yield _window(split, begins[i : i + batch_size], ends[i : i + batch_size], T)


def sample_windows(split: Split, T: int, max_tokens: int, generator: torch.Generator) -> torch.Tensor:
    """A simple random sample, without replacement, of the split's evaluation windows (their numbers, in
    order), of as many windows as hold about `max_tokens` predictions on average, and at least two, so
    that its spread can be measured. When that is every window, the sample is the whole split."""
    begins, ends = eval_spans(split, T)
    W = len(begins)
    predictions = int((ends - begins).clamp(max=T).sum())
    n = min(W, max(2, max_tokens * W // max(predictions, 1)))
    return torch.randperm(W, generator=generator)[:n].sort().values


def _window(
    split: Split, begin: torch.Tensor, end: torch.Tensor, T: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Windows of T inputs starting at `begin`; targets at or past `end` (exclusive of end) become -1."""
    pos = begin[:, None] + torch.arange(T + 1)  # (B, T+1)
    w = split.tokens[pos.clamp(max=len(split.tokens) - 1)]
    x, y = w[:, :-1], w[:, 1:].clone()
    y[pos[:, 1:] > end[:, None]] = -1
    return x, y
