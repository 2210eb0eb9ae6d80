"""The Train tab's text, model and results panels, what they show during training, and the sliders they hold: one per setting any model has
(shown for the models that have it)."""

import json

import gradio as gr

from charlm import viz
from charlm.data import MODES
from charlm.models import DEFAULT_MODEL, MODELS, CharLM, Setting
from charlm.playground import budget, runs, settings
from charlm.playground.common import Tab, setting_widget
from charlm.playground.corpus_panel import hub_panel
from charlm.playground.session import describe_workspace
from charlm.sampling import sample
from charlm.train import Progress

LADDER = list(MODELS)  # the Train tab's models, in the ladder's order
OPTIMIZER_CHOICES = [("AdamW", "adamw"), ("Muon", "muon")]  # (shown, TrainConfig.optimizer)


def all_settings() -> list[Setting]:
    """Every setting any model has, once, in the order the ladder first declares them: one slider
    each, shown for the models that have it."""
    seen: dict[str, Setting] = {}
    for cls in MODELS.values():
        for s in cls.settings():
            seen.setdefault(s.name, s)
    return list(seen.values())


SLIDERS = all_settings()


def text_panel(t: Tab, example_name: str, example_text: str, example_mode: str, described: dict) -> None:
    t.example_text = example_text  # filled in by the page as it loads: see fill_on_load
    t.text = gr.Textbox(
        None,
        label="Text to learn from",
        placeholder="Paste a text here, pick an example or upload a file",
        lines=10,
        max_lines=10,
        elem_id="train-text",
    )
    with gr.Row():
        t.example = gr.Dropdown(list(settings.EXAMPLES), value=example_name, label="Example texts", scale=2)
        t.mode = gr.Radio(
            list(MODES),
            value=example_mode,
            label="Mode",
            info="lines: one item per line (names, words); text: one long stream",
            scale=2,
            elem_id="train-mode",
        )
        t.upload = gr.UploadButton("Upload a .txt file", file_types=[".txt"], scale=1, size="md")
    hub_panel(t)
    t.corpus = gr.Markdown(described["corpus"], elem_id="corpus-summary")
    cls = MODELS[DEFAULT_MODEL]
    with gr.Row() as t.train_settings:
        t.steps = gr.Number(
            cls.default_steps,
            label="Steps",
            precision=0,
            minimum=1,
            maximum=settings.MAX_STEPS,
            elem_id="steps",
        )
        t.batch_size = gr.Number(32, label="Batch size", precision=0, minimum=1, maximum=1024)
        t.lr = gr.Number(cls.default_lr, label="Learning rate", minimum=0, maximum=10, step=1e-4)
        t.seed = gr.Number(1337, label="Seed", precision=0, minimum=0)
    budget.panel(t)
    optimizer_panel(t)
    t.continue_training = gr.Checkbox(
        False, label="Continue training this session's model (instead of starting a new one)"
    )
    t.params = gr.Markdown(described["params"], elem_id="param-count")
    with gr.Row():
        t.start = gr.Button("Train", variant="primary", elem_id="train-button")
        t.stop = gr.Button("Stop", variant="stop", elem_id="stop-button")


def optimizer_panel(t: Tab) -> None:
    """The optimizer and the target loss: training settings the command line has as --optimizer and
    --target-loss, shown for the models that train by gradient descent with PyTorch's optimizers."""
    with gr.Row() as t.optimizer_row:
        t.optimizer = gr.Radio(
            OPTIMIZER_CHOICES,
            value="adamw",
            label="Optimizer",
            info="Muon: the hidden matrices' steps orthogonalised (Newton-Schulz), AdamW for embeddings, "
            "output, biases and norms; the same learning rate",
            elem_id="train-optimizer",
            scale=2,
        )
        t.target_loss = gr.Number(
            0,
            label="Stop at validation loss",
            info="0: off. Else training stops at the first evaluation at or under it (the whole split decides)",
            minimum=0,
            elem_id="target-loss",
            scale=2,
        )


def fill_on_load(t: Tab, demo: gr.Blocks) -> None:
    """The example text arrives with the page, in the browser and at once, rather than as the text
    box's initial value: the "Use via API" page takes a component's initial value as its example, and
    every endpoint with a text would show 4,000 characters of names. A text already there is kept."""
    js = f"(text) => text || {json.dumps(t.example_text)}"
    demo.load(None, t.text, t.text, js=js, queue=False, api_visibility="undocumented")


def model_panel(t: Tab) -> None:
    cls = MODELS[DEFAULT_MODEL]
    own = {s.name: s for s in cls.settings()}
    t.model = gr.Dropdown(
        [(f"{MODELS[m].title} ({m})", m) for m in LADDER],
        value=DEFAULT_MODEL,
        label="Model",
        elem_id="train-model",
    )
    t.about = gr.Markdown(f"**{cls.title}.** {cls.description}")
    t.settings = []
    with gr.Group():
        for s in SLIDERS:
            shown = own.get(s.name, s)
            t.settings.append(
                setting_widget(
                    s, shown.default, shown.explanation, visible=s.name in own, elem_id=f"setting-{s.name}"
                )
            )


def results_panel(t: Tab, refs: dict) -> None:
    t.progress = gr.HTML(viz.progress_html(None), label="Progress", elem_id="train-progress")
    with gr.Row():
        with gr.Column(scale=3):
            t.loss = gr.Plot(
                viz.loss_figure([], refs), label="Loss curve", show_label=False, elem_id="loss-plot"
            )
        with gr.Column(scale=2):
            t.samples = gr.Textbox(
                label="Samples as it learns (the same seed at every evaluation, the newest first)",
                lines=10,
                max_lines=10,
                interactive=False,
                elem_id="live-samples",
            )
            t.warnings = gr.Markdown(label="Warnings", show_label=False, elem_id="train-warnings")
            t.metrics = gr.Markdown(label="Final losses", show_label=False, elem_id="train-metrics")
            t.more = gr.Button("Continue training", visible=False, elem_id="continue-button")
    runs.layout(t)


def live_sample(model: CharLM, text: str | None = None) -> str:
    """A short, fixed-seed sample: watching the same seed shows what learning changes. What occurs
    verbatim in the training `text` (a whole line, or the whole stretch) is marked "(memorised)", as the
    Sample tab marks it."""
    mode = model.config.mode

    def shown(s: str) -> str:
        return f"{s} (memorised)" if text and viz.is_memorised(s, text, mode) else s

    if mode == "lines":
        return ", ".join(
            shown(s) if s else "(empty)" for s in sample(model, num_samples=4, seed=0, length=30)
        )
    return shown(sample(model, seed=0, length=90)[0]).replace("\n", " ⏎ ")


def train_view(ws, event: Progress | None, history, refs, log_lines, warnings, note="") -> dict:
    """The Train tab's outputs for one moment of training."""
    return {
        "ws": ws,
        "session": describe_workspace(ws),
        "progress": viz.progress_html(event, note),
        "loss": viz.loss_figure(history, refs),
        "samples": "\n".join(log_lines),
        "warnings": "\n\n".join(f"⚠️ {w}" for w in warnings),
    }
