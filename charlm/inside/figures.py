"""The "Look inside" views drawn: plotly figures (attention heatmaps, embedding scatter with a step
slider, unit rankings, training dynamics) and HTML text colourings. Every character that came from a
text or a model is escaped, in HTML and in plotly labels alike: model text is untrusted."""

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from charlm.errors import CharlmError
from charlm.inside.attention import Attention
from charlm.inside.dynamics import Dynamics
from charlm.inside.embeddings import CLASSES, Embeddings
from charlm.inside.neurons import Neurons
from charlm.inside.surprisal import Comparison, Surprisal
from charlm.viz import escape  # the one escape for HTML and plotly labels

FONT = "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace"
CLASS_COLOURS = dict(zip(CLASSES, ("#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#7f7f7f", "#ff7f0e")))


def notes_html(notes: list[str]) -> str:
    return "".join(f'<div style="font-size:12px;color:#556">{escape(n)}</div>' for n in notes)


# ---------------------------------------------------------------------------------------------------
# Attention


def _check_head(att: Attention, layer: int, head: int) -> None:
    if not (0 <= layer < att.n_layer and 0 <= head < att.n_head):
        raise CharlmError(
            f"layer {layer} head {head} does not exist; this model has layers 0 to {att.n_layer - 1} and "
            f"heads 0 to {att.n_head - 1}."
        )


def _masked(w: np.ndarray) -> np.ndarray:
    """The weights with the causal mask's cells (keys after the query) blank rather than 0."""
    T = w.shape[-1]
    return np.where(np.tri(T, dtype=bool), w, np.nan)


def _check_query(att: Attention, query: int) -> None:
    if not 0 <= query < len(att.labels):
        raise CharlmError(f"query {query} is not a position of the text shown (0 to {len(att.labels) - 1}).")


def attention_heatmap(att: Attention, layer: int = 0, head: int = 0, query: int | None = None) -> go.Figure:
    """One head's weights: query characters as rows (top to bottom), key characters as columns; the
    row of `query`, when given, outlined."""
    _check_head(att, layer, head)
    T = len(att.labels)
    shown = [escape(s) for s in att.labels]
    custom = np.array([[(shown[q], shown[k]) for k in range(T)] for q in range(T)])
    fig = go.Figure(
        go.Heatmap(
            z=_masked(att.weights[layer, head]),
            x=list(range(T)),
            y=list(range(T)),
            customdata=custom,
            hovertemplate="query %{customdata[0]} (#%{y}) → key %{customdata[1]} (#%{x}): %{z:.3f}<extra></extra>",
            colorscale="Blues",
            zmin=0,
            zmax=1,
            colorbar=dict(title="weight"),
        )
    )
    ticks = dict(tickmode="array", tickvals=list(range(T)), ticktext=shown, tickfont=dict(family=FONT))
    fig.update_layout(
        title=f"Attention of layer {layer + 1}, head {head + 1}",
        xaxis=dict(title="key (the character attended to)", side="top", **ticks),
        yaxis=dict(title="query (the character attending)", autorange="reversed", **ticks),
        height=max(360, 14 * T + 140),
        margin=dict(l=60, r=20, t=90, b=20),
    )
    if query is not None:
        _check_query(att, query)
        fig.add_shape(
            type="rect",
            x0=-0.5,
            x1=query + 0.5,
            y0=query - 0.5,
            y1=query + 0.5,
            line=dict(color="#d62728", width=2),
        )
    return fig


