"""The neurons view: a unit built to fire on vowels tops the vowel ranking, the recurrent models are
stepped faithfully (cell state included), features are right by hand, and the text is escaped."""

import numpy as np
import pytest
import torch
from inside_texts import TEXT

from charlm.errors import CharlmError
from charlm.inside import FEATURES, neuron_html, neurons, ranking_figure, text_features

pytest_plugins = ["inside_fixtures"]  # the `tiny` model factory (not a conftest: one conftest per name)

VOWELS = "aeiouAEIOU"


def test_a_unit_built_to_fire_on_vowels_tops_the_vowel_ranking(tiny):
    model, corpus = tiny("mlp", block_size=1, n_embd=4, n_hidden=8)
    with torch.no_grad():
        for i in range(corpus.vocab.size):  # embedding dimension 0 says "vowel"
            model.wte.weight[i, 0] = 1.0 if corpus.vocab.chars[i] in VOWELS else 0.0
        model.hidden[0].weight[5] = torch.tensor([4.0, 0.0, 0.0, 0.0])
        model.hidden[0].bias[5] = -2.0
    n = neurons(model, TEXT)
    best = n.ranking["vowel"][0]
    assert (best.layer, best.unit) == ("hidden (tanh)", 5) and best.correlation > 0.99
    assert all(s.unit != 5 for s in n.ranking["space"][:1])


def test_recurrent_units_are_stepped_one_character_at_a_time_faithfully(tiny):
    model, corpus = tiny("lstm")  # two layers
    n = neurons(model, TEXT[:30])
    assert set(n.layers) == {"layer 1 hidden", "layer 2 hidden", "layer 1 cell", "layer 2 cell"}
    model.eval()
    with torch.no_grad():
        out, (h, c) = model.cell(model.wte(torch.tensor([corpus.vocab.encode(TEXT[:30])])))
    np.testing.assert_allclose(n.layers["layer 2 hidden"], out[0].numpy(), atol=1e-6)
    np.testing.assert_allclose(n.layers["layer 1 cell"][-1], c[0, 0].numpy(), atol=1e-6)
    assert n.layers["layer 1 cell"].shape == (30, 16)


@pytest.mark.parametrize("name", ["rnn", "gru"])
def test_rnn_and_gru_have_hidden_units_only(tiny, name):
    model, _ = tiny(name)
    assert list(neurons(model, TEXT[:20]).layers) == ["hidden"]


def test_transformer_units_are_its_gelu_outputs_on_the_last_block(tiny):
    model, _ = tiny("transformer")
    n = neurons(model, TEXT[:40])
    assert {k: v.shape for k, v in n.layers.items()} == {
        "block 1 MLP (GELU)": (16, 64),
        "block 2 MLP (GELU)": (16, 64),
    }
    assert "".join(n.chars) == TEXT[24:40] and any("last 16" in note for note in n.notes)
    assert n.layers["block 1 MLP (GELU)"].min() >= -0.17  # GELU's minimum is about -0.17
    assert all(not block.mlp[1]._forward_hooks for block in model.h)  # the hooks are gone


def test_numpy_mlp_units_match_its_forward_pass(tiny):
    model, _ = tiny("numpy-mlp")
    n = neurons(model, TEXT[:10])
    assert n.layers["hidden (tanh)"].shape == (10, 16) and np.abs(n.layers["hidden (tanh)"]).max() <= 1


def test_text_features_by_hand():
    f = text_features(list('a (b) "c" D\nx'))
    assert set(f) == set(FEATURES)
    assert f["vowel"].tolist() == [1] + [0] * 12
    assert f["space"].nonzero()[0].tolist() == [1, 5, 9]
    assert f["position in line"].tolist() == list(range(12)) + [0]
    assert f["in quotes or brackets"].nonzero()[0].tolist() == [2, 3, 6, 7]
    assert f["after newline"].nonzero()[0].tolist() == [0, 12]
    assert f["upper case"].nonzero()[0].tolist() == [10]


def test_a_feature_the_text_does_not_vary_ranks_nothing(tiny):
    model, _ = tiny("mlp")
    n = neurons(model, "the fox")
    assert n.ranking["upper case"] == [] and any("upper case" in note for note in n.notes)
    assert len(n.ranking["vowel"]) == 10


def test_html_and_ranking_figure(tiny):
    model, _ = tiny("mlp", TEXT + "<>&/")
    n = neurons(model, "a <script>&</script> b")
    page = neuron_html(n, "hidden (tanh)", 3)
    assert "<script>" not in page and "&lt;script&gt;" not in page  # one span per character
    assert page.count('<span style="background:rgba(') == len("a <script>&</script> b")
    assert "&lt;" in page and "&amp;" in page
    fig = ranking_figure(n, "vowel")
    assert fig.data[0].type == "bar" and len(fig.data[0].x) == 10
    with pytest.raises(CharlmError, match="units 0 to 15"):
        neuron_html(n, "hidden (tanh)", 16)
