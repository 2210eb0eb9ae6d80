"""Finding and opening Hub models in the playground: the "Browse the Hub" panel (in the Sample tab and in
the Checkpoints tab's Share section: search, sort, pages, a chosen model pulled into the session), and
links that open a model, /?model=user/repo&prompt=...&temperature=... Handlers, then layout, then wiring."""

import html
from urllib.parse import quote

import gradio as gr

from charlm.checkpoint import load_checkpoint
from charlm.errors import CharlmError
from charlm.hub import COLUMNS, pull, search
from charlm.playground import settings
from charlm.playground.common import Tab, inline_error, on, real, shows_errors
from charlm.playground.session import SESSION, Workspace, describe_workspace

SORTS = {"most downloads": "downloads", "most likes": "likes", "most recent": "recent"}
PAGE_SIZE = 10


@shows_errors
def pull_into_session(repo_id: str, revision: str, token: str) -> dict:
    """Download a charlm model from the Hub (or the local cache) and make it the session's model."""
    checkpoint = load_checkpoint(pull(repo_id, revision=revision or None, token=token or None))
    repo = html.escape(repo_id.strip()) + (f" @ {html.escape(revision.strip())}" if revision else "")
    new = Workspace(
        checkpoint.model, f"pulled from the Hub: {repo}", checkpoint=checkpoint, metrics=checkpoint.metrics
    )
    note = f"Loaded **{repo}** from the Hub into this session: sample it in the *Sample* tab."
    mode = checkpoint.model.config.mode
    return {"ws": new, "status": note, "session": describe_workspace(new), "mode": mode, "source": SESSION}


def browse(text: str, sort: str, page: float | None = 0) -> dict:
    """One page of the charlm models on the Hub; a Hub that cannot be reached is one line in the panel."""
    page = max(0, int(page or 0))
    try:
        found = search(text or None, sort=SORTS.get(sort, "downloads"), limit=PAGE_SIZE, page=page)
    except CharlmError as e:
        return {
            "table": [],
            "status": inline_error(e),
            "chosen": gr.update(choices=[], value=None),
            "page": 0,
            "previous": gr.update(interactive=False),
            "next": gr.update(interactive=False),
        }
    repos = [r.repo for r in found.rows]
    first = page * PAGE_SIZE
    status = (
        f"Page {page + 1}: models {first + 1}–{first + len(repos)}. Click a row, then *Load*."
        if repos
        else "No charlm model on the Hub matches."
        if page == 0
        else "No more models."
    )
    return {
        "table": [r.cells() for r in found.rows],
        "status": status,
        "chosen": gr.update(choices=repos, value=repos[0] if repos else None),
        "page": page,
        "previous": gr.update(interactive=page > 0),
        "next": gr.update(interactive=found.has_more),
    }


def previous_page(text: str, sort: str, page: float | None) -> dict:
    return browse(text, sort, max(0, int(page or 0) - 1))


def next_page(text: str, sort: str, page: float | None) -> dict:
    return browse(text, sort, int(page or 0) + 1)


def pick(evt: gr.SelectData) -> dict:
    """A click on a row of the table chooses that row's repo."""
    row = evt.row_value or []
    return {"chosen": row[0]} if row else {}


def load_chosen(repo_id: str) -> dict:
    if not repo_id:
        raise gr.Error("Search the Hub and choose a model first.", print_exception=False)
    return pull_into_session(repo_id, "", "")


def model_link(repo_id: str, request: gr.Request | None = None) -> str:
    """The address that opens the playground with `repo_id` in it: on a Space the Space's own address,
    else the address this page was served from."""
    if settings.SPACE_HOST:
        base = f"https://{settings.SPACE_HOST}"
    else:
        headers = request.headers if request is not None else {}
        scheme = headers.get("x-forwarded-proto", "http")
        base = f"{scheme}://{headers.get('host', '127.0.0.1:7860')}"
    return f"{base}/?model={quote(repo_id.strip(), safe='/')}"


