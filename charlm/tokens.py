"""Texts bigger than memory: a text file is encoded once, chunk by chunk, into a token file (uint16, or
uint32 above 65,535 characters) with its vocabulary beside it, cached by the text's content hash;
training reads its windows through a memory map."""

import codecs
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from charlm import data
from charlm.data import Corpus, Split, Vocab
from charlm.errors import CharlmError

CHUNK_BYTES = 8 * 2**20  # what one pass holds of the text at a time
VAL_MAX_TOKENS = 1_000_000  # a token file's validation split: val_fraction of it, at most this many
FORMAT = 1  # bump when the layout of tokens.bin or vocab.json changes: older files are then re-encoded
TOKENS, VOCAB = "tokens.bin", "vocab.json"
UNICODE = 0x110000


def cache_dir() -> Path:
    """Where charlm keeps what it derives from corpora: $CHARLM_CACHE, else ~/.cache/charlm."""
    return Path(os.environ.get("CHARLM_CACHE") or Path.home() / ".cache" / "charlm")


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK_BYTES):
            digest.update(block)
    return digest.hexdigest()


def read_chunks(path: Path, name: str) -> Iterator[str]:
    """The text of `path` in pieces, decoded as `data.decode_text` decodes a whole text: UTF-8, a BOM
    dropped, CRLF as LF (also across piece boundaries); binary or non-UTF-8 bytes refused."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    offset, pending = 0, ""
    with open(path, "rb") as f:
        while True:
            raw = f.read(CHUNK_BYTES)
            if offset == 0 and b"\x00" in raw[:65536]:
                raise CharlmError(
                    f"{name} looks like a binary file (it contains NUL bytes). Give a plain-text file."
                )
            try:
                text = pending + decoder.decode(raw, final=not raw)
            except UnicodeDecodeError as e:
                raise CharlmError(
                    f"{name} is not UTF-8 text (byte 0x{e.object[e.start]:02x} near offset {offset + e.start}). "
                    "Save it as UTF-8 plain text and try again."
                ) from None
            pending = "\r" if raw and text.endswith("\r") else ""  # its "\n" may start the next piece
            text = text[: len(text) - len(pending)]
            if text:
                yield text.replace("\r\n", "\n")
            if not raw:
                return
            offset += len(raw)


def codepoints(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


@dataclass
class TokenFile:
    """An encoded text: `tokens.bin` (one id per character) and `vocab.json` (its characters, dtype,
    length, line count and the sha256 of the text it came from)."""

    path: Path
    meta: dict

    @property
    def vocab(self) -> Vocab:
        return Vocab(self.meta["chars"])

    @property
    def tokens(self) -> "TokenArray":
        return TokenArray(self.path / TOKENS, np.dtype(self.meta["dtype"]), 0, self.meta["tokens"])


def encode_file(path: str | Path, name: str | None = None, root: Path | None = None) -> TokenFile:
    """The token file of the text at `path`: the cached one when a text with the same content was
    encoded before, else written now in two streaming passes (vocabulary, then ids)."""
    path = Path(path)
    name = name or str(path)
    if not path.is_file():
        raise CharlmError(f"{path}: no such file. Give the path of a plain-text file.")
    sha = file_hash(path)
    folder = (root or cache_dir() / "tokens") / f"{sha[:32]}-v{FORMAT}"
    if not (folder / VOCAB).is_file():
        _encode(path, name, sha, folder)
    return TokenFile(folder, json.loads((folder / VOCAB).read_text(encoding="utf-8")))


def _encode(path: Path, name: str, sha: str, folder: Path) -> None:
    """Write `folder` atomically: a temporary sibling filled, then renamed (so an interrupted encoding
    leaves nothing behind, and a concurrent one of the same text wins or loses whole)."""
    seen, lines, n = np.zeros(UNICODE, dtype=bool), 0, 0
    for text in read_chunks(path, name):
        seen[codepoints(text)] = True
        lines, n = lines + text.count("\n"), n + len(text)
    ids = np.flatnonzero(seen)
    chars = "".join(map(chr, ids))  # sorted by code point, as Vocab.from_text sorts
    dtype = np.uint16 if len(chars) <= 65535 else np.uint32
    lookup = np.zeros(UNICODE, dtype=dtype)
    lookup[ids] = np.arange(len(ids))
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".encoding-", dir=folder.parent))
    try:
        with open(tmp / TOKENS, "wb") as f:
            for text in read_chunks(path, name):
                lookup[codepoints(text)].tofile(f)
        meta = {"format": FORMAT, "sha256": sha, "source": name, "chars": chars}
        meta |= {"dtype": np.dtype(dtype).name, "tokens": n, "lines": lines}
        (tmp / VOCAB).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        os.rename(tmp, folder)
    except OSError:
        if not (folder / VOCAB).is_file():  # else another process encoded the same text meanwhile
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class TokenArray:
    """A stretch [begin, end) of a token file, indexed like a 1-D LongTensor: positions in, ids out.
    Each read maps the file anew and lets it go (nanoGPT's way), so the pages a run has touched do not
    pile up in the process. `remap` turns the file's ids into another vocabulary's."""

    def __init__(self, file: Path, dtype: np.dtype, begin: int, end: int, remap: np.ndarray | None = None):
        self.file, self.dtype, self.begin, self.end, self.remap = file, dtype, begin, end, remap

    def __len__(self) -> int:
        return self.end - self.begin

    def __getitem__(self, index) -> "TokenArray | torch.Tensor":
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                raise ValueError("a TokenArray slices with step 1 only")
            return TokenArray(
                self.file, self.dtype, self.begin + start, self.begin + max(start, stop), self.remap
            )
        positions = torch.as_tensor(index, dtype=torch.long).numpy()
        ids = np.asarray(
            np.memmap(self.file, dtype=self.dtype, mode="r")[positions + self.begin], dtype=np.int64
        )
        return torch.from_numpy(self.remap[ids] if self.remap is not None else ids)


@dataclass
class TokenCorpus(Corpus):
    """A corpus read from a token file: the same splits as `Corpus.from_text` would make (the last
    val_fraction is validation, but at most VAL_MAX_TOKENS), with no text held in memory."""

    lines: int = 0
    token_file: str = ""

    def summary(self) -> dict:
        return {
            "characters": len(self.train.tokens) + len(self.val.tokens),
            "vocab_size": self.vocab.size,
            "lines": self.lines,
            "mode": self.mode,
            "train_tokens": len(self.train.tokens),
            "val_tokens": len(self.val.tokens),
        }


def token_corpus(tf: TokenFile, val_fraction: float = 0.1, vocab: Vocab | None = None) -> TokenCorpus:
    """The text-mode corpus of a token file, in its own vocabulary or in `vocab` (a resumed model's)."""
    tokens, n = tf.tokens, tf.meta["tokens"]
    if vocab is not None and vocab.chars != tf.vocab.chars:
        vocab.encode(tf.vocab.chars)  # names the characters the model has never seen
        tokens.remap = np.array([vocab.stoi[c] for c in tf.vocab.chars], dtype=np.int64)
    if n < 20 or len(tf.vocab.chars) < 2:
        raise CharlmError(f"{tf.meta['source']} is too short or uses a single character; give a longer text.")
    cut = max(int(n * (1 - val_fraction)), n - VAL_MAX_TOKENS)
    vocab = vocab or tf.vocab
    return TokenCorpus(
        "", "text", vocab, Split(tokens[:cut]), Split(tokens[cut:]), tf.meta["lines"], str(tf.path)
    )


def open_corpus(
    path: str | Path,
    mode: str = "text",
    val_fraction: float = 0.1,
    seed: int = 1337,
    vocab: Vocab | None = None,
) -> Corpus:
    """The corpus of a text file: read whole up to data.MAX_TEXT_BYTES, else (text mode) through its
    token file, encoded now or reused."""
    path = Path(path)
    if not path.is_file() or path.stat().st_size <= data.MAX_TEXT_BYTES:
        text = data.read_text(path)
        return Corpus.from_text(text, mode, val_fraction=val_fraction, seed=seed, vocab=vocab)
    if mode != "text":
        raise CharlmError(
            f"{path} is {path.stat().st_size / 1e6:.0f} MB: lines mode reads a text whole, up to "
            f"{data.MAX_TEXT_BYTES / 1e6:.0f} MB. Use --mode text, which streams bigger texts from a token file."
        )
    return token_corpus(encode_file(path), val_fraction, vocab)