def attention_text_html(att: Attention, layer: int, head: int, query: int) -> str:
    """The text with every character clickable (data-q: its position) and the characters that `query`
    attends to shaded by their weight (data-w: the weight itself), deepest at the row's largest; the
    query outlined, the characters after it (which it cannot see) greyed."""
    _check_head(att, layer, head)
    _check_query(att, query)
    w = att.weights[layer, head, query]
    top = max(float(w[: query + 1].max()), 1e-12)
    spans = []
    for t, (label, c) in enumerate(zip(att.labels, att.chars)):
        shown = escape(label) + ("\n" if c == "\n" else "")
        if t > query:
            style, tip, weight = "color:#aaa", f"#{t}: after the query, never attended to", ""
        else:
            style = f"background:rgba(31,119,180,{w[t] / top:.2f})"
            style += ";outline:2px solid #d62728" if t == query else ""
            tip, weight = f"#{t}: weight {w[t]:.3f}", f' data-w="{w[t]:.7f}"'
        spans.append(
            f'<span data-q="{t}"{weight} style="{style};cursor:pointer" title="{escape(tip)}">{shown}</span>'
        )
    best = int(w[: query + 1].argmax())
    head_line = (
        f"Layer {layer + 1}, head {head + 1}: what <b>{escape(att.labels[query])}</b> (#{query}, outlined) "
        f"attends to, deepest blue at its largest weight ({w[best]:.3f} on {escape(att.labels[best])} "
        f"#{best}). Click a character to make it the query."
    )
    return f'<div style="font-size:13px;margin-bottom:4px">{head_line}</div>{_text_block(spans)}'


def attention_grid(att: Attention) -> go.Figure:
    """Every layer (rows) × head (columns) as small multiples on one colour scale."""
    L, H = att.n_layer, att.n_head
    fig = make_subplots(
        rows=L,
        cols=H,
        subplot_titles=[f"layer {i + 1} · head {j + 1}" for i in range(L) for j in range(H)],
        horizontal_spacing=0.02,
        vertical_spacing=0.06,
    )
    for i in range(L):
        for j in range(H):
            fig.add_trace(
                go.Heatmap(
                    z=_masked(att.weights[i, j]),
                    coloraxis="coloraxis",
                    hovertemplate=f"layer {i + 1} head {j + 1}<br>query #%{{y}} → key #%{{x}}: %{{z:.3f}}<extra></extra>",
                ),
                row=i + 1,
                col=j + 1,
            )
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False, autorange="reversed")
    fig.update_layout(
        title="Attention of every layer and head",
        coloraxis=dict(colorscale="Blues", cmin=0, cmax=1),
        height=180 * L + 80,
        margin=dict(l=20, r=20, t=70, b=20),
    )
    return fig


# ---------------------------------------------------------------------------------------------------
# Embeddings


def _scatter_traces(emb: Embeddings, frame: int) -> list[go.Scatter]:
    traces = []
    for cls in CLASSES:
        ids = [i for i, c in enumerate(emb.classes) if c == cls]
        if not ids:
            continue
        xy = emb.coords[frame, ids]
        traces.append(
            go.Scatter(
                x=xy[:, 0],
                y=xy[:, 1],
                mode="markers+text",
                name=cls,
                text=[escape(emb.labels[i]) for i in ids],
                textposition="top center",
                textfont=dict(family=FONT, size=14),
                marker=dict(size=9, color=CLASS_COLOURS[cls]),
                hovertemplate="%{text}: (%{x:.2f}, %{y:.2f})<extra>" + cls + "</extra>",
            )
        )
    return traces


def embeddings_figure(emb: Embeddings) -> go.Figure:
    """Each character at its 2-D position, coloured by class; a step slider and a play button when
    there are several snapshots."""
    last = len(emb.steps) - 1
    fig = go.Figure(_scatter_traces(emb, last))
    ev = emb.explained
    fig.update_layout(
        title=f"Character embeddings (PCA: the axes explain {ev[0]:.0%} and {ev[1]:.0%} of the variance)",
        xaxis=dict(title="first principal direction", zeroline=False),
        yaxis=dict(title="second principal direction", zeroline=False),
        height=520,
        legend=dict(title="character class"),
    )
    if last == 0:
        return fig
    lo, hi = emb.coords.min((0, 1)), emb.coords.max((0, 1))
    pad = 0.1 * (hi - lo) + 1e-9
    fig.update_xaxes(range=[lo[0] - pad[0], hi[0] + pad[0]])
    fig.update_yaxes(range=[lo[1] - pad[1], hi[1] + pad[1]])
    names = [f"step {s}" for s in emb.steps]
    fig.frames = [go.Frame(data=_scatter_traces(emb, f), name=names[f]) for f in range(last + 1)]
    animate = dict(mode="immediate", frame=dict(duration=300, redraw=False), transition=dict(duration=200))
    fig.update_layout(
        sliders=[
            dict(
                active=last,
                currentvalue=dict(prefix="training "),
                steps=[
                    dict(label=str(s), method="animate", args=[[n], animate])
                    for s, n in zip(emb.steps, names)
                ],
            )
        ],
        updatemenus=[
            dict(
                type="buttons",
                showactive=False,
                x=0,
                y=-0.12,
                buttons=[
                    dict(label="▶ play", method="animate", args=[names, {**animate, "fromcurrent": False}])
                ],
            )
        ],
        height=600,
    )
    return fig