@shows_errors
def open_link(request: gr.Request) -> dict:
    """?model=user/repo in the page's address: pull it into the session and show the Sample tab, with the
    link's prompt and temperature. A bad repo: the usual one-line message, and the page as it is."""
    params = dict(request.query_params) if request is not None else {}
    repo = (params.get("model") or "").strip()
    if not repo:
        return {}
    try:
        loaded = pull_into_session.__wrapped__(repo, params.get("revision") or "", "")
    except CharlmError as e:  # a warning, not an error: the page's outputs stay as they are
        gr.Warning(html.escape(str(e), quote=False), duration=20)
        return {"status": inline_error(e)}
    extra = {"tabs": gr.Tabs(selected="sample")}
    if params.get("prompt"):
        extra["prompt"] = params["prompt"][: settings.MAX_CHARS]
    if params.get("temperature"):
        try:
            extra["temperature"] = real(params["temperature"], "temperature", 0, 2)
        except CharlmError as e:
            loaded["status"] += f" The link's temperature was not used: {inline_error(e)}"
    return {**loaded, **extra}


# ---------------------------------------------------------------------------------------------------
# Layout: one panel, placed by each tab that shows it; `prefix` keeps the page's element ids apart


def layout(prefix: str) -> Tab:
    p = Tab()
    with gr.Accordion("Browse the Hub", open=False):
        with gr.Row():
            p.text = gr.Textbox(
                label="Search charlm models",
                placeholder="part of a repo id",
                scale=3,
                elem_id=f"{prefix}-hub-search",
            )
            p.sort = gr.Radio(list(SORTS), value="most downloads", label="Sort by", scale=2)
            p.search = gr.Button("Search", scale=1, elem_id=f"{prefix}-hub-search-button")
        p.table = gr.Dataframe(
            headers=COLUMNS,
            interactive=False,
            label="Models found",
            show_label=False,
            elem_id=f"{prefix}-hub-table",
        )
        with gr.Row():
            p.previous = gr.Button("← Previous", interactive=False, size="sm")
            p.next = gr.Button("Next →", interactive=False, size="sm")
            p.chosen = gr.Dropdown(
                label="Model", allow_custom_value=True, scale=3, elem_id=f"{prefix}-hub-chosen"
            )
            p.load = gr.Button("Load into this session", elem_id=f"{prefix}-hub-load-chosen")
        p.status = gr.Markdown(label="Search status", show_label=False, elem_id=f"{prefix}-hub-browse-status")
        p.page = gr.State(0)
    return p


# ---------------------------------------------------------------------------------------------------
# Wiring. `loaded`: where a pulled model goes (ws, session, mode, source); its status is the panel's.


def wire(p: Tab, loaded: dict, api_name: str | None = None) -> None:
    listed = {k: getattr(p, k) for k in ("table", "status", "chosen", "page", "previous", "next")}
    shown = dict(show_progress_on=p.table)
    named = dict(api_name=api_name) if api_name else dict(api_visibility="undocumented")
    for event in (p.search.click, p.text.submit, p.sort.input):
        on(event, browse, [p.text, p.sort], listed, **shown, **named)
        named = dict(api_visibility="undocumented")
    on(p.previous.click, previous_page, [p.text, p.sort, p.page], listed, **shown, **named)
    on(p.next.click, next_page, [p.text, p.sort, p.page], listed, **shown, **named)
    on(p.table.select, pick, None, {"chosen": p.chosen}, **named)
    on(
        p.load.click,
        load_chosen,
        [p.chosen],
        {**loaded, "status": p.status},
        show_progress_on=p.status,
        **named,
    )


def wire_link(demo: gr.Blocks, tabs: gr.Tabs, sample: Tab, train: Tab, ws: gr.State, session) -> None:
    """The page's load event reads ?model=... (see open_link)."""
    outputs = {
        "ws": ws,
        "status": sample.hub_status,
        "session": session,
        "mode": train.mode,
        "source": sample.source,
        "tabs": tabs,
        "prompt": sample.prompt,
        "temperature": sample.temperature,
    }
    on(demo.load, open_link, None, outputs, api_visibility="undocumented")
