"""charlm.data: reading text, the vocabulary, the two corpus modes, the split and the batches."""

import pytest
import torch
from conftest import NAMES, TEXT

from charlm.data import (
    BOUNDARY,
    Corpus,
    Vocab,
    decode_text,
    eval_spans,
    eval_windows,
    get_batch,
    make_split,
    read_text,
    sample_windows,
)
from charlm.errors import CharlmError

UNICODE = "café naïve Ünïcödé\t漢字かな 🙂🚀\nsecond line: señor, ça va?\n" * 3


def test_unicode_round_trip(tmp_path):
    path = tmp_path / "u.txt"
    path.write_bytes(UNICODE.encode("utf-8"))
    text = read_text(path)
    assert text == UNICODE
    vocab = Vocab.from_text(text)
    for ch in "é漢🙂\t":
        assert ch in vocab.chars
    assert vocab.decode(vocab.encode(text)) == text
    assert vocab.size == len(set(UNICODE))


def test_crlf_reads_as_lf_and_bom_is_dropped():
    lf = "one\ntwo\nthree\n"
    assert decode_text(lf.replace("\n", "\r\n").encode()) == lf
    assert decode_text(b"\xef\xbb\xbf" + lf.encode()) == lf
    assert decode_text(b"\xef\xbb\xbf" + lf.replace("\n", "\r\n").encode()) == lf
    assert "\ufeff" not in Vocab.from_text(decode_text(b"\xef\xbb\xbfabc")).chars


@pytest.mark.parametrize(
    "raw, words",
    [(b"abc\x00def", "binary"), (b"caf\xe9 latin-1", "UTF-8"), (bytes(range(256)), "binary")],
)
def test_binary_or_foreign_bytes_are_refused(raw, words):
    with pytest.raises(CharlmError, match=words):
        decode_text(raw, "f.bin")


def test_read_text_refuses_a_missing_file_and_a_big_one(tmp_path):
    with pytest.raises(CharlmError, match="no such file"):
        read_text(tmp_path / "absent.txt")
    path = tmp_path / "big.txt"
    path.write_text("x" * 1000)
    with pytest.raises(CharlmError, match="MB"):
        read_text(path, max_bytes=100)
    assert read_text(path, max_bytes=1000) == "x" * 1000


def test_vocab_encode_decode_and_labels():
    vocab = Vocab.from_text("hello world\n\t")
    assert vocab.chars == "".join(sorted(set("hello world\n\t")))
    ids = vocab.encode("hello\tworld\n")
    assert vocab.decode(ids) == "hello\tworld\n"
    assert ids == [vocab.chars.index(c) for c in "hello\tworld\n"]
    assert vocab.label(vocab.stoi[" "]) == "␣"
    assert vocab.label(vocab.stoi["\n"]) == "⏎"
    assert vocab.label(vocab.stoi["\t"]) == "⇥"
    assert vocab.label(vocab.stoi["h"]) == "h"
    assert vocab.start_token == vocab.stoi["\n"]


def test_unknown_characters_are_named():
    vocab = Vocab.from_text("abc")
    with pytest.raises(CharlmError, match=r"'x'.*'z'|'z'.*'x'"):
        vocab.encode("axbz")


def test_lines_mode_boundary_token():
    corpus = Corpus.from_text("ab\nba\n\n\nabba\n", "lines", val_fraction=0.3)
    vocab = corpus.vocab
    assert vocab.boundary and vocab.chars == "ab"  # no newline: lines end at the boundary instead
    assert vocab.size == 3 and vocab.stoi == {"a": 1, "b": 2}
    assert vocab.start_token == BOUNDARY and vocab.label(BOUNDARY) == "•"
    assert vocab.decode([0, 1, 2, 0]) == "ab"
    split = make_split("ab\n\nba\n", vocab)  # blank lines are not items
    assert split.tokens.tolist() == [0, 1, 2, 0, 2, 1, 0]
    assert split.starts.tolist() == [0, 3]
    assert split.lengths.tolist() == [3, 3]
    with pytest.raises(CharlmError, match="vocabulary"):
        vocab.encode("a\nb")


def test_lines_split_is_deterministic_and_seeded():
    def val_lines(seed):
        corpus = Corpus.from_text(NAMES, "lines", val_fraction=0.2, seed=seed)
        return corpus.vocab.decode(corpus.val.tokens.tolist()), corpus.train.tokens.tolist()

    assert val_lines(1) == val_lines(1)
    assert val_lines(1) != val_lines(2)
    corpus = Corpus.from_text(NAMES, "lines", val_fraction=0.2, seed=1)
    n_lines = len(NAMES.split("\n"))
    assert len(corpus.train.starts) + len(corpus.val.starts) == n_lines
    assert len(corpus.val.starts) == round(0.2 * n_lines)
    train = corpus.train.tokens.tolist()
    val = corpus.val.tokens.tolist()
    assert train.count(BOUNDARY) + val.count(BOUNDARY) == n_lines + 2  # one more per split