# ---------------------------------------------------------------------------------------------------
# Coloured text


def _char_span(c: str, background: str, tip: str) -> str:
    shown = "⏎\n" if c == "\n" else escape(c)
    return f'<span style="background:{background}" title="{escape(tip)}">{shown}</span>'


def _text_block(spans: list[str]) -> str:
    return (
        f'<div style="white-space:pre-wrap;font-family:{FONT};font-size:15px;line-height:1.6">'
        + "".join(spans)
        + "</div>"
    )


def neuron_html(neurons: Neurons, layer: str, unit: int) -> str:
    """The text with each character coloured by one unit's activation after reading it: red positive,
    blue negative, scaled by the unit's largest |activation| on this text."""
    if layer not in neurons.layers:
        raise CharlmError(f"no layer {layer!r}; this model's are: {', '.join(neurons.layers)}.")
    acts = neurons.layers[layer]
    if not 0 <= unit < acts.shape[1]:
        raise CharlmError(f"{layer} has units 0 to {acts.shape[1] - 1}, not {unit}.")
    a = acts[:, unit]
    scale = max(float(np.abs(a).max()), 1e-12)
    spans = []
    for t, (c, v) in enumerate(zip(neurons.chars, a)):
        rgb = "214,39,40" if v >= 0 else "31,119,180"
        spans.append(_char_span(c or "•", f"rgba({rgb},{abs(v) / scale:.2f})", f"#{t}: {v:+.3f}"))
    head = (
        f"<b>{escape(layer)}</b>, unit {unit}: red positive, blue negative (largest |activation| {scale:.3f})"
    )
    return f'<div style="font-size:13px;margin-bottom:4px">{head}</div>{notes_html(neurons.notes)}{_text_block(spans)}'


def ranking_figure(neurons: Neurons, feature: str) -> go.Figure:
    """The units that follow `feature` best, as bars of their correlation."""
    if feature not in neurons.ranking:
        raise CharlmError(f"no feature {feature!r}; choose one of: {', '.join(neurons.ranking)}.")
    rows = neurons.ranking[feature][::-1]  # plotly draws the first bar at the bottom
    names = [f"{escape(s.layer)} · {s.unit}" for s in rows]
    fig = go.Figure(
        go.Bar(
            x=[s.correlation for s in rows],
            y=names,
            orientation="h",
            marker_color=["#d62728" if s.correlation >= 0 else "#1f77b4" for s in rows],
            hovertemplate="%{y}: r = %{x:.3f}<extra></extra>",
        )
    )
    fig.update_layout(
        title=f"Units that follow “{escape(feature)}”",
        xaxis=dict(title="correlation with the feature", range=[-1, 1]),
        height=120 + 24 * max(len(rows), 1),
        margin=dict(l=200),
    )
    return fig


def _bits_colour(bits: float) -> str:
    """White for a sure prediction, deep red from 8 bits (1 chance in 256) up."""
    return "transparent" if math.isnan(bits) else f"rgba(214,39,40,{min(bits / 8, 1):.2f})"


def surprisal_html(s: Surprisal, worst: int = 10) -> str:
    """The text coloured by the bits each character cost, with the total, the mean and the worst ones."""
    spans = [
        _char_span(
            c or "•",
            _bits_colour(b),
            f"#{t}: not predicted" if math.isnan(b) else f"#{t}: {b:.2f} bits, p = {2**-b:.3g}",
        )
        for t, (c, b) in enumerate(zip(s.chars, s.bits))
    ]
    worst_list = ", ".join(f"{escape(label)} at #{t} ({b:.1f} bits)" for t, label, b in s.worst(worst))
    head = (
        f"<b>{escape(s.model)}</b>: {s.total_bits:,.1f} bits for {s.count:,} characters, "
        f"{s.mean_bits:.3f} bits per character. Worst: {worst_list}."
    )
    return (
        f'<div style="font-size:13px;margin-bottom:4px">{head}</div>{notes_html(s.notes)}{_text_block(spans)}'
    )


