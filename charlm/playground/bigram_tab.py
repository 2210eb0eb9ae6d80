"""The Bigram table tab: which character follows which in the Train tab's text, and for a neural
bigram trained here, its learned table beside the counted one. Handlers, then layout, then wiring."""

import gradio as gr

from charlm import viz
from charlm.playground.common import Tab, check_text, on, shows_errors, whole
from charlm.playground.session import Workspace


def char_index(names: list[str], char: str | None, counts) -> int:
    """The token a character label names, or the most frequent one when it names none."""
    return names.index(char) if char in names else int(counts.sum(1).argmax())


@shows_errors
def bigram_view(text: str, mode: str, show: str, top_n: float, char: str | None) -> dict:
    """The heatmap of the text's bigram table and the bar chart of what follows one character."""
    vocab, counts = viz.text_bigram(check_text(text), mode)
    table = viz.bigram_table(vocab, counts, whole(top_n, "characters shown", 2, 500))
    names = viz.labels(vocab)
    current = char_index(names, char, counts)
    return {
        "heatmap": viz.bigram_heatmap(table, show),
        "char": gr.update(choices=names, value=names[current]),
        "followers": viz.follower_bars(vocab, counts, current),
    }


def learned_bigram(ws: Workspace | None) -> bool:
    """Whether the session's model is a table learned by gradient descent, trained here."""
    return ws is not None and ws.trainer is not None and ws.model.bigram_logits() is not None


@shows_errors
def comparison_view(ws: Workspace | None, top_n: float, char: str | None) -> dict:
    """For a neural bigram trained here: its learned table beside the counted one, and their gap."""
    if not learned_bigram(ws):
        hint = "*Train a **neural bigram** in the Train tab to compare what it learned with the counts.*"
        return {"note": hint, "compare": gr.update(visible=False), "bars": gr.update(visible=False)}
    corpus = ws.trainer.corpus
    counts = viz.bigram_model(corpus.train, corpus.vocab).counts
    learned = viz.learned_table(ws.model)
    fig, summary = viz.bigram_comparison(
        corpus.vocab, counts, learned, whole(top_n, "characters shown", 2, 500)
    )
    current = char_index(viz.labels(corpus.vocab), char, counts)
    # the neural bigram learned from the training split: counted there too, and said so (the table and
    # bars above count the whole text)
    bars = viz.follower_bars(corpus.vocab, counts, current, learned, counted_in="the training split")
    return {
        "note": summary,
        "compare": gr.update(value=fig, visible=True),
        "bars": gr.update(value=bars, visible=True),
    }


def layout() -> Tab:
    t = Tab()
    gr.Markdown(
        "The simplest language model is a table: for each character, how often each other character "
        "comes next. This is that table for the text in the *Train* tab. Rows are the current character, "
        "columns the next; ␣ is a space, ⏎ a newline, and in lines mode • marks where a line starts or ends."
    )
    with gr.Row():
        t.show = gr.Radio(["probabilities", "counts"], value="probabilities", label="Show")
        t.top_n = gr.Slider(
            5, 150, value=40, step=1, label="Characters shown (the most frequent; the rest are 'other')"
        )
    t.heatmap = gr.Plot(label="Bigram table", elem_id="bigram-heatmap")
    with gr.Row():
        t.char = gr.Dropdown(label="What follows this character?", scale=1, elem_id="bigram-char")
        t.followers = gr.Plot(label="Followers", scale=3)
    t.compare_note = gr.Markdown()
    t.compare = gr.Plot(label="Counted and learned", visible=False)
    t.compare_bars = gr.Plot(label="One row, counted and learned", visible=False)
    return t


def wire(t: Tab, tab: gr.Tab, train: Tab, ws: gr.State) -> None:
    compare = dict(
        fn=comparison_view,
        inputs=[ws, t.top_n, t.char],
        outputs={"note": t.compare_note, "compare": t.compare, "bars": t.compare_bars},
        api_visibility="undocumented",
    )
    table = dict(
        fn=bigram_view,
        inputs=[train.text, train.mode, t.show, t.top_n, t.char],
        outputs={"heatmap": t.heatmap, "char": t.char, "followers": t.followers},
        show_progress_on=t.heatmap,
    )
    on(on(tab.select, **table, api_name="bigram").then, **compare)
    on(t.show.change, **table, api_visibility="undocumented")
    on(on(t.top_n.release, **table, api_visibility="undocumented").then, **compare)
    on(on(t.char.input, **table, api_visibility="undocumented").then, **compare)
