"""Token files: the same splits and batches as reading the text whole (the oracle), streaming across
chunk boundaries, reuse by content hash, uint32 vocabularies, and `charlm train` above the whole-read limit."""

import json

import numpy as np
import pytest
import torch
from conftest import TEXT

import charlm.data
import charlm.tokens
from charlm.__main__ import main
from charlm.data import Corpus, decode_text, eval_windows, get_batch
from charlm.errors import CharlmError
from charlm.tokens import encode_file, open_corpus, token_corpus

# CRLF line ends, a BOM and characters of 2, 3 and 4 bytes, cut anywhere by 7-byte chunks
ODD = "\ufeff" + "héllo wörld\r\nthe quick € fox 😀 jumps\r\nover\r\n" * 9


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CHARLM_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_a_token_file_gives_the_same_splits_and_batches_as_the_whole_text(tmp_path, monkeypatch):
    monkeypatch.setattr(charlm.tokens, "CHUNK_BYTES", 7)
    path = tmp_path / "odd.txt"
    path.write_bytes(ODD.encode())
    whole, streamed = Corpus.from_text(decode_text(path.read_bytes())), token_corpus(encode_file(path))
    assert streamed.vocab == whole.vocab and streamed.summary() == whole.summary()
    for name in ("train", "val"):
        a, b = getattr(whole, name), getattr(streamed, name)
        assert torch.equal(b.tokens[torch.arange(len(b.tokens))], a.tokens)
        g, h = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
        for _ in range(3):
            assert all(torch.equal(u, v) for u, v in zip(get_batch(a, 4, 8, g), get_batch(b, 4, 8, h)))
        for (x, y), (u, v) in zip(eval_windows(a, 8, 4), eval_windows(b, 8, 4)):
            assert torch.equal(x, u) and torch.equal(y, v)


def test_an_unchanged_text_reuses_its_token_file_and_a_changed_one_does_not(tmp_path, cache, monkeypatch):
    path = tmp_path / "t.txt"
    path.write_text(TEXT, encoding="utf-8")
    first = encode_file(path)
    assert first.meta["dtype"] == "uint16" and len(first.vocab.chars) == len(set(TEXT))
    with monkeypatch.context() as m:
        m.setattr(charlm.tokens, "_encode", None)  # encoding again would fail
        assert encode_file(path).path == first.path
    path.write_text(TEXT + "!", encoding="utf-8")
    assert encode_file(path).path != first.path
    assert len(list((cache / "tokens").iterdir())) == 2  # nothing half-written left beside them


def test_more_than_65535_characters_take_uint32(tmp_path):
    chars = "".join(chr(c) for c in range(0x4E00, 0x4E00 + 70_000) if not 0xD800 <= c < 0xE000)
    path = tmp_path / "wide.txt"
    path.write_text(chars * 2, encoding="utf-8")
    tf = encode_file(path)
    assert tf.meta["dtype"] == "uint32" and tf.vocab.size == len(chars)
    ids = tf.tokens[torch.arange(len(chars), 2 * len(chars))]
    assert tf.vocab.decode(ids.tolist()) == chars


def test_binary_and_non_utf8_are_refused(tmp_path):
    (tmp_path / "b.bin").write_bytes(b"abc\x00def" * 10)
    (tmp_path / "l.txt").write_bytes("caf\xe9".encode("latin-1") * 10)
    with pytest.raises(CharlmError, match="binary"):
        encode_file(tmp_path / "b.bin")
    with pytest.raises(CharlmError, match="not UTF-8"):
        encode_file(tmp_path / "l.txt")


def test_validation_is_capped_and_a_resumed_vocabulary_remaps(tmp_path, monkeypatch):
    path = tmp_path / "t.txt"
    path.write_text(TEXT, encoding="utf-8")
    monkeypatch.setattr(charlm.tokens, "VAL_MAX_TOKENS", 50)
    corpus = token_corpus(encode_file(path))
    assert len(corpus.val.tokens) == 50 and len(corpus.train.tokens) == len(TEXT) - 50
    wider = charlm.data.Vocab("".join(sorted(set(TEXT) | set("XYZ"))))
    remapped = token_corpus(encode_file(path), vocab=wider)
    assert wider.decode(remapped.val.tokens[torch.arange(50)].tolist()) == TEXT[-50:]
    with pytest.raises(CharlmError, match="not in the model's vocabulary"):
        token_corpus(encode_file(path), vocab=charlm.data.Vocab("abc"))


def test_charlm_train_streams_a_text_over_the_whole_read_limit_and_resumes(
    tmp_path, cache, monkeypatch, capsys
):
    monkeypatch.setattr(charlm.data, "MAX_TEXT_BYTES", 500)
    path, out = tmp_path / "big.txt", tmp_path / "ckpt"
    path.write_text(TEXT, encoding="utf-8")
    assert isinstance(open_corpus(path), charlm.tokens.TokenCorpus)
    quick = [
        "--model",
        "transformer",
        "--steps",
        "4",
        "--batch-size",
        "4",
        "--block-size",
        "8",
        "--device",
        "cpu",
    ]
    assert main(["train", str(path), "--out", str(out), *quick]) == 0
    summary = json.loads((out / "config.json").read_text())["corpus"]
    assert summary["characters"] == len(TEXT) and summary["lines"] == TEXT.count("\n")
    assert main(["train", str(path), "--resume", str(out), "--steps", "6"]) == 0
    assert json.loads((out / "metrics.json").read_text())["steps"] == 6
    assert len(list((cache / "tokens").iterdir())) == 1  # encoded once
    tokens = np.fromfile(next((cache / "tokens").iterdir()) / "tokens.bin", dtype=np.uint16)
    assert len(tokens) == len(TEXT)
