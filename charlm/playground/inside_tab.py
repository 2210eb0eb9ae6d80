"""The Look inside tab: attention, embeddings, single neurons, surprisal and training dynamics of the
session's model or a saved checkpoint. Every number and figure comes from charlm.inside; this module
turns widget values into calls. Handlers first, then the layout, then the wiring."""

from html import escape

import gradio as gr

from charlm.checkpoint import checkpoint_path, load_checkpoint
from charlm.data import BOUNDARY
from charlm.errors import CharlmError
from charlm.inside import (
    FEATURES,
    attention,
    attention_grid,
    attention_heatmap,
    attention_text_html,
    compare,
    comparison_html,
    dynamics_figure,
    embedding_history,
    embeddings,
    embeddings_figure,
    neuron_html,
    neurons,
    ranking_figure,
    surprisal,
    surprisal_html,
)
from charlm.models import CharLM
from charlm.playground import settings
from charlm.playground.common import Tab, on, shows_errors, whole
from charlm.playground.session import SESSION, Workspace

VALIDATION = "(the validation text)"  # what an empty text box means for surprisal: the held-out split
SAMPLE_CHARS = 300  # the default text of a model that reads any length: the start of its training text
# Which rungs (by title) each view applies to; a test checks this against what the views serve.
APPLIES = {
    "attention": ("Transformer",),
    "embeddings": (
        "Neural bigram",
        "MLP",
        "RNN",
        "GRU",
        "LSTM",
        "Transformer",
        "NumPy bigram",
        "NumPy MLP",
        "Scalar-autograd MLP",
    ),
    "neurons": ("MLP", "RNN", "GRU", "LSTM", "Transformer", "NumPy MLP", "Scalar-autograd MLP"),
    "surprisal": ("every model",),
    "dynamics": ("Neural bigram", "MLP", "RNN", "GRU", "LSTM", "Transformer"),
}


def applies(view: str, missing: str) -> str:
    """The line under a view's title: the rungs it shows, and what the others lack."""
    return f"*For: {', '.join(APPLIES[view])}.* {missing}"


def model_from(ws: Workspace | None, source: str) -> tuple[CharLM, Workspace | None]:
    """The model to look inside: the session's (with what was recorded while it trained) or a checkpoint's."""
    if not source or source == SESSION:
        if ws is None:
            raise CharlmError(
                "this session has no model yet: train one in the Train tab, or load a checkpoint, or pick "
                "a saved checkpoint above."
            )
        return ws.model, ws
    return load_checkpoint(checkpoint_path(settings.CHECKPOINTS, source)).model, None


def model_name(source: str, model: CharLM) -> str:
    """How a comparison names a model: where it comes from and its rung."""
    where = "this session's model" if not source or source == SESSION else f"checkpoint {source}"
    return f"{where} ({model.config.model_type})"


def text_or_sample(text: str | None, ws: Workspace | None, model: CharLM) -> str:
    """The text to read: the one typed, else the start of what the session's model trained on: as much as
    the model reads at once (a transformer's block, less the line boundaries lines mode adds)."""
    if text and text.strip():
        return text
    if ws is not None and ws.text:
        return ws.text[: model.max_context - 2 if model.max_context else SAMPLE_CHARS]
    raise CharlmError("type a text to look at (characters the model knows).")


@shows_errors
def attention_view(ws: Workspace | None, source: str, text: str, layer, head, query) -> dict:
    """One layer and head as a heatmap, every layer x head beside it, and the text with what the chosen
    query character attends to shaded (-1, empty or out of range: the last character)."""
    model, ws = model_from(ws, source)
    text = text_or_sample(text, ws, model)
    att = attention(model, text)
    layer = whole(layer, "layer", 0, att.n_layer - 1)
    head = whole(head, "head", 0, att.n_head - 1)
    T = len(att.labels)
    query = -1 if query is None or query == "" else whole(query, "query", -(10**6), 10**6)
    query = query % T if -T <= query < T else T - 1  # as Python indexes: -1 is the last character
    return {
        "heatmap": attention_heatmap(att, layer, head, query),
        "grid": attention_grid(att),
        "note": " ".join(att.notes),
        "chars": attention_text_html(att, layer, head, query),
        "query": query,
        "text": text,
    }


