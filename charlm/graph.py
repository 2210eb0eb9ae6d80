"""The computation graph of one prediction of a tiny value-mlp, after backward: Graphviz DOT, an SVG
laid out by Graphviz's `dot` program, or for a graph too big to read, the Values each operation made."""

import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass

from charlm.autograd import Value, topological_order
from charlm.data import Vocab
from charlm.errors import CharlmError
from charlm.models.base import private_rng
from charlm.models.value_mlp import ValueMLP, ValueMLPConfig, value_loss, value_weights

MAX_NODES = 400  # beyond this a drawing is a blur: show the counts instead
# what hovering over a node shows: its local derivatives, the numbers backward multiplies by
RULES = {
    "+": "out = a + b;  ∂out/∂a = 1,  ∂out/∂b = 1",
    "-": "out = a − b;  ∂out/∂a = 1,  ∂out/∂b = −1",
    "*": "out = a · b;  ∂out/∂a = b,  ∂out/∂b = a",
    "/": "out = a / b;  ∂out/∂a = 1/b,  ∂out/∂b = −a/b²",
    "**": "out = aⁿ;  ∂out/∂a = n·aⁿ⁻¹",
    "exp": "out = eᵃ;  ∂out/∂a = eᵃ = out",
    "log": "out = ln a;  ∂out/∂a = 1/a",
    "tanh": "out = tanh a;  ∂out/∂a = 1 − out²",
    "relu": "out = max(a, 0);  ∂out/∂a = 1 if a > 0, else 0",
    "sum": "out = a₁ + a₂ + …;  ∂out/∂aᵢ = 1 for every input",
    "weight": "a weight: a leaf; its grad is the step SGD takes against it (times the learning rate)",
    "constant": "a constant: a leaf nothing is learned about",
}


@dataclass
class LossGraph:
    loss: float
    nodes: int  # Values in the graph, leaves included
    counts: dict[str, int]  # operation (or "weight", "constant") -> how many Values
    dot: str | None  # None when the graph has more than max_nodes Values
    svg: str | None  # None then too, or when not rendered


def tiny_value_mlp(
    block_size: int = 2, n_embd: int = 2, n_hidden: int = 4, chars: str = "abcde", seed: int = 0
) -> ValueMLP:
    """A value-mlp small enough that the graph of one prediction can be drawn and read."""
    config = ValueMLPConfig(chars=chars, block_size=block_size, n_embd=n_embd, n_hidden=n_hidden)
    with private_rng(seed):  # the same seed, the same weights, and nobody else's numbers moved
        return ValueMLP(config)


def loss_graph(
    model: ValueMLP, context: str, target: str, max_nodes: int = MAX_NODES, render: bool = True
) -> LossGraph:
    """Build the Value graph of predicting `target` after `context` (its last block_size characters,
    start tokens before a shorter one), run backward, and draw it: every Value a node with its operation,
    data and grad, edges from inputs to outputs, each node's tooltip its local derivative rule."""
    if not isinstance(model, ValueMLP):
        raise CharlmError("the computation graph is drawn for value-mlp models only.")
    vocab, bs = model.config.vocab, model.config.block_size
    if len(target) != 1:
        raise CharlmError(f"the target must be one character, not {target!r}.")
    ctx = [vocab.start_token] * bs + vocab.encode(context)
    w = value_weights(model.weights())
    loss = value_loss(w, ctx[len(ctx) - bs :], vocab.encode(target)[0])
    loss.backward()
    order = topological_order(loss)
    names = weight_names(w, vocab)
    counts = Counter(kind_of(v, names) for v in order)
    if len(order) > max_nodes:
        return LossGraph(loss.data, len(order), dict(counts), None, None)
    dot = graph_dot(order, names, loss)
    return LossGraph(loss.data, len(order), dict(counts), dot, render_svg(dot) if render else None)


def weight_names(w: dict[str, list], vocab: Vocab) -> dict[int, str]:
    """id of each weight's Value -> its name: C['a'][0], W1[2,3], b1[2]."""
    names = {}
    for name, rows in w.items():
        for i, row in enumerate(rows):
            if isinstance(row, Value):
                names[id(row)] = f"{name}[{i}]"
                continue
            for j, v in enumerate(row):
                names[id(v)] = f"C[{vocab.label(i)!r}][{j}]" if name == "C" else f"{name}[{i},{j}]"
    return names


def kind_of(v: Value, names: dict[int, str]) -> str:
    if v.prev:
        return "**" if v.op.startswith("**") else v.op
    return "weight" if id(v) in names else "constant"


def graph_dot(order: list[Value], names: dict[int, str], root: Value) -> str:
    """The graph in Graphviz's language, inputs on the left, the loss on the right."""
    index = {id(v): i for i, v in enumerate(order)}
    lines = [
        "digraph loss {",
        '  graph [rankdir=LR, fontname="Helvetica", nodesep=0.15, ranksep=0.35];',
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10, fillcolor="#f3f4f6"];',
        '  edge [color="#9ca3af", arrowsize=0.5];',
    ]
    for v in order:
        kind = kind_of(v, names)
        title = names.get(id(v)) or ("loss" if v is root else v.op if v.prev else "constant")
        label = f"{title}\ndata {v.data:.4g}\ngrad {v.grad:.4g}"
        tooltip = RULES[kind]
        if v.prev:  # the local derivatives with these numbers
            tooltip += "\nhere: " + ", ".join(f"{d:.4g}" for d in v.local)
        fill = {"weight": "#dbeafe", "constant": "#ffffff"}.get(kind, "#fef3c7" if v is root else "#f3f4f6")
        lines.append(
            f'  n{index[id(v)]} [label="{dot_escape(label)}", tooltip="{dot_escape(tooltip)}", fillcolor="{fill}"];'
        )
    lines += [f"  n{index[id(p)]} -> n{index[id(v)]};" for v in order for p in v.prev]
    lines.append("}")
    return "\n".join(lines) + "\n"


def dot_escape(text: str) -> str:
    """Text for a double-quoted DOT string: backslashes and quotes escaped, newlines as DOT's \\n, and
    &, < and > as entities (Graphviz reads entities in labels and writes them back out in its SVG)."""
    for raw, safe in (("\\", "\\\\"), ('"', '\\"'), ("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        text = text.replace(raw, safe)
    return text.replace("\r", "").replace("\n", "\\n")


def render_svg(dot: str, timeout: float = 30.0) -> str:
    """Lay out `dot` with Graphviz's `dot` program and return the SVG element (no XML prologue)."""
    program = shutil.which("dot")
    if program is None:
        raise CharlmError(
            "drawing the graph needs Graphviz's dot program; install graphviz "
            "(apt-get install graphviz, or list it in packages.txt on a Space)."
        )
    try:
        done = subprocess.run(
            [program, "-Tsvg"], input=dot.encode(), capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise CharlmError(f"Graphviz took more than {timeout:g} seconds to lay out the graph.") from None
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise CharlmError(f"Graphviz could not draw the graph: {message[0] if message else 'no message'}")
    svg = done.stdout.decode()
    return svg[svg.index("<svg") :]
