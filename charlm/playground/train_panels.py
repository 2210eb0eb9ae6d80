"""The Train tab's model and results panels, what they show during training, and the sliders they hold: one per setting any model has
(shown for the models that have it)."""

import gradio as gr

from charlm import viz
from charlm.models import DEFAULT_MODEL, MODELS, CharLM, Setting
from charlm.playground import runs
from charlm.playground.common import Tab, setting_widget
from charlm.playground.session import describe_workspace
from charlm.sampling import sample
from charlm.train import Progress

LADDER = list(MODELS)  # the Train tab's models, in the ladder's order


def all_settings() -> list[Setting]:
    """Every setting any model has, once, in the order the ladder first declares them: one slider
    each, shown for the models that have it."""
    seen: dict[str, Setting] = {}
    for cls in MODELS.values():
        for s in cls.settings():
            seen.setdefault(s.name, s)
    return list(seen.values())


SLIDERS = all_settings()


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
    t.progress = gr.HTML(viz.progress_html(None), elem_id="train-progress")
    with gr.Row():
        with gr.Column(scale=3):
            t.loss = gr.Plot(viz.loss_figure([], refs), show_label=False, elem_id="loss-plot")
        with gr.Column(scale=2):
            t.samples = gr.Textbox(
                label="Samples as it learns (the same seed at every evaluation)",
                lines=10,
                max_lines=10,
                interactive=False,
                elem_id="live-samples",
            )
            t.warnings = gr.Markdown(elem_id="train-warnings")
            t.metrics = gr.Markdown(elem_id="train-metrics")
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