def clicked_query(evt: gr.EventData):
    """The position of the character clicked in the attention text (sent by its span's data-q)."""
    query = evt._data.get("query") if isinstance(evt._data, dict) else None
    return gr.skip() if query is None else int(query)


@shows_errors
def embeddings_view(ws: Workspace | None, source: str) -> dict:
    """Each character's vector in 2-D (PCA); for a model trained here, a slider over its evaluations."""
    model, ws = model_from(ws, source)
    if ws is not None and ws.snapshots is not None and len(ws.snapshots.steps) > 1:
        emb = embedding_history(ws.snapshots)
        note = f"{len(ws.snapshots.steps)} snapshots, taken at the evaluations while it trained: press play."
    else:
        emb, note = embeddings(model), "The table as it is now (train here to watch it move)."
    return {"figure": embeddings_figure(emb), "note": note}


@shows_errors
def neurons_view(ws: Workspace | None, source: str, text: str, feature: str, rank) -> dict:
    """The units that best track a named feature of the text, and the text coloured by the one at `rank`
    (which the layer and unit pickers then show, to move on from)."""
    model, ws = model_from(ws, source)
    text = text_or_sample(text, ws, model)
    found = neurons(model, text)
    if feature not in found.ranking:
        raise CharlmError(f"unknown feature {feature!r}; choose one of: {', '.join(found.ranking)}.")
    ranked = found.ranking[feature]
    out = {"ranking": ranking_figure(found, feature), "text": text}
    if not ranked:
        layer = next(iter(found.layers))
        coloured = f"<p>Nothing in this text varies with {escape(feature)}.</p>"
        return out | {"coloured": coloured, "layer": gr.update(choices=list(found.layers), value=layer)}
    top = ranked[whole(rank, "rank", 1, len(ranked)) - 1]
    return out | {
        "coloured": neuron_html(found, top.layer, top.unit),
        "layer": gr.update(choices=list(found.layers), value=top.layer),
        "unit": top.unit,
    }


@shows_errors
def unit_view(ws: Workspace | None, source: str, text: str, layer: str, unit) -> str:
    """The text coloured by one chosen unit's activation, as in the char-rnn essay."""
    model, ws = model_from(ws, source)
    found = neurons(model, text_or_sample(text, ws, model), top=1)
    if not layer:
        layer = next(iter(found.layers))
    if layer not in found.layers:
        raise CharlmError(f"no layer {layer!r} in this model; its layers are: {', '.join(found.layers)}.")
    return neuron_html(found, layer, whole(unit, "unit", 0, found.layers[layer].shape[1] - 1))


def validation_text(ws: Workspace) -> str:
    """The held-out split of the session's training text, as text (in lines mode, one line per item:
    the boundary between items is a line end)."""
    vocab = ws.model.config.vocab
    text = "".join(
        "\n" if vocab.boundary and i == BOUNDARY else vocab.decode([i])
        for i in ws.trainer.corpus.val.tokens.tolist()
    )
    return text if not vocab.boundary else "\n".join(t for t in text.split("\n") if t)


@shows_errors
def surprisal_view(ws: Workspace | None, source: str, text: str, against: str) -> str:
    """The loss paid on each character in bits; with a second model, which of the two did better where."""
    model, ws = model_from(ws, source)
    if not (text and text.strip()):
        if ws is None or ws.trainer is None:
            raise CharlmError(
                "type a text: only a model trained in this session has its validation text here."
            )
        text = validation_text(ws)
    if against and against != "(none)":
        other, _ = model_from(ws, against)
        names = model_name(source, model), model_name(against, other)
        if names[0] == names[1]:
            names = f"{names[0]}, as model A", f"{names[1]}, as model B"
        return comparison_html(compare(model, other, text), *names)
    return surprisal_html(surprisal(model, text))


