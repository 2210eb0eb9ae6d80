"""The Train tab's run history: every run of the browser session kept (model, settings, curve, metrics,
a sample), earlier runs ticked onto the loss chart against steps or seconds, the runs table, a run
renamed, removed, saved or made the session's model again, and "Train the ladder"."""

import functools
from dataclasses import dataclass, field

import gradio as gr

from charlm import viz
from charlm.checkpoint import checkpoint_path, save_checkpoint
from charlm.data import Corpus
from charlm.errors import CharlmError
from charlm.playground import settings
from charlm.playground.budget import budget_seconds
from charlm.playground.common import Tab, check_text, in_place, on, shows_errors
from charlm.playground.session import TRAINING, Workspace, describe_workspace, session_of, stop_reason
from charlm.runs import LADDER, Run, ladder, record, runs_markdown, runs_table

X_AXES = {"steps": "steps", "seconds (fair across models)": "seconds"}


@dataclass
class History:
    """One browser session's runs, the reference losses of the text they trained on, and a counter
    that numbers new runs."""

    runs: list[Run] = field(default_factory=list)
    refs: dict[str, float] = field(default_factory=dict)
    count: int = 0

    def add(self, run: Run, refs: dict[str, float]) -> Run:
        self.count += 1
        run.name = f"{run.model_type} #{self.count}"
        self.runs.append(run)
        self.refs = refs
        return run

    def find(self, name: str | None) -> Run:
        for run in self.runs:
            if run.name == name:
                return run
        raise CharlmError("choose a run in the list first (train one, or tick one from the table).")


def legend(run: Run) -> str:
    return run.name if run.model_type in run.name else f"{run.name} ({run.model_type})"


def runs_view(history: History | None, shown: list[str] | None, x: str, note: str = "") -> dict:
    """The runs table, the tick boxes and run picker, and the chart of the ticked runs."""
    history = history or History()
    names = [r.name for r in history.runs]
    shown = [n for n in (shown or []) if n in names]
    curves = {legend(r): r.history for r in history.runs if r.name in shown}
    rows = runs_table(history.runs)
    table = runs_markdown(rows, history.refs) if rows else "*No runs yet: train a model or the ladder.*"
    view = {
        "history": history,
        "table": table,
        "shown": gr.update(choices=names, value=shown),
        "pick": gr.update(choices=names, value=names[-1] if names else None),
        "note": note,
    }
    if curves:
        view["loss"] = viz.runs_figure(curves, X_AXES.get(x, "steps"), history.refs)
    return view


def add_run(ws: Workspace | None, history: History | None, shown: list[str] | None, x: str) -> dict:
    """After a training: keep it in the history (once), ticked, and redraw the chart and table."""
    history = history or History()
    if ws is None or ws.trainer is None or any(r.model is ws.model for r in history.runs):
        return runs_view(history, shown, x)
    run = history.add(record(ws.trainer, "", dict(vars(ws.model.config)), ws.history), ws.refs)
    ticked = list(shown or [])
    view = runs_view(history, ticked + [run.name] if ticked else [], x)
    return {**view, "note": f"Kept **{run.name}** in this session's runs."}


@shows_errors
def redraw(history: History | None, shown: list[str] | None, x: str) -> dict:
    return runs_view(history, shown, x)


@shows_errors
def rename_run(history: History | None, pick: str | None, new: str, shown, x) -> dict:
    history = history or History()
    run, new = history.find(pick), (new or "").strip()
    if not new:
        raise CharlmError("type a new name for the run first.")
    if any(r.name == new for r in history.runs if r is not run):
        raise CharlmError(f"a run named {new!r} exists already; choose another name.")
    shown = [new if n == run.name else n for n in (shown or [])]
    old, run.name = run.name, new
    return {**runs_view(history, shown, x), "pick": gr.update(choices=[r.name for r in history.runs], value=new),
            "note": f"Renamed {old} to **{new}**."}  # fmt: skip


@shows_errors
def remove_run(history: History | None, pick: str | None, shown, x) -> dict:
    history = history or History()
    run = history.find(pick)
    history.runs.remove(run)
    return runs_view(history, [n for n in (shown or []) if n != run.name], x, f"Removed {run.name}.")


@shows_errors
def save_run(history: History | None, pick: str | None, name: str) -> dict:
    """Save a run's model as a checkpoint, with its metrics, settings and loss curve."""
    run = (history or History()).find(pick)
    path = checkpoint_path(settings.CHECKPOINTS, (name or "").strip() or run.name.replace(" #", "-"))
    if path.exists():
        raise CharlmError(f"a checkpoint named {path.name!r} exists already; type another name.")
    from charlm.train import TrainConfig

    save_checkpoint(path, run.model, metrics=run.metrics, samples=[run.sample],
                    train_config=TrainConfig(**run.train), history=run.history)  # fmt: skip
    return {"note": f"Saved {run.name} as **{path.name}** in `{settings.CHECKPOINTS}`."}


