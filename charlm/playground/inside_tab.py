"""The Look inside tab: attention, embeddings, single neurons, surprisal and training dynamics of the
session's model or a saved checkpoint. Every number and figure comes from charlm.inside; this module
turns widget values into calls. Handlers first, then the layout, then the wiring."""

import gradio as gr

from charlm.checkpoint import checkpoint_path, load_checkpoint
from charlm.errors import CharlmError
from charlm.inside import (
    FEATURES,
    attention,
    attention_grid,
    attention_heatmap,
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


def text_or_sample(text: str | None, ws: Workspace | None) -> str:
    """The text to read: the one typed, else the start of what the session's model trained on."""
    if text and text.strip():
        return text
    if ws is not None and ws.text:
        return ws.text[:300]
    raise CharlmError("type a text to look at (characters the model knows).")


@shows_errors
def attention_view(ws: Workspace | None, source: str, text: str, layer, head) -> dict:
    """The attention weights of one layer and head as a heatmap, and every layer x head beside it."""
    model, ws = model_from(ws, source)
    att = attention(model, text_or_sample(text, ws))
    layer = whole(layer, "layer", 0, att.weights.shape[0] - 1)
    head = whole(head, "head", 0, att.weights.shape[1] - 1)
    notes = " ".join(att.notes)
    return {"heatmap": attention_heatmap(att, layer, head), "grid": attention_grid(att), "note": notes}


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
    """The units that best track a named feature of the text, and the text coloured by one of them."""
    model, ws = model_from(ws, source)
    found = neurons(model, text_or_sample(text, ws))
    if feature not in found.ranking:
        raise CharlmError(f"unknown feature {feature!r}; choose one of: {', '.join(found.ranking)}.")
    ranked = found.ranking[feature]
    if not ranked:
        return {
            "ranking": ranking_figure(found, feature),
            "text": f"<p>Nothing in this text varies with {feature}.</p>",
        }
    top = ranked[whole(rank, "rank", 1, len(ranked)) - 1]
    return {"ranking": ranking_figure(found, feature), "text": neuron_html(found, top.layer, top.unit)}


@shows_errors
def surprisal_view(ws: Workspace | None, source: str, text: str, against: str) -> str:
    """The loss paid on each character in bits; with a second model, which of the two did better where."""
    model, ws = model_from(ws, source)
    if not (text and text.strip()):
        if ws is None or ws.trainer is None:
            raise CharlmError(
                "type a text: only a model trained in this session has its validation text here."
            )
        split = ws.trainer.corpus.val
        text = ws.model.config.vocab.decode(split.tokens.tolist())
        text = text if ws.model.config.mode == "text" else "\n".join(t for t in text.split("\n") if t)
    if against and against != "(none)":
        other, _ = model_from(ws, against)
        return comparison_html(compare(model, other, text), "this model", against)
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


def attention_panel(t: Tab) -> None:
    with gr.Accordion("Attention (transformer)", open=True):
        with gr.Row():
            t.att_text = gr.Textbox(
                label="Text", placeholder="empty: the start of the training text", scale=3
            )
            t.layer = gr.Number(0, label="Layer", precision=0, minimum=0, scale=1)
            t.head = gr.Number(0, label="Head", precision=0, minimum=0, scale=1)
            t.att_go = gr.Button("Show attention", scale=1, elem_id="attention-button")
        t.att_note = gr.Markdown()
        t.att_heatmap = gr.Plot(label="One head: rows attend to columns", elem_id="attention-heatmap")
        t.att_grid = gr.Plot(label="Every layer and head", elem_id="attention-grid")


def embeddings_panel(t: Tab) -> None:
    with gr.Accordion("Embeddings", open=False):
        t.emb_go = gr.Button("Show the character embeddings", elem_id="embeddings-button")
        t.emb_note = gr.Markdown()
        t.emb_plot = gr.Plot(label="Characters in 2-D (PCA)", elem_id="embeddings-plot")


def neurons_panel(t: Tab) -> None:
    with gr.Accordion("Neurons", open=False):
        with gr.Row():
            t.neu_text = gr.Textbox(
                label="Text", placeholder="empty: the start of the training text", scale=3
            )
            t.feature = gr.Dropdown(list(FEATURES), value=next(iter(FEATURES)), label="Feature", scale=1)
            t.rank = gr.Number(1, label="Unit, by rank", precision=0, minimum=1, scale=1)
            t.neu_go = gr.Button("Find units", scale=1, elem_id="neurons-button")
        t.ranking = gr.Plot(label="Units that track the feature", elem_id="neurons-ranking")
        t.neu_html = gr.HTML(elem_id="neurons-text")


def surprisal_panel(t: Tab) -> None:
    with gr.Accordion("Surprisal", open=False):
        with gr.Row():
            t.sur_text = gr.Textbox(label="Text", placeholder=f"empty: {VALIDATION}", scale=3)
            t.against = gr.Dropdown(
                ["(none)"], value="(none)", label="Compare with", allow_custom_value=True, scale=1
            )
            t.sur_go = gr.Button("Colour by surprise", scale=1, elem_id="surprisal-button")
        t.sur_html = gr.HTML(elem_id="surprisal-text")


def dynamics_panel(t: Tab) -> None:
    with gr.Accordion("Training dynamics", open=False):
        t.dyn_go = gr.Button("Show how training went", elem_id="dynamics-button")
        t.dyn_plot = gr.Plot(label="Training dynamics", elem_id="dynamics-plot")


def layout() -> Tab:
    t = Tab()
    gr.Markdown(
        "Look inside the model you just trained, or any saved checkpoint: where attention looks, how the "
        "characters' vectors arrange themselves, which units track something you can name, where the "
        "model is surprised, and how training went. Each view says which models it applies to."
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
    shown = dict(heatmap=t.att_heatmap, grid=t.att_grid, note=t.att_note)
    inputs = [ws, t.source, t.att_text, t.layer, t.head]
    on(t.att_go.click, attention_view, inputs, shown, api_name="attention")
    on(
        t.emb_go.click,
        embeddings_view,
        [ws, t.source],
        {"figure": t.emb_plot, "note": t.emb_note},
        api_name="embeddings",
    )
    found = {"ranking": t.ranking, "text": t.neu_html}
    on(t.neu_go.click, neurons_view, [ws, t.source, t.neu_text, t.feature, t.rank], found, api_name="neurons")
    t.sur_go.click(surprisal_view, [ws, t.source, t.sur_text, t.against], t.sur_html, api_name="surprisal")
    t.dyn_go.click(dynamics_view, ws, t.dyn_plot, api_name="dynamics")
