"""The From scratch tab's computation graph: one prediction of a tiny value-mlp and its loss after
backward, laid out by Graphviz, each node's local derivative rule shown on hover; a count of the Values
per operation for a model too big to draw. Handler, panel, wiring."""

import re

import gradio as gr

from charlm import viz
from charlm.errors import CharlmError
from charlm.graph import MAX_NODES, RULES, LossGraph, loss_graph, tiny_value_mlp
from charlm.playground.common import Tab, shows_errors, whole

MAX_VOCAB = 40  # distinct characters: beyond that even the counts say little more
DEFAULTS = dict(chars="abcde", context="ab", target="c", block_size=2, n_embd=2, n_hidden=4, seed=0)
# Graphviz writes a node's tooltip on a link around it and the node's own name ("n12") in its <title>,
# which is what a browser shows on hover: the rule goes into the <title> instead.
NODE = re.compile(
    r'(<g id="node\d+" class="node">\s*<title>)[^<]*(</title>\s*<g id="a_node\d+"><a xlink:title="([^"]*)")'
)
ACTIVE = re.compile(r"<(script|foreignObject|iframe|object|embed)\b|<[^>]*\son\w+\s*=", re.IGNORECASE)
STYLE = (  # hovering a node outlines it, as its rule appears; the page's link underline is no use here
    "<style>#scratch-graph g.node:hover path, #scratch-graph g.node:hover polygon "
    "{stroke:#d97706;stroke-width:3px} #scratch-graph svg a, #scratch-graph svg text "
    "{text-decoration:none}</style>"
)


@shows_errors
def draw_graph(chars: str, context: str, target: str, block_size, n_embd, n_hidden, seed) -> str:
    """The graph of predicting `target` after `context` with a fresh value-mlp whose vocabulary is the
    distinct characters of `chars`, as HTML: the SVG and a table of the operations and their rules, or
    for a graph of more than MAX_NODES Values only the table."""
    block_size = whole(block_size, "context", 1, 8)
    n_embd = whole(n_embd, "embedding size", 1, 16)
    n_hidden = whole(n_hidden, "hidden units", 1, 64)
    seed = whole(seed, "seed", 0, 2**31 - 1)
    vocab = "".join(sorted(set(chars or "")))
    if not vocab:
        raise CharlmError(
            "type a few characters (or a short text): its characters are the model's vocabulary."
        )
    if len(vocab) > MAX_VOCAB:
        raise CharlmError(
            f"the text has {len(vocab)} distinct characters; the graph takes up to {MAX_VOCAB}."
        )
    if len(target or "") != 1:
        raise CharlmError("the next character must be exactly one character.")
    missing = sorted(set((context or "") + target) - set(vocab))
    if missing:
        raise CharlmError(
            f"{', '.join(map(repr, missing))} not in the vocabulary: add it to the vocabulary's text, "
            "or use only its characters in the context and the next character."
        )
    model = tiny_value_mlp(block_size, n_embd, n_hidden, vocab, seed)
    graph = loss_graph(model, context or "", target)
    return graph_html(graph, model.config.vocab_size, context or "", target)


def graph_html(graph: LossGraph, vocab_size: int, context: str, target: str) -> str:
    """The caption, the drawing (if there is one) and the operations table; everything typed is escaped."""
    caption = (
        f"<p>Predicting {viz.escape(repr(target))} after {viz.escape(repr(context))} "
        f"({vocab_size} tokens in the vocabulary): loss <b>{graph.loss:.4f}</b> = −ln p(target), "
        f"a graph of <b>{graph.nodes:,}</b> scalar Values. "
    )
    if graph.svg is None:
        caption += (
            f"That is more than {MAX_NODES} nodes, too many to read as a drawing: here is how many Values each "
            "operation made.</p>"
        )
        return f'<div id="graph-summary">{caption}{counts_table(graph.counts)}</div>'
    caption += (
        "Weights in blue, the loss in yellow; each node shows its data and, after backward, its grad. "
        "Hover over a node for its local derivative rule.</p>"
    )
    return f'{STYLE}{caption}<div style="overflow:auto;max-height:720px">{hover_rules(graph.svg)}</div>{counts_table(graph.counts)}'


def hover_rules(svg: str) -> str:
    """Graphviz's SVG with each node's rule in its <title>, sized in pixels (1 pt each, so it fits more)."""
    if ACTIVE.search(svg):  # Graphviz never writes these, and labels are escaped: a last line of defence
        raise CharlmError("the drawing holds something that is not a plain graph; not shown.")
    svg = NODE.sub(lambda m: m.group(1) + m.group(3) + m.group(2), svg)
    return re.sub(r'^<svg width="([\d.]+)pt" height="([\d.]+)pt"', r'<svg width="\1px" height="\2px"', svg)


def counts_table(counts: dict[str, int]) -> str:
    cell = "padding:3px 10px;border-bottom:1px solid #e3e6ee;text-align:left"
    rows = "".join(
        f'<tr><td style="{cell}"><code>{viz.escape(op)}</code></td><td style="{cell};text-align:right">{n:,}</td>'
        f'<td style="{cell}">{viz.escape(RULES.get(op, ""))}</td></tr>'
        for op, n in sorted(counts.items(), key=lambda item: -item[1])
    )
    head = "".join(f'<th style="{cell}">{h}</th>' for h in ("operation", "Values", "local derivative rule"))
    return f'<table id="graph-counts" style="border-collapse:collapse;margin-top:8px"><tr>{head}</tr>{rows}</table>'


def panel(t: Tab) -> None:
    gr.Markdown(
        "### The computation graph of one prediction\nA fresh scalar-autograd MLP small enough to draw: every "
        "number of one prediction and its loss is a node, edges run from inputs to what they made. Larger "
        f"models (over {MAX_NODES} Values) show how many Values each operation made instead."
    )
    with gr.Row():
        t.graph_chars = gr.Textbox(
            DEFAULTS["chars"], label="Vocabulary (the distinct characters of this text)"
        )
        t.graph_context = gr.Textbox(DEFAULTS["context"], label="Context (the characters before)")
        t.graph_target = gr.Textbox(DEFAULTS["target"], label="Next character (the target)", max_length=1)
    with gr.Row():
        t.graph_block = gr.Slider(
            1, 8, value=DEFAULTS["block_size"], step=1, label="Context length (block_size)"
        )
        t.graph_embd = gr.Slider(1, 16, value=DEFAULTS["n_embd"], step=1, label="Embedding size (n_embd)")
        t.graph_hidden = gr.Slider(1, 64, value=DEFAULTS["n_hidden"], step=1, label="Hidden units (n_hidden)")
        t.graph_seed = gr.Number(DEFAULTS["seed"], label="Seed", precision=0, minimum=0)
    t.draw = gr.Button("Draw the graph", elem_id="graph-button")
    t.graph = gr.HTML(label="Computation graph", show_label=False, elem_id="scratch-graph")


def wire(t: Tab) -> None:
    inputs = [t.graph_chars, t.graph_context, t.graph_target, t.graph_block, t.graph_embd, t.graph_hidden]
    t.draw.click(draw_graph, [*inputs, t.graph_seed], t.graph, api_name="graph", show_progress_on=t.graph)
