"""The playground's page: the intro, the session's model, one gr.Tab per tab module, their wiring,
and the launch with the thread and queue settings a shared server needs."""

import os

import gradio as gr
import torch

from charlm import viz
from charlm.compare import set_blas_threads
from charlm.playground import (
    bigram_tab,
    checkpoints_tab,
    hub_browse,
    inside_tab,
    learn_tab,
    sample_tab,
    scratch_tab,
    settings,
    train_tab,
)
from charlm.playground.checkpoints_tab import checkpoints_view
from charlm.playground.common import on
from charlm.playground.session import describe_workspace, end_session

INTRO = """# charlm playground
Train a character-level language model on any text, look inside it, and sample from it.
**1.** Paste a text (an example is already there). **2.** Pick a model and click **Train**.
**3.** Watch the loss fall, then open **Sample** and move the temperature.
New to language models? The **Learn** tab walks up the ladder, one live experiment per lesson."""


def space_note() -> None:
    if settings.ON_SPACE:
        gr.Markdown(
            f"ℹ **Running on a shared Hugging Face Space**, so runs are capped: texts up to {settings.MAX_CHARS:,} "
            f"characters, {settings.MAX_STEPS:,} steps and {viz.duration(settings.MAX_TRAIN_SECONDS)} per "
            "training run. Run it on your own machine for no caps (see the README)."
        )


def build_demo() -> gr.Blocks:
    with gr.Blocks(title="charlm playground", analytics_enabled=False) as demo:
        gr.Markdown(INTRO)
        space_note()
        session = gr.Markdown(
            describe_workspace(None), label="This session's model", show_label=False, elem_id="session-model"
        )
        ws = gr.State(None)  # this browser session's Workspace
        run = gr.State(None)  # its last SampleRun
        with gr.Tabs() as tabs:
            with gr.Tab("Train", id="train"):
                train = train_tab.layout(next(iter(settings.EXAMPLES)))
            with gr.Tab("Bigram table", id="bigram") as bigram:
                table = bigram_tab.layout()
            with gr.Tab("Sample", id="sample"):
                sample = sample_tab.layout()
            with gr.Tab("Look inside", id="inside"):
                inside = inside_tab.layout()
            with gr.Tab("Checkpoints", id="checkpoints"):
                saved = checkpoints_tab.layout()
            with gr.Tab("From scratch (NumPy)", id="scratch"):
                scratch = scratch_tab.layout()
            with gr.Tab("Learn", id="learn"):
                learn = learn_tab.layout()
        train_tab.wire(train, ws, session)
        train_tab.fill_on_load(train, demo)
        bigram_tab.wire(table, bigram, train, ws)
        sample_tab.wire(sample, train, ws, run)
        listing = checkpoints_tab.wire(saved, train, sample, ws, session, inside)
        scratch_tab.wire(scratch, train, ws)
        inside_tab.wire(inside, ws)
        learn_tab.wire(learn, ws, session, tabs, demo)
        hub_browse.wire_link(demo, tabs, sample, train, ws, session)  # ?model=user/repo opens it
        on(demo.load, checkpoints_view, None, listing, api_visibility="undocumented")
        demo.unload(end_session)
    return demo


def launch(demo: gr.Blocks, **options):
    """Serve the playground. GRADIO_SERVER_NAME / GRADIO_SERVER_PORT change the address (Gradio reads them)."""
    # Small models train faster on few threads, and trainings that run at once share the cores.
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // settings.TRAIN_CONCURRENCY))
    set_blas_threads(torch.get_num_threads())  # the NumPy rungs too (see charlm.compare)
    demo.queue(default_concurrency_limit=4, max_size=64)
    return demo.launch(
        **{
            "max_file_size": settings.MAX_CHARS * 4 + 1024,
            "ssr_mode": False,
            "footer_links": ["api", "settings"],
            **options,
        }
    )
