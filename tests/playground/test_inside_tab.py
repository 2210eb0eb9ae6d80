"""The Look inside tab's handlers on models trained through the Train tab's own handler: every view
renders for a transformer, a click on a character highlights that query's own weights, a chosen unit
colours the text, each view's "For:" line names exactly the rungs it serves, a rung without a view says
so, and a bad text gets a clear message."""

import re

import gradio as gr
import numpy as np
import pytest
import torch
from conftest import tiny_model

from charlm.checkpoint import save_checkpoint
from charlm.errors import CharlmError
from charlm.inside import Dynamics, attention_forward, embeddings, neurons, read
from charlm.models import MODELS
from charlm.playground import inside_tab, train_tab
from charlm.playground.session import SESSION

pytest_plugins = ["playground_fixtures"]  # checkpoints

NAMES = "amara\nbelen\ncorin\ndalia\nelio\nfarah\ngiles\nhana\nilan\njora\nkira\nlenna\nmilo\nnadia\n" * 3


def trained(model: str, steps: int = 30):
    """The session's Workspace after the Train tab trains `model` at its defaults (tiny sizes)."""
    own = {s.name: s.default for s in MODELS[model].settings()}
    own.update({k: v for k, v in dict(n_embd=16, n_hidden=16, block_size=8).items() if k in own})
    values = [own.get(s.name, s.default) for s in train_tab.SLIDERS]
    return list(train_tab.train(None, NAMES, "lines", model, False, steps, 8, 3e-3, 1, *values))[-1]["ws"]


@pytest.fixture(scope="module")
def transformer():
    return trained("transformer")


def test_every_view_renders_for_a_transformer_trained_here(transformer):
    att = inside_tab.attention_view(transformer, SESSION, "emma", 1, 3, None)
    assert [t.type for t in att["heatmap"].data] == ["heatmap"]
    assert len([t for t in att["grid"].data if t.type == "heatmap"]) == 2 * 4  # every layer x head
    assert att["query"] == 5 and att["chars"].count("data-q=") == 6  # •emma•: the last one by default
    emb = inside_tab.embeddings_view(transformer, SESSION)
    assert emb["figure"].frames and "snapshots" in emb["note"]  # recorded while it trained
    found = inside_tab.neurons_view(transformer, SESSION, "", "vowel", 1)
    assert "<span" in found["coloured"] and found["ranking"].data
    assert found["layer"]["value"] in found["layer"]["choices"] and isinstance(found["unit"], int)
    surprise = inside_tab.surprisal_view(transformer, SESSION, "", "(none)")  # the validation names
    assert "bits" in surprise
    dynamics = inside_tab.dynamics_view(transformer)
    assert any("1e-3" in str(s) or s.y0 == 1e-3 for s in dynamics.layout.shapes) or dynamics.data


def test_an_empty_text_is_the_start_of_the_training_text(transformer):
    att = inside_tab.attention_view(transformer, SESSION, "", 0, 0, None)
    assert att["text"] == NAMES[:6]  # block_size 8, less the two line boundaries
    shown = att["chars"].count("data-q=")
    assert shown == len(read(transformer.model, NAMES[:6]).ids) <= 8 and att["note"] == ""  # no cut
    assert inside_tab.neurons_view(transformer, SESSION, "  ", "vowel", 1)["text"] == NAMES[:6]
    lstm = trained("lstm", steps=5)
    assert inside_tab.neurons_view(lstm, SESSION, "", "vowel", 1)["text"] == NAMES[: inside_tab.SAMPLE_CHARS]


def highlighted(page: str) -> dict[int, float]:
    """The weights a rendered attention text shades: {key position: weight}."""
    return {int(q): float(w) for q, w in re.findall(r'data-q="(\d+)" data-w="([^"]+)"', page)}


