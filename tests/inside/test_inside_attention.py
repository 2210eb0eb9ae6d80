"""The attention view: the replayed weights are the model's own (oracle: its SDPA output), and drawn."""

import math
import re

import numpy as np
import pytest
import torch
from inside_texts import TEXT

from charlm.errors import CharlmError
from charlm.inside import (
    attention,
    attention_forward,
    attention_grid,
    attention_heatmap,
    attention_text_html,
)

pytest_plugins = ["inside_fixtures"]  # the `tiny` model factory (not a conftest: one conftest per name)


def test_replayed_attention_reproduces_the_sdpa_output_and_the_logits(tiny):
    model, corpus = tiny("transformer", dropout=0.2, bias=True)  # dropout must be off in the replay
    model.eval()
    outputs = []
    hooks = [b.attn.register_forward_hook(lambda m, i, o: outputs.append(o)) for b in model.h]
    idx = torch.tensor([corpus.vocab.encode(TEXT[:16]), corpus.vocab.encode(TEXT[20:36])])
    with torch.no_grad():
        logits, _ = model(idx)
        replay, weights, replayed = attention_forward(model, idx)
    for h in hooks:
        h.remove()
    assert len(weights) == len(outputs) == 2
    for ours, theirs in zip(replayed, outputs):
        torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)
    torch.testing.assert_close(replay, logits, atol=1e-5, rtol=0)


def test_weights_are_causal_distributions(tiny):
    model, _ = tiny("transformer")
    att = attention(model, TEXT[:12])
    assert att.weights.shape == (2, 2, 12, 12)
    assert abs(att.weights.sum(-1) - 1).max() < 1e-5
    assert abs(torch.tensor(att.weights).triu(1)).max() == 0  # no query sees a later key
    assert att.labels[3] == "␣" and att.notes == []


def test_a_text_longer_than_the_context_shows_its_last_block(tiny):
    model, corpus = tiny("transformer")
    att = attention(model, TEXT[:40])
    assert att.weights.shape[-1] == 16 and att.start == 24
    assert att.labels == [corpus.vocab.label(i) for i in corpus.vocab.encode(TEXT[24:40])]
    assert any("last 16 of 40" in n for n in att.notes)


def test_unknown_characters_are_named(tiny):
    model, _ = tiny("transformer")
    with pytest.raises(CharlmError, match="'☃'"):
        attention(model, "the ☃")


def test_figures_have_a_heatmap_per_head_and_escaped_labels(tiny):
    model, _ = tiny("transformer", text=TEXT + "<script>&")
    att = attention(model, "a<script>&b")
    fig = attention_heatmap(att, layer=1, head=0)
    assert len(fig.data) == 1 and fig.data[0].type == "heatmap"
    assert "&lt;" in fig.layout.xaxis.ticktext and "<" not in fig.layout.xaxis.ticktext
    assert math.isnan(fig.data[0].z[0][1])  # the causal mask is blank, not 0
    grid = attention_grid(att)
    assert [t.type for t in grid.data] == ["heatmap"] * 4
    with pytest.raises(CharlmError, match="layers 0 to 1"):
        attention_heatmap(att, layer=2)


def test_the_clicked_query_highlights_its_own_weights_escaped(tiny):
    model, corpus = tiny("transformer", text=TEXT + "<>&")
    text = "the <fox> & dog"
    att = attention(model, text)
    page = attention_text_html(att, layer=1, head=1, query=9)
    spans = re.findall(r'<span data-q="(\d+)"(?: data-w="([^"]+)")?', page)
    assert [int(q) for q, _ in spans] == list(range(len(text)))  # every character clickable
    shaded = [float(w) for _, w in spans if w]
    assert len(shaded) == 10  # the query and the 9 characters before it; none after
    with torch.no_grad():
        _, weights, _ = attention_forward(model.eval(), torch.tensor([corpus.vocab.encode(text)]))
    np.testing.assert_allclose(shaded, weights[1][0, 1, 9, :10].numpy(), atol=1e-6)
    assert all(f">{e}</span>" in page for e in ("&lt;", "&gt;", "&amp;")) and "<f" not in page
    heatmap = attention_heatmap(att, 1, 1, query=9)
    assert heatmap.layout.shapes[0].y0 == 8.5 and heatmap.layout.shapes[0].y1 == 9.5
    with pytest.raises(CharlmError, match="query 15"):
        attention_text_html(att, 0, 0, query=15)