def comparison_html(c: Comparison, name_a: str = "", name_b: str = "") -> str:
    """The text coloured by which model predicted each character better: orange for the first, green
    for the second, deeper the more bits it saved (full at 4)."""
    a, b = name_a or c.a.model, name_b or c.b.model
    spans = []
    for t, (ch, g) in enumerate(zip(c.a.chars, c.gain)):
        if math.isnan(g):
            spans.append(_char_span(ch or "•", "transparent", f"#{t}: not predicted"))
            continue
        rgb = "44,160,44" if g > 0 else "255,127,14"
        tip = f"#{t}: {a} {c.a.bits[t]:.2f} bits, {b} {c.b.bits[t]:.2f} bits"
        spans.append(_char_span(ch or "•", f"rgba({rgb},{min(abs(g) / 4, 1):.2f})", tip))
    swatch = '<span style="background:rgba({},.6);padding:0 4px">{}</span>'
    head = (
        f"<b>Two models on the same {c.a.count:,} characters</b>, each character coloured by the one "
        "that paid fewer bits for it (deeper: more bits saved, full at 4):<br>"
        f"{swatch.format('255,127,14', escape(a))} {c.a.mean_bits:.3f} bits per character, better on "
        f"{c.a_better:,} characters; {swatch.format('44,160,44', escape(b))} {c.b.mean_bits:.3f} bits per "
        f"character, better on {c.b_better:,}."
    )
    notes = notes_html(list(dict.fromkeys(c.a.notes + c.b.notes)))
    return f'<div style="font-size:13px;margin-bottom:4px">{head}</div>{notes}{_text_block(spans)}'


# ---------------------------------------------------------------------------------------------------
# Training dynamics


def dynamics_figure(d: Dynamics) -> go.Figure:
    """Update-to-weight ratios (log scale, with makemore's 1e-3 guide), the gradient norm, the learning
    rate and the share of saturated or dead units, against the step."""
    if not d.steps:
        raise CharlmError("no training dynamics recorded yet; they are recorded while the model trains.")
    fig = make_subplots(
        rows=2,
        cols=2,
        subplot_titles=(
            "update / weight, per matrix",
            "gradient norm (before clipping)",
            "learning rate",
            "saturated or dead units",
        ),
        vertical_spacing=0.14,
    )
    for name, series in d.ratio.items():
        fig.add_trace(
            go.Scatter(x=d.steps, y=series, name=escape(name), mode="lines", legendgroup="ratio"), 1, 1
        )
    fig.add_hline(y=1e-3, line_dash="dash", line_color="#444", row=1, col=1)
    # placed by hand: on a log axis an annotation's y is the exponent (hline's own lands at the top)
    fig.add_annotation(
        text="1e-3 guide",
        x=1,
        xref="x domain",
        y=-3,
        yref="y",
        showarrow=False,
        xanchor="right",
        yanchor="bottom",
    )
    fig.add_trace(
        go.Scatter(x=d.steps, y=d.grad_norm, name="gradient norm", mode="lines", showlegend=False), 1, 2
    )
    fig.add_trace(go.Scatter(x=d.steps, y=d.lr, name="learning rate", mode="lines", showlegend=False), 2, 1)
    for name, series in d.saturation.items():
        fig.add_trace(
            go.Scatter(
                x=d.steps,
                y=[100 * v for v in series],
                name=f"{escape(name)}: {d.kinds[name]}",
                mode="lines",
                legendgroup="saturation",
            ),
            2,
            2,
        )
    fig.update_yaxes(type="log", exponentformat="power", dtick=1, row=1, col=1)  # decades only
    fig.update_yaxes(title="%", rangemode="tozero", row=2, col=2)
    fig.update_xaxes(title="step", row=2)
    fig.update_layout(title="Training dynamics", height=640, legend=dict(font=dict(size=10)))
    return fig
