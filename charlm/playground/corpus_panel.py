"""The Train tab's "Load from the Hub" panel: a Hub dataset file (hf://datasets/...), a URL or a preset
of a well-known corpus, fetched on demand into the text box, within the place's size cap."""

import gradio as gr

from charlm.corpora import PRESETS, fetch
from charlm.data import read_text
from charlm.errors import CharlmError
from charlm.playground import settings
from charlm.playground.common import Tab, check_text, shows_errors

OWN = "(an address of your own)"


def preset_source(name: str) -> str:
    """The address of preset `name` (empty for OWN, so one can be typed)."""
    return PRESETS.get(name, "")


@shows_errors
def load_corpus(source: str | None, column: str | None = None) -> str:
    """The text at `source`, for the text box. No token is sent: a Space's visitors read public data only."""
    source = (source or "").strip()
    if not source:
        raise CharlmError("give an address: hf://datasets/OWNER/NAME/FILE or a URL, or choose a preset.")
    limit = 4 * settings.MAX_CHARS  # bytes: a character takes 1 to 4 in UTF-8; check_text counts characters
    path = fetch(source, column=(column or "").strip() or None, token=False, max_bytes=limit)
    text = check_text(read_text(path, max_bytes=limit))
    gr.Info(f"Loaded {source}: {len(text):,} characters.")
    return text


def hub_panel(t: Tab) -> None:
    with gr.Accordion("Load from the Hub", open=False), gr.Row():
        t.preset = gr.Dropdown([OWN, *PRESETS], value=OWN, label="Well-known corpora", scale=2)
        t.source = gr.Textbox(label="hf://datasets/OWNER/NAME/FILE or a URL", scale=3, elem_id="hub-source")
        t.column = gr.Textbox(label="Parquet column", placeholder="its only text column", scale=1)
        t.load = gr.Button("Load", scale=1)


def wire_hub_panel(t: Tab) -> None:
    t.preset.input(preset_source, t.preset, t.source, api_visibility="undocumented")
    t.load.click(load_corpus, [t.source, t.column], t.text, api_name="load_corpus")