@shows_errors
def dynamics_view(ws: Workspace | None):
    """Gradient norm, learning rate, update-to-weight ratios and saturated units, recorded as it trained."""
    if ws is None or ws.dynamics is None or not ws.dynamics.steps:
        raise CharlmError(
            "no training dynamics recorded: train a gradient-trained model (neural bigram, MLP, RNN, "
            "transformer) in the Train tab first; they are recorded while it trains."
        )
    return dynamics_figure(ws.dynamics)


# ---------------------------------------------------------------------------------------------------
# Layout: the model picker, then one accordion per view


CLICKS = """element.addEventListener('click', (e) => {
    const span = e.target.closest('[data-q]');
    if (span) trigger('click', {query: Number(span.dataset.q)});
});"""  # the attention text: a click on a character sends its position


def attention_panel(t: Tab) -> None:
    with gr.Accordion("Attention", open=True, elem_id="inside-attention"):
        gr.Markdown(
            applies("attention", "Other models have no attention: each position sees its context directly.")
        )
        with gr.Row():
            t.att_text = gr.Textbox(
                label="Text",
                placeholder="empty: the start of the training text",
                scale=3,
                elem_id="attention-text",
            )
            t.layer = gr.Number(0, label="Layer", precision=0, minimum=0, scale=1, elem_id="attention-layer")
            t.head = gr.Number(0, label="Head", precision=0, minimum=0, scale=1, elem_id="attention-head")
            t.query = gr.Number(
                -1,
                label="Query: click a character (-1: the last)",
                precision=0,
                scale=1,
                elem_id="attention-query",
            )
            t.att_go = gr.Button("Show attention", scale=1, elem_id="attention-button")
        t.att_note = gr.Markdown(label="Attention notes", show_label=False)
        t.att_chars = gr.HTML(
            label="Attention in the text", show_label=False, js_on_load=CLICKS, elem_id="attention-chars"
        )
        with gr.Row():
            t.att_heatmap = gr.Plot(label="One head: rows attend to columns", elem_id="attention-heatmap")
            t.att_grid = gr.Plot(label="Every layer and head", elem_id="attention-grid")


def embeddings_panel(t: Tab) -> None:
    with gr.Accordion("Embeddings", open=False, elem_id="inside-embeddings"):
        gr.Markdown(applies("embeddings", "The count bigram keeps counts, not vectors."))
        t.emb_go = gr.Button("Show the character embeddings", elem_id="embeddings-button")
        t.emb_note = gr.Markdown(label="Embeddings notes", show_label=False)
        t.emb_plot = gr.Plot(label="Characters in 2-D (PCA)", elem_id="embeddings-plot")


def neurons_panel(t: Tab) -> None:
    with gr.Accordion("Neurons", open=False, elem_id="inside-neurons"):
        gr.Markdown(applies("neurons", "The bigrams map a character straight to a row of a table."))
        with gr.Row():
            t.neu_text = gr.Textbox(
                label="Text",
                placeholder="empty: the start of the training text",
                scale=3,
                elem_id="neurons-input",
            )
            t.feature = gr.Dropdown(list(FEATURES), value=next(iter(FEATURES)), label="Feature", scale=1)
            t.rank = gr.Number(1, label="Unit, by rank", precision=0, minimum=1, scale=1)
            t.neu_go = gr.Button("Find units", scale=1, elem_id="neurons-button")
        with gr.Row():
            t.unit_layer = gr.Dropdown(  # its choices come with the model; the handler checks the name
                [], label="Or choose a layer", allow_custom_value=True, scale=2, elem_id="neurons-layer"
            )
            t.unit = gr.Number(0, label="and a unit", precision=0, minimum=0, scale=1, elem_id="neurons-unit")
            t.unit_go = gr.Button("Colour by this unit", scale=1, elem_id="unit-button")
        t.neu_html = gr.HTML(label="Text coloured by the unit", show_label=False, elem_id="neurons-text")
        t.ranking = gr.Plot(label="Units that track the feature", elem_id="neurons-ranking")


