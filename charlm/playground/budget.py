"""How long to train and with what: the "train for" choice, auto settings (sized to the text and the
time, shown in the sliders; a slider moved by hand keeps its value), and keeping the best weights.
A click on Train first runs `plan_run`, which fills the widgets and hands the trainer its plan."""

import gradio as gr

from charlm import viz
from charlm.auto import auto_settings
from charlm.data import Corpus
from charlm.errors import CharlmError
from charlm.models import MODELS
from charlm.playground import settings
from charlm.playground.common import Tab, check_text, real, shows_errors
from charlm.playground.session import Workspace
from charlm.train import OPTIMIZERS

BUDGETS = {"15 s": 15, "30 s": 30, "1 min": 60, "5 min": 300, "until I stop": 0, "the steps set": None}
DEFAULT_BUDGET = "30 s"
TRAIN_WIDGETS = ("steps", "batch_size", "lr")  # training settings auto may fill, beside the sliders


def budget_seconds(choice: str | None) -> float | None:
    """Seconds of a "train for" choice: 0 for until stopped, None for the steps set."""
    return BUDGETS.get(choice, BUDGETS[DEFAULT_BUDGET])


def touch(touched: list[str] | None, name: str) -> list[str]:
    """A widget moved by hand: auto leaves it as the person set it from now on (for this model)."""
    return sorted({*(touched or []), name})


@shows_errors
def plan_run(
    text, mode, model_name, budget, use_auto, keep_best, continuing, touched, optimizer, target_loss, *values
) -> dict:
    """What a click on Train will do, before it trains: with a budget and auto on, the settings auto
    picks for this text and time go into the widgets the person did not move (shown in the auto line);
    the plan (time budget, keep-best, optimizer, target loss, patience, evaluation) goes to the trainer.

    `values` are the steps, batch size and learning rate, then the model's sliders (SLIDERS' order)."""
    from charlm.playground.train_tab import SLIDERS  # the sliders' order is the Train tab's

    seconds = budget_seconds(budget)
    if optimizer not in OPTIMIZERS:
        raise CharlmError(f"unknown optimizer {optimizer!r}; choose one of: {', '.join(OPTIMIZERS)}.")
    plan = {
        "keep_best": bool(keep_best),
        "time_budget": float(seconds or 0),
        "optimizer": optimizer,
        "target_loss": real(target_loss or 0, "the validation loss to stop at", 0, 100),
    }
    if seconds == 0:  # until stopped: as many steps as allowed, no schedule to finish
        plan["steps"] = settings.MAX_STEPS
    if not use_auto or seconds is None or continuing or model_name not in MODELS:
        why = "are off" if not use_auto else "size timed runs" if seconds is None else ""
        used = f"Auto settings {why}: the sliders are used as set." if why else ""
        return {"plan": plan, "auto_line": used}
    names = [*TRAIN_WIDGETS, *(s.name for s in SLIDERS)]
    current = dict(zip(names, values))
    own = {s.name for s in MODELS[model_name].settings()}
    given = {k: current[k] for k in touched or [] if k in own or k in TRAIN_WIDGETS}
    corpus = Corpus.from_text(check_text(text), mode)
    auto = auto_settings(corpus, model_name, seconds or 300, given)
    plan.update({k: v for k, v in auto.train.items() if k not in TRAIN_WIDGETS and k != "time_budget"})
    updates = {k: auto.settings[k] for k in auto.settings if k in auto.picked}
    updates.update({k: auto.train[k] for k in TRAIN_WIDGETS if k in auto.picked})
    if seconds == 0:
        updates.pop("steps", None)
    line = auto.summary + ("" if not given else f" (yours: {', '.join(sorted(given))})")
    return {"plan": plan, "auto_line": line, **updates}


def panel(t: Tab) -> None:
    """The "train for" choice, auto and keep-best, beside Steps."""
    with gr.Row() as t.budget_row:
        t.budget = gr.Dropdown(
            list(BUDGETS), value=DEFAULT_BUDGET, label="Train for", elem_id="train-budget", scale=1,
            info="stops cleanly when the time is up; the learning rate follows the clock, so only "
            "the steps set repeat a run exactly (same seed)",
        )  # fmt: skip
        t.use_auto = gr.Checkbox(
            True,
            label="Auto settings",
            info="size, dropout, batch, lr and steps for this text and time",
            scale=1,
        )
        t.keep_best = gr.Checkbox(
            True, label="Keep the best", info="keep the weights with the lowest validation loss", scale=1
        )
    t.auto_line = gr.Markdown(label="Auto settings", show_label=False, elem_id="auto-line")
    t.touched = gr.State([])
    t.plan = gr.State(None)


def wire_touches(t: Tab, widgets: dict) -> None:
    """Moving a widget by hand marks it as the person's; choosing another model forgets the marks."""
    quiet = dict(api_visibility="undocumented", queue=False, show_progress="hidden")
    for name, widget in widgets.items():
        event = widget.release if isinstance(widget, gr.Slider) else widget.input
        event(lambda touched, name=name: touch(touched, name), t.touched, t.touched, **quiet)
    t.model.input(lambda: [], None, t.touched, **quiet)


def behind_bigram(ws: Workspace | None) -> dict:
    """Show "Continue training" when the session's model ended above the count bigram."""
    val = (ws.metrics.get("val_loss") if ws else None) or 0.0
    behind = (
        ws is not None and not ws.model.trained_by_counting and bool(viz.bigram_warning(val, 0.0, ws.refs))
    )
    return gr.update(visible=behind)


def wire_more(t: Tab, ws: gr.State) -> None:
    """ "Continue training" (shown when the model ended above the count bigram): tick Continue and
    click Train again."""
    t.trained.success(behind_bigram, ws, t.more, queue=False, api_visibility="undocumented")
    t.more.click(lambda: True, None, t.continue_training, queue=False, api_visibility="undocumented").then(
        None, None, None, js="() => document.querySelector('#train-button').click()"
    )
