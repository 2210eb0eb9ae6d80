"""The Learn tab: the lessons in order, each an explanation beside one button that runs its experiment
live, the numbers in its text filled in from that run, what to try next, a question to check yourself,
and a way on to the tab where its model can be taken further. Handlers, then layout, then wiring."""

import re

import gradio as gr

from charlm.errors import CharlmError
from charlm.lessons import LESSONS, run_lesson
from charlm.playground import settings
from charlm.playground.common import Tab, on, shows_errors
from charlm.playground.session import Workspace, describe_workspace
from charlm.viz import escape

TITLES = [lesson.title for lesson in LESSONS]
FIGURES = 3  # the most figures a lesson shows
TAB_NAMES = {
    "bigram": "Bigram table",
    "scratch": "From scratch",
    "inside": "Look inside",
    "train": "Train",
    "sample": "Sample",
}


def lesson_index(title: str) -> int:
    if title not in TITLES:
        raise CharlmError(f"unknown lesson {title!r}; choose one of: {', '.join(TITLES)}.")
    return TITLES.index(title)


def unfilled(text: str) -> str:
    """The text before its run: each number it will quote shown as … (the run fills them in)."""
    return re.sub(r"\{[a-z_]+\}", "…", text)


def extras(index: int) -> dict:
    """The parts of a lesson that do not depend on its run."""
    lesson = LESSONS[index]
    tries = "\n".join(f"- {t}" for t in lesson.try_this)
    return {
        "try_this": f"**Try this** (one change each; say what you see):\n{tries}",
        "question": f"**Check yourself:** {lesson.question}",
        "answer": lesson.answer,
        "go": gr.update(value=f"Go further in the {TAB_NAMES[lesson.tab]} tab →", visible=False),
    }


def choose_lesson(title: str, progress: dict | None) -> dict:
    """Show a lesson before its run, and remember in the browser that this is where the person is."""
    index = lesson_index(title if title in TITLES else TITLES[0])
    lesson = LESSONS[index]
    progress = {**(progress or {}), "lesson": lesson.title}
    hidden = {f"figure{i}": gr.update(value=None, visible=False) for i in range(FIGURES)}
    text = f"## {lesson.title}\n\n{unfilled(lesson.text)}\n\n*{lesson.before}*"
    return {"text": text, "html": "", "progress": progress, **hidden, **extras(index)}


def restore(progress: dict | None) -> dict:
    """The page opened: continue at the lesson the person was on (kept in the browser)."""
    title = (progress or {}).get("lesson")
    chosen = title if title in TITLES else TITLES[0]
    done = (progress or {}).get("done") or []
    status = f"Lessons run so far: {len(done)} of {len(TITLES)}." if done else ""
    return {"lesson": chosen, "status": status}


@shows_errors
def run(title: str, ws: Workspace | None) -> dict:
    """Run the lesson's experiment; its text comes back with the run's own numbers, its figures beside it,
    and its model becomes the session's (so the linked tab continues with it)."""
    index = lesson_index(title)
    lesson = LESSONS[index]
    text, result = run_lesson(index)
    figures = {
        f"figure{i}": gr.update(value=fig, visible=True)
        if (fig := next(iter(result.figures[i : i + 1]), None))
        else gr.update(visible=False)
        for i in range(FIGURES)
    }
    updates = {"text": f"## {lesson.title}\n\n{text}", "html": result.html, **figures, **extras(index)}
    if result.model is not None:
        ws = Workspace(result.model, f"trained by the lesson {escape(lesson.title)}", trainer=result.trainer)
        ws.metrics = result.trainer.metrics() if result.trainer is not None else {}
        go = f"Go further in the {TAB_NAMES[lesson.tab]} tab, with this model →"
        updates.update(ws=ws, session=describe_workspace(ws), go=gr.update(value=go, visible=True))
    return updates


def mark_done(title: str, progress: dict | None) -> dict:
    """After a lesson ran: remember it in the browser, and say how far the person has come."""
    done = sorted({*((progress or {}).get("done") or []), title})
    return {
        "progress": {"lesson": title, "done": done},
        "status": f"Lessons run so far: {len(done)} of {len(TITLES)}.",
    }


def go_further(title: str):
    return gr.Tabs(selected=LESSONS[lesson_index(title)].tab)


# ---------------------------------------------------------------------------------------------------
# Layout


def layout() -> Tab:
    t = Tab()
    gr.Markdown(
        "A guided walk up the ladder, from counting character pairs to attention. Each lesson runs one "
        "experiment live (a minute at most) and its text quotes the numbers your run measured."
    )
    with gr.Row():
        with gr.Column(scale=1):
            t.lesson = gr.Radio(TITLES, value=TITLES[0], label="Lessons", elem_id="lesson-list")
            t.status = gr.Markdown(label="Progress", show_label=False, elem_id="lesson-status")
        with gr.Column(scale=3):
            t.text = gr.Markdown(label="Lesson", show_label=False, elem_id="lesson-text")
            with gr.Row():
                t.run = gr.Button("Run the experiment", variant="primary", elem_id="lesson-run")
                t.go = gr.Button("Go further", visible=False, elem_id="lesson-go")
            t.figures = [
                gr.Plot(
                    label=f"Figure {i + 1}", show_label=False, visible=False, elem_id=f"lesson-figure-{i}"
                )
                for i in range(FIGURES)
            ]
            t.html = gr.HTML(label="Lesson result", show_label=False, elem_id="lesson-html")
            t.try_this = gr.Markdown(label="Try this", show_label=False)
            t.question = gr.Markdown(label="Question", show_label=False)
            with gr.Accordion("Show the answer", open=False):
                t.answer = gr.Markdown(label="Answer", show_label=False)
    t.progress = gr.BrowserState({"lesson": TITLES[0], "done": []}, storage_key="charlm-lessons")
    return t


def wire(t: Tab, ws: gr.State, session: gr.Markdown, tabs: gr.Tabs, demo: gr.Blocks) -> None:
    shown = {"text": t.text, "html": t.html, "progress": t.progress, "try_this": t.try_this}
    shown.update(question=t.question, answer=t.answer, go=t.go)
    shown.update({f"figure{i}": fig for i, fig in enumerate(t.figures)})
    on(t.lesson.change, choose_lesson, [t.lesson, t.progress], shown, api_visibility="undocumented")
    ran = {k: v for k, v in shown.items() if k != "progress"} | {"ws": ws, "session": session}
    done = {"progress": t.progress, "status": t.status}
    ran_event = on(
        t.run.click,
        run,
        [t.lesson, ws],
        ran,
        api_name="lesson",
        show_progress_on=t.text,
        concurrency_limit=settings.TRAIN_CONCURRENCY,  # a lesson trains: it shares the training slots
        concurrency_id="train",
    )
    on(ran_event.success, mark_done, [t.lesson, t.progress], done, api_visibility="undocumented")
    t.go.click(go_further, t.lesson, tabs, api_visibility="undocumented")
    on(
        demo.load,
        restore,
        t.progress,
        {"lesson": t.lesson, "status": t.status},
        api_visibility="undocumented",
    )
