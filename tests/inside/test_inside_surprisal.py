"""The surprisal view: per-character losses sum to what `evaluate` reports on the same text (oracle),
long and foreign texts are handled and said so, and two models are compared character by character."""

import math

import numpy as np
import pytest
from inside_texts import NAMES, TEXT

from charlm.data import make_split
from charlm.errors import CharlmError
from charlm.inside import compare, comparison_html, surprisal, surprisal_html
from charlm.train import evaluate

pytest_plugins = ["inside_fixtures"]  # the `tiny` model factory (not a conftest: one conftest per name)


@pytest.mark.parametrize("mode", ["text", "lines"])
@pytest.mark.parametrize("name", ["bigram", "neural-bigram", "mlp", "lstm", "transformer", "numpy-mlp"])
def test_surprisal_sums_to_the_evaluation_loss_times_the_count(tiny, name, mode):
    text = TEXT if mode == "text" else NAMES
    model, corpus = tiny(name, text, mode)
    if name == "bigram":
        model.fit(corpus.train)  # counts, so that characters differ in surprise
    s = surprisal(model, text)
    split = make_split(text, corpus.vocab)
    assert s.count == len(split.tokens) - 1  # every token but the first is predicted once
    assert math.isnan(s.bits[0])
    assert s.total_bits * math.log(2) == pytest.approx(evaluate(model, split) * s.count, rel=1e-6)


def test_long_texts_are_capped_and_read_in_windows(tiny):
    model, _ = tiny("transformer")
    s = surprisal(model, TEXT * 30)
    assert len(s.bits) == 2000 and s.count == 1999
    assert any("first 2,000" in n for n in s.notes)
    assert any("windows of up to 16" in n for n in s.notes)


def test_unknown_characters_are_named(tiny):
    model, _ = tiny("lstm")
    with pytest.raises(CharlmError, match=r"'\$', '☃'"):
        surprisal(model, "the fox $☃")


def test_worst_characters_come_first(tiny):
    model, corpus = tiny("bigram")
    model.fit(corpus.train)
    s = surprisal(model, "the quick brown fox")
    worst = s.worst(5)
    assert [b for _, _, b in worst] == sorted(np.nan_to_num(s.bits, nan=-1), reverse=True)[:5]
    assert s.mean_bits == pytest.approx(np.nansum(s.bits) / 18)


def test_a_bigram_beats_a_uniform_model_on_most_characters(tiny):
    counted, corpus = tiny("bigram")
    counted.fit(corpus.train)
    uniform, _ = tiny("neural-bigram")  # its table starts at zero: every character has p = 1/V
    c = compare(counted, uniform, TEXT[:200])
    assert c.a_better > 3 * c.b_better
    np.testing.assert_allclose(c.gain, c.a.bits - c.b.bits)
    page = comparison_html(c, "counted", "uniform")
    assert "counted" in page and "uniform" in page and "rgba(255,127,14" in page
    lines_model, _ = tiny("bigram", NAMES, "lines")
    with pytest.raises(CharlmError, match="one mode"):
        compare(counted, lines_model, "emma")


def test_html_escapes_the_text(tiny):
    model, _ = tiny("mlp", TEXT + "<script>/&'")
    page = surprisal_html(surprisal(model, "<script>alert('&')</script>"))
    assert "<script>" not in page and "&lt;" in page and "&amp;" in page
    assert "bits per character" in page