def test_clicking_a_character_highlights_the_weights_the_model_computes_for_it(transformer):
    assert inside_tab.clicked_query(gr.EventData(None, {"query": 4})) == 4
    text = "ema\nna"  # •ema•na•: the block of 8 the transformer reads
    att = inside_tab.attention_view(transformer, SESSION, text, 1, 2, 4)
    model = transformer.model.eval()
    with torch.no_grad():
        _, weights, _ = attention_forward(model, read(model, text).ids[None])
    shaded = highlighted(att["chars"])
    assert list(shaded) == [0, 1, 2, 3, 4]  # the query and the characters before it
    np.testing.assert_allclose(list(shaded.values()), weights[1][0, 2, 4, :5].numpy(), atol=1e-6)
    assert att["heatmap"].layout.shapes[0].y0 == 3.5  # and its row outlined on the heatmap
    other = highlighted(inside_tab.attention_view(transformer, SESSION, text, 0, 1, 7)["chars"])
    np.testing.assert_allclose(list(other.values()), weights[0][0, 1, 7, :8].numpy(), atol=1e-6)
    # a query past the end of a new, shorter text is its last character
    assert inside_tab.attention_view(transformer, SESSION, "emma", 0, 0, 40)["query"] == 5


def test_a_chosen_layer_and_unit_colour_the_text(transformer):
    text = "amara\nbelen"
    found = neurons(transformer.model, text)
    layer = list(found.layers)[1]
    page = inside_tab.unit_view(transformer, SESSION, text, layer, 5)
    shown = [float(v) for v in re.findall(r'title="#\d+: ([-+][\d.]+)"', page)]
    np.testing.assert_allclose(shown, found.layers[layer][:, 5], atol=5e-4)
    assert "unit 5" in page and layer in page
    with pytest.raises(gr.Error, match="unit must be a whole number from 0 to 63"):
        inside_tab.unit_view(transformer, SESSION, text, layer, 64)
    with pytest.raises(gr.Error, match="no layer 'nope'"):
        inside_tab.unit_view(transformer, SESSION, text, "nope", 0)


VIEWS = {  # view -> whether a tiny model of a rung has it
    "attention": lambda m: inside_tab.attention(m, "the cat"),
    "embeddings": embeddings,
    "neurons": lambda m: neurons(m, "the cat"),
    "surprisal": lambda m: inside_tab.surprisal(m, "the cat"),
    "dynamics": lambda m: Dynamics(m).close(),
}


@pytest.mark.parametrize("view", VIEWS)
def test_each_view_names_exactly_the_rungs_it_serves(view):
    served = []
    for name, cls in MODELS.items():
        try:
            VIEWS[view](tiny_model(name)[0])  # the scalar-autograd rung gets its tiny sizes
            served.append(cls.title)
        except CharlmError:
            pass
    named = inside_tab.APPLIES[view]
    assert list(named) == (["every model"] if len(served) == len(MODELS) else served)


def test_a_rung_without_a_view_says_so_and_bad_text_is_named(transformer):
    lstm = trained("lstm", steps=10)
    with pytest.raises(gr.Error, match="no attention"):
        inside_tab.attention_view(lstm, SESSION, "emma", 0, 0, None)
    with pytest.raises(gr.Error, match="'Z'"):
        inside_tab.attention_view(transformer, SESSION, "emmaZ", 0, 0, None)
    with pytest.raises(gr.Error, match="layer must be"):
        inside_tab.attention_view(transformer, SESSION, "emma", 7, 0, None)
    with pytest.raises(gr.Error, match="no model yet"):
        inside_tab.embeddings_view(None, SESSION)
    with pytest.raises(gr.Error, match="no training dynamics"):
        inside_tab.dynamics_view(None)


def test_surprisal_compares_two_models_labelled_by_where_they_come_from(transformer, checkpoints):
    save_checkpoint(checkpoints / "names-lstm", trained("lstm", steps=10).model)
    html = inside_tab.surprisal_view(transformer, SESSION, "emma\nnadia", "names-lstm")
    assert "Two models on the same" in html
    assert "this session&#x27;s model (transformer)" in html and "checkpoint names-lstm (lstm)" in html
    same = inside_tab.surprisal_view(transformer, SESSION, "emma\nnadia", SESSION)
    assert "as model A" in same and "as model B" in same
    with pytest.raises(gr.Error, match="'&lt;'"):  # named, and escaped for the page
        inside_tab.surprisal_view(transformer, SESSION, "<script>", "(none)")


def test_the_validation_text_keeps_its_lines(transformer):
    val = transformer.trainer.corpus.val.tokens.tolist()
    lines = inside_tab.validation_text(transformer).split("\n")
    assert len(lines) == val.count(0) - 1 and all(lines)  # one per item between the boundaries
    page = inside_tab.surprisal_view(transformer, SESSION, "", "(none)")
    assert page.count("⏎") == len(lines) and "longer than" not in page  # each line ends in one