@shows_errors
def use_run(history: History | None, pick: str | None) -> dict:
    """Make a run's model the session's model again (to sample from, look inside, save)."""
    run = (history or History()).find(pick)
    ws = Workspace(run.model, f"run {run.name} of this session", history=list(run.history), refs=history.refs)
    ws.metrics = dict(run.metrics)
    return {
        "ws": ws,
        "session": describe_workspace(ws),
        "note": f"**{run.name}** is the session's model again.",
    }


@shows_errors
def train_ladder(history, text, mode, budget, shown, x, request: gr.Request | None = None):
    """Train count bigram, MLP, LSTM and transformer in turn on the text, each with auto settings and
    a share of the time budget ("until I stop" gives each a minute), and fill the chart and table."""
    history = history or History()
    corpus = Corpus.from_text(check_text(text), mode)
    seconds = budget_seconds(budget) or 60.0 * (len(LADDER) - 1)
    refs = viz.baselines(corpus)
    ticked = list(shown or [])
    with TRAINING.run(session_of(request)) as stopping:
        deadline = float("inf")
        for kind, item in ladder(corpus, LADDER, seconds):
            if kind == "run":
                ticked.append(history.add(item, refs).name)
                yield runs_view(history, ticked, x, f"Trained {item.model_type}.")
            elif kind == "auto":
                yield {"note": f"Training the ladder: {item}", "progress": viz.progress_html(None, item)}
            elif stopping.is_set():
                yield runs_view(
                    history, ticked, x, stop_reason(stopping, deadline, "stopped: the ladder ends here")
                )
                return
    yield {**runs_view(history, ticked, x, "The ladder is trained: every rung is in the table."),
           "progress": viz.progress_html(None, "ladder done")}  # fmt: skip


def arm(request: gr.Request) -> None:
    """Before the ladder leaves the queue: a fresh stop switch, so Stop also stops a waiting ladder."""
    TRAINING.arm(request.session_hash)


# ---------------------------------------------------------------------------------------------------
# Layout and wiring


def layout(t: Tab) -> None:
    """The runs panel, below the Train tab's results."""
    t.history = gr.State(None)
    with gr.Accordion("This session's runs: compare them on one chart", open=True):
        with gr.Row():
            t.shown = gr.CheckboxGroup([], label="Show on the loss chart", scale=3, elem_id="runs-shown")
            t.x_axis = gr.Radio(list(X_AXES), value="steps", label="x-axis", scale=1, elem_id="runs-x")
            t.ladder = gr.Button("Train the ladder", scale=1, elem_id="ladder-button")
        t.runs_table = gr.Markdown(
            "*No runs yet: train a model or the ladder.*",
            label="Runs table",
            show_label=False,
            elem_id="runs-table",
        )
        with gr.Row():
            t.pick = gr.Dropdown([], label="Run", scale=2, elem_id="runs-pick")
            t.run_name = gr.Textbox(label="New name / checkpoint name", scale=2, elem_id="runs-name")
            t.rename = gr.Button("Rename", scale=1)
            t.remove = gr.Button("Remove", scale=1)
            t.save_run = gr.Button("Save as checkpoint", scale=1)
            t.use_run = gr.Button("Make it the session's model", scale=1)
        t.runs_note = gr.Markdown(label="Runs note", show_label=False, elem_id="runs-note")


def wire(t: Tab, ws: gr.State, session: gr.Markdown, trained) -> None:
    """`trained` is the Train click's event: a finished training joins the history."""
    view = {"history": t.history, "table": t.runs_table, "shown": t.shown, "pick": t.pick,
            "note": t.runs_note, "loss": t.loss}  # fmt: skip
    quiet = dict(api_visibility="undocumented")
    on(trained.success, add_run, [ws, t.history, t.shown, t.x_axis], view, **quiet)
    on(t.shown.input, redraw, [t.history, t.shown, t.x_axis], view, **quiet)
    on(t.x_axis.input, redraw, [t.history, t.shown, t.x_axis], view, **quiet)
    # a refused rename, removal, save or switch says why in the runs' note, in place of the last one
    renaming = functools.partial(gr.on, [t.rename.click, t.run_name.submit])  # Enter renames
    inputs = [t.history, t.pick, t.run_name, t.shown, t.x_axis]
    on(renaming, in_place(rename_run, "note"), inputs, view, **quiet)
    on(t.remove.click, in_place(remove_run, "note"), [t.history, t.pick, t.shown, t.x_axis], view, **quiet)
    saving = in_place(save_run, "note")
    on(t.save_run.click, saving, [t.history, t.pick, t.run_name], {"note": t.runs_note}, **quiet)
    on(
        t.use_run.click,
        in_place(use_run, "note"),
        [t.history, t.pick],
        {"ws": ws, "session": session, "note": t.runs_note},
        **quiet,
    )
    on(
        t.ladder.click(arm, None, None, queue=False, **quiet).then,
        train_ladder,
        [t.history, t.text, t.mode, t.budget, t.shown, t.x_axis],
        {**view, "progress": t.progress},
        api_name="ladder",
        concurrency_id="train",
        show_progress_on=t.progress,
    )