def surprisal_panel(t: Tab) -> None:
    with gr.Accordion("Surprisal", open=False, elem_id="inside-surprisal"):
        gr.Markdown(
            applies(
                "surprisal",
                "Pick a second model (a checkpoint, another run) to see which one predicts where.",
            )
        )
        with gr.Row():
            t.sur_text = gr.Textbox(label="Text", placeholder=f"empty: {VALIDATION}", scale=3)
            t.against = gr.Dropdown(
                ["(none)"],
                value="(none)",
                label="Compare with",
                allow_custom_value=True,
                scale=1,
                elem_id="surprisal-against",
            )
            t.sur_go = gr.Button("Colour by surprise", scale=1, elem_id="surprisal-button")
        t.sur_html = gr.HTML(label="Surprisal", show_label=False, elem_id="surprisal-text")


def dynamics_panel(t: Tab) -> None:
    with gr.Accordion("Training dynamics", open=False, elem_id="inside-dynamics"):
        gr.Markdown(
            applies(
                "dynamics",
                "Recorded while a model trains in this session; the count bigram is counted and the NumPy "
                "models compute their gradients by hand.",
            )
        )
        t.dyn_go = gr.Button("Show how training went", elem_id="dynamics-button")
        t.dyn_plot = gr.Plot(label="Training dynamics", elem_id="dynamics-plot")


def layout() -> Tab:
    t = Tab()
    gr.Markdown(
        "Look inside the model you just trained, or any saved checkpoint: where attention looks, how the "
        "characters' vectors arrange themselves, which units track something you can name, where the "
        "model is surprised, and how training went. Each view says which models it applies to; an empty "
        "text box means the start of the text the model was trained on."
    )
    t.source = gr.Dropdown(
        [SESSION], value=SESSION, label="Model", allow_custom_value=True, elem_id="inside-source"
    )
    attention_panel(t)
    embeddings_panel(t)
    neurons_panel(t)
    surprisal_panel(t)
    dynamics_panel(t)
    return t


def wire(t: Tab, ws: gr.State) -> None:
    shown = dict(heatmap=t.att_heatmap, grid=t.att_grid, note=t.att_note, chars=t.att_chars, query=t.query)
    shown["text"] = t.att_text
    inputs = [ws, t.source, t.att_text, t.layer, t.head, t.query]
    on(t.att_go.click, attention_view, inputs, shown, api_name="attention")
    picked = t.att_chars.click(clicked_query, None, t.query, api_visibility="undocumented")
    on(picked.then, attention_view, inputs, shown, api_visibility="undocumented")
    on(
        t.emb_go.click,
        embeddings_view,
        [ws, t.source],
        {"figure": t.emb_plot, "note": t.emb_note},
        api_name="embeddings",
    )
    found = {
        "ranking": t.ranking,
        "coloured": t.neu_html,
        "layer": t.unit_layer,
        "unit": t.unit,
        "text": t.neu_text,
    }
    on(t.neu_go.click, neurons_view, [ws, t.source, t.neu_text, t.feature, t.rank], found, api_name="neurons")
    unit = [ws, t.source, t.neu_text, t.unit_layer, t.unit]
    t.unit_go.click(unit_view, unit, t.neu_html, api_name="neuron")
    t.sur_go.click(surprisal_view, [ws, t.source, t.sur_text, t.against], t.sur_html, api_name="surprisal")
    t.dyn_go.click(dynamics_view, ws, t.dyn_plot, api_name="dynamics")
