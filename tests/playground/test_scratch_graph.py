"""The From scratch tab's computation graph: the SVG of a tiny value-mlp's prediction with each node's
local derivative rule in its <title>, the counts per operation for a large one, escaped input, and clear
messages for bad input."""

import re

import gradio as gr
import pytest

from charlm.graph import MAX_NODES, RULES, loss_graph, tiny_value_mlp
from charlm.playground.scratch_graph import DEFAULTS, draw_graph, hover_rules

TINY = [DEFAULTS[k] for k in ("chars", "context", "target", "block_size", "n_embd", "n_hidden", "seed")]


def test_the_tiny_models_graph_is_an_svg_whose_nodes_show_their_rules_on_hover():
    html = draw_graph(*TINY)
    graph = loss_graph(tiny_value_mlp(2, 2, 4, "abcde"), "ab", "c")
    assert html.count("<svg") == 1 and f"loss <b>{graph.loss:.4f}</b>" in html
    assert f"<b>{graph.nodes:,}</b> scalar Values" in html
    titles = re.findall(r'<g id="node\d+" class="node">\s*<title>([^<]*)</title>', html)
    assert len(titles) == graph.nodes  # every node, each with its rule rather than its name ("n12")
    assert not any(re.fullmatch(r"n\d+", t) for t in titles)
    assert sum(t.startswith("out = a · b") for t in titles) == graph.counts["*"]
    assert sum(t.startswith("a weight") for t in titles) == graph.counts["weight"]
    assert all("here: " in t for t in titles if t.startswith("out = "))  # with this node's numbers
    assert re.search(r'<svg width="[\d.]+px"', html)  # one pixel a point: readable without zooming
    rows = re.findall(r"<tr><td[^>]*><code>([^<]*)</code>", html)  # the operations table under it
    assert sorted(rows) == sorted(graph.counts) and "1/a" in html  # log's rule


def test_a_large_model_shows_the_counts_per_operation_instead_of_a_drawing():
    html = draw_graph("abcdefghij", "abc", "d", 8, 16, 64, 0)
    graph = loss_graph(tiny_value_mlp(8, 16, 64, "abcdefghij"), "abc", "d", render=False)
    assert graph.nodes > MAX_NODES and "<svg" not in html and 'id="graph-counts"' in html
    assert f"{graph.nodes:,}" in html and f"more than {MAX_NODES} nodes" in html
    for op, n in graph.counts.items():
        assert f"<code>{op}</code></td><td" in html and f">{n:,}</td>" in html
    assert html.count("<tr>") == len(graph.counts) + 1
    assert "<code>relu</code>" in html and RULES["relu"].replace(">", "&gt;") in html


def test_what_is_typed_stays_text():
    html = draw_graph('<b>&"x', "<&", ">", 2, 2, 4, 0)
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert "C[&#39;&lt;&#39;][0]" in svg and "C[&#39;&amp;&#39;][0]" in svg  # the characters, as entities
    assert "<b>" not in svg and "'<" not in svg and "'&'" not in svg
    caption = html[: html.index("<svg")]
    assert "&#x27;&lt;&amp;&#x27;" in caption and "'<&'" not in caption
    with pytest.raises(Exception, match="not a plain graph"):
        hover_rules('<svg width="1pt" height="1pt"><g onload="x()"></g></svg>')


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (dict(chars=""), "type a few characters"),
        (dict(chars="".join(map(chr, range(48, 100)))), "up to 40"),
        (dict(target="cd"), "exactly one character"),
        (dict(target=""), "exactly one character"),
        (dict(context="a<z"), "'&lt;', 'z' not in the vocabulary: add it"),  # escaped for the page
        (dict(target="!"), "'!' not in the vocabulary"),
        (dict(block_size=0), "context must be a whole number from 1"),
        (dict(n_hidden=1000), "hidden units"),
    ],
)
def test_bad_graph_input_gives_a_clear_message(change, message):
    args = dict(zip(("chars", "context", "target", "block_size", "n_embd", "n_hidden", "seed"), TINY))
    with pytest.raises(gr.Error) as error:
        draw_graph(*{**args, **change}.values())
    assert message in error.value.message and "Traceback" not in error.value.message