def test_text_split_is_the_tail():
    corpus = Corpus.from_text(TEXT, "text", val_fraction=0.1)
    joined = corpus.vocab.decode(corpus.train.tokens.tolist() + corpus.val.tokens.tolist())
    assert joined == TEXT
    assert len(corpus.val.tokens) == len(TEXT) - int(len(TEXT) * 0.9)
    summary = corpus.summary()
    assert summary["characters"] == len(TEXT) and summary["vocab_size"] == corpus.vocab.size
    assert summary["lines"] == TEXT.count("\n")


@pytest.mark.parametrize(
    "text, mode, words",
    [
        ("", "text", "empty"),
        (" \n\t \n", "text", "empty"),
        ("abc", "text", "only 3 characters"),
        ("a" * 50, "text", "single character"),
        ("just one line", "lines", "at least 2"),
        (TEXT, "poems", "unknown corpus mode"),
    ],
)
def test_unusable_texts_are_refused(text, mode, words):
    with pytest.raises(CharlmError, match=words):
        Corpus.from_text(text, mode)


def test_get_batch_targets_are_the_next_characters():
    corpus = Corpus.from_text(TEXT)
    tokens = corpus.train.tokens
    x, y = get_batch(corpus.train, 16, 10, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (16, 10)
    assert (x[:, 1:] == y[:, :-1]).all()
    for row_x, row_y in zip(x.tolist(), y.tolist()):  # each window is a piece of the text, shifted by one
        windows = tokens.unfold(0, 11, 1).tolist()
        assert row_x + row_y[-1:] in windows


def test_get_batch_lines_mode_pads_with_minus_one():
    corpus = Corpus.from_text(NAMES, "lines")
    split = corpus.train
    T = int(split.lengths.max()) + 3  # longer than any line: every window needs padding
    x, y = get_batch(split, 32, T, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (32, T)
    for row_x, row_y in zip(x.tolist(), y.tolist()):
        assert row_x[0] == BOUNDARY  # each window starts at the boundary before its line
        n = row_y.index(-1)
        assert all(t == -1 for t in row_y[n:])
        assert row_y[n - 1] == BOUNDARY  # the last prediction is the end of the line
        assert row_x[1:n] == row_y[: n - 1]  # inside the line, targets are the next characters
        line = corpus.vocab.decode(row_y[:n])
        assert line in NAMES.split("\n")


def test_eval_windows_cover_every_prediction_once():
    corpus = Corpus.from_text(NAMES, "lines")
    split = corpus.train
    targets = []
    for _, y in eval_windows(split, 4, batch_size=5):
        targets += [t for t in y.flatten().tolist() if t != -1]
    assert len(targets) == int(split.lengths.sum())
    expected = [t for t in split.tokens.tolist()[1:]]  # every token after the first is predicted once
    assert sorted(targets) == sorted(expected)

    text = Corpus.from_text(TEXT).train
    ys = torch.cat([y.flatten() for _, y in eval_windows(text, 7, batch_size=3)])
    assert ys[ys != -1].tolist() == text.tokens[1:].tolist()


@pytest.mark.parametrize("text, mode, T", [(TEXT, "text", 7), (NAMES, "lines", 4)])
def test_sample_windows_draw_evaluation_windows_without_replacement(text, mode, T):
    split = Corpus.from_text(text, mode).train
    begins, ends = eval_spans(split, T)
    W, predictions = len(begins), int((ends - begins).clamp(max=T).sum())
    assert predictions == len(split.tokens) - 1 if mode == "text" else int(split.lengths.sum())

    def draw(tokens: int, seed: int = 0) -> torch.Tensor:
        return sample_windows(split, T, tokens, torch.Generator().manual_seed(seed))

    sample = draw(60)
    assert len(sample) == 60 * W // predictions  # about 60 predictions, on average
    assert sample.tolist() == sorted(set(sample.tolist())) and sample.min() >= 0 and sample.max() < W
    assert torch.equal(sample, draw(60)) and not torch.equal(sample, draw(60, seed=1))
    assert torch.equal(draw(10**6), torch.arange(W))  # more than the split holds: the whole split
    assert len(draw(1)) == 2  # at least two windows, so that the spread can be measured

    every = [(x, y) for x, y in eval_windows(split, T, batch_size=W)][0]
    x, y = next(eval_windows(split, T, batch_size=W, windows=sample))
    assert torch.equal(x, every[0][sample]) and torch.equal(y, every[1][sample])
