"""The Look inside tab's handlers on models trained through the Train tab's own handler: every view
renders for a transformer, a rung without a view says so, and a bad text gets a clear message."""

import gradio as gr
import pytest

from charlm.models import MODELS
from charlm.playground import inside_tab, train_tab
from charlm.playground.session import SESSION

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
    att = inside_tab.attention_view(transformer, SESSION, "emma", 1, 3)
    assert [t.type for t in att["heatmap"].data] == ["heatmap"]
    assert len([t for t in att["grid"].data if t.type == "heatmap"]) == 2 * 4  # every layer x head
    emb = inside_tab.embeddings_view(transformer, SESSION)
    assert emb["figure"].frames and "snapshots" in emb["note"]  # recorded while it trained
    found = inside_tab.neurons_view(transformer, SESSION, "", "vowel", 1)
    assert "<span" in found["text"] and found["ranking"].data
    surprise = inside_tab.surprisal_view(transformer, SESSION, "", "(none)")  # the validation names
    assert "bits" in surprise
    dynamics = inside_tab.dynamics_view(transformer)
    assert any("1e-3" in str(s) or s.y0 == 1e-3 for s in dynamics.layout.shapes) or dynamics.data


def test_a_rung_without_a_view_says_so_and_bad_text_is_named(transformer):
    lstm = trained("lstm", steps=10)
    with pytest.raises(gr.Error, match="no attention"):
        inside_tab.attention_view(lstm, SESSION, "emma", 0, 0)
    with pytest.raises(gr.Error, match="'Z'"):
        inside_tab.attention_view(transformer, SESSION, "emmaZ", 0, 0)
    with pytest.raises(gr.Error, match="layer must be"):
        inside_tab.attention_view(transformer, SESSION, "emma", 7, 0)
    with pytest.raises(gr.Error, match="no model yet"):
        inside_tab.embeddings_view(None, SESSION)
    with pytest.raises(gr.Error, match="no training dynamics"):
        inside_tab.dynamics_view(None)


def test_surprisal_compares_two_models_and_escapes_the_text(transformer):
    html = inside_tab.surprisal_view(transformer, SESSION, "emma\nnadia", SESSION)
    assert "this model" in html
    with pytest.raises(gr.Error, match="'&lt;'"):  # named, and escaped for the page
        inside_tab.surprisal_view(transformer, SESSION, "<script>", "(none)")
