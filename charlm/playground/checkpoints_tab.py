"""The Checkpoints tab: save the session's model, list, load and delete saved checkpoints, and share
them on the Hugging Face Hub. Handlers first, then the layout, then the wiring."""

import functools
import html
import io

import gradio as gr
from PIL import Image

from charlm import viz
from charlm.card import DESCRIPTION
from charlm.checkpoint import (
    checkpoint_path,
    delete_checkpoint,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
)
from charlm.errors import CharlmError
from charlm.hub import make_card, push
from charlm.playground import hub_browse, settings
from charlm.playground.common import Tab, in_place, on, shows_errors
from charlm.playground.hub_browse import model_link, pull_into_session  # noqa: F401 (the tab's Pull)
from charlm.playground.session import SESSION, Workspace, describe_workspace
from charlm.sampling import sample


def checkpoints_view(selected: str | None = None) -> dict:
    """The table of saved checkpoints, and the two dropdowns that pick one (here and in Sample)."""
    rows = list_checkpoints(settings.CHECKPOINTS)
    names = [r["name"] for r in rows]
    return {
        "table": gr.update(
            value=viz.checkpoint_rows(rows), label=f"Saved checkpoints (in {settings.CHECKPOINTS})"
        ),
        "chosen": gr.update(
            choices=names, value=selected if selected in names else (names[0] if names else None)
        ),
        "source": gr.update(choices=[SESSION, *names]),
        "inside_source": gr.update(choices=[SESSION, *names]),
        "against": gr.update(choices=["(none)", SESSION, *names]),
    }


@shows_errors
def save(ws: Workspace | None, name: str, overwrite: bool) -> dict:
    """Save the session's model as checkpoints/NAME (config, safetensors weights, metrics, model card)."""
    path = checkpoint_path(settings.CHECKPOINTS, name)
    if ws is None:
        raise CharlmError("this session has no model to save yet: train one in the Train tab first.")
    if path.exists() and not overwrite:
        raise CharlmError(
            f"a checkpoint named {path.name!r} exists already; choose another name, or tick 'Overwrite'."
        )
    model = ws.model
    if ws.trainer is not None:
        metrics, summary = ws.trainer.metrics(), ws.trainer.corpus.summary()
    else:
        metrics = {k: v for k, v in ws.metrics.items() if k not in ("samples", "saved_at")}
        summary = ws.checkpoint.config.get("corpus", {}) if ws.checkpoint else {}
    examples = sample(model, num_samples=5 if model.config.mode == "lines" else 2, seed=0, length=200)
    save_checkpoint(
        path,
        model,
        metrics=metrics,
        corpus_summary=summary,
        samples=examples,
        # a loaded checkpoint keeps its settings and optimizer state, so it can still be resumed
        train_config=ws.train_config,
        trainer_state=ws.trainer_state(),
        history=ws.history or None,  # the card's loss curve (a loaded model keeps its metrics' history)
    )
    ws.metrics = metrics
    note = f"Saved **{path.name}** ({model.num_params():,} parameters) in `{settings.CHECKPOINTS}`."
    return {"status": note, "session": describe_workspace(ws), **checkpoints_view(path.name)}


@shows_errors
def load(ws: Workspace | None, name: str) -> dict:
    """Make a saved checkpoint the session's model, to sample from or to continue training."""
    if not name:
        raise CharlmError("choose a checkpoint to load first.")
    checkpoint = load_checkpoint(checkpoint_path(settings.CHECKPOINTS, name))
    new = Workspace(
        checkpoint.model, f"loaded from checkpoint {name}", checkpoint=checkpoint, metrics=checkpoint.metrics
    )
    note = (
        f"Loaded **{name}** into this session: sample it in the *Sample* tab, or tick *Continue training* "
        "in the *Train* tab."
    )
    return {
        "ws": new,
        "status": note,
        "session": describe_workspace(new),
        "mode": checkpoint.model.config.mode,
    }


def ask_delete(name: str) -> dict:
    """Delete… asks before deleting; with no checkpoint chosen it says so beside the button."""
    if not name:
        return {"confirm": gr.update(visible=False), "status": "⚠️ Choose a checkpoint to delete first."}
    return {
        "confirm": gr.update(visible=True),
        "confirm_text": f"Delete **{html.escape(name)}** for good? This cannot be undone.",
        "status": "",
    }


@shows_errors
def delete(name: str) -> dict:
    """Delete checkpoints/NAME (only a charlm checkpoint, only inside the checkpoints folder)."""
    if not name:
        raise CharlmError("choose a checkpoint to delete first.")
    delete_checkpoint(settings.CHECKPOINTS, name)
    return {"status": f"Deleted **{name}**.", "confirm": gr.update(visible=False), **checkpoints_view()}


@shows_errors
def preview(name: str, repo_id: str, description: str) -> dict:
    """The card a push of checkpoint NAME would write, shown before anything is pushed."""
    if not name:
        raise CharlmError("choose a saved checkpoint to share first (save the session's model above).")
    card = make_card(
        checkpoint_path(settings.CHECKPOINTS, name), (repo_id or "").strip() or None, description
    )
    _, front, body = card.text.split("---", 2)
    body = body.replace("![Training and validation loss](loss_curve.png)", "(the loss curve, below)")
    return {
        "card": f"```yaml\n{front.strip()}\n```\n{body}",
        "curve": gr.update(
            value=Image.open(io.BytesIO(card.curve)) if card.curve else None, visible=bool(card.curve)
        ),
        "confirm_push": gr.update(visible=True),
        "hub_status": "",  # the card is the answer now, not the last push's line
    }


@shows_errors
def share(
    name: str, repo_id: str, token: str, private: bool, description: str = "", request: gr.Request = None
) -> dict:
    """Push the saved checkpoint NAME to the Hub repo REPO_ID with the card's DESCRIPTION. The token
    falls back to HF_TOKEN and never comes back to the page."""
    if not name:
        raise CharlmError("choose a saved checkpoint to share first (save the session's model above).")
    url = push(
        checkpoint_path(settings.CHECKPOINTS, name),
        repo_id,
        token=token or None,
        private=bool(private),
        description=description or None,
    )
    repo = html.escape(repo_id.strip())
    note = f"Pushed **{html.escape(name)}** to [{repo}]({html.escape(url)}){' (private)' if private else ''}."
    return {
        "hub_status": note,
        "link": model_link(repo_id, request),
        "confirm_push": gr.update(visible=False),
    }


# ---------------------------------------------------------------------------------------------------
# Layout: the saved checkpoints, then sharing on the Hub


def saved_panel(t: Tab) -> None:
    with gr.Row():
        t.name = gr.Textbox(
            label="Name", placeholder="e.g. names-transformer", scale=3, elem_id="checkpoint-name"
        )
        t.overwrite = gr.Checkbox(False, label="Overwrite if it exists", scale=1)
        t.save = gr.Button("Save this session's model", variant="primary", scale=1, elem_id="save-button")
    t.status = gr.Markdown(label="Save status", show_label=False, elem_id="checkpoint-status")
    t.table = gr.Dataframe(
        headers=["name", "model", "parameters", "validation loss", "steps", "saved"],
        interactive=False,
        label="Saved checkpoints",
    )
    with gr.Row():
        t.chosen = gr.Dropdown(
            label="Checkpoint", scale=3, allow_custom_value=True, elem_id="checkpoint-chosen"
        )
        t.load = gr.Button("Load into this session", scale=1)
        t.delete = gr.Button("Delete…", variant="stop", scale=1)
        t.refresh = gr.Button("Refresh", scale=1)
    t.chosen_status = gr.Markdown(
        label="Status", show_label=False, elem_id="checkpoint-chosen-status"
    )  # what Load and Delete did
    with gr.Row(visible=False) as t.confirm:
        t.confirm_text = gr.Markdown(label="Confirm", show_label=False)
        t.confirm_yes = gr.Button("Yes, delete it", variant="stop")
        t.confirm_no = gr.Button("Cancel")
    if settings.ON_SPACE:
        gr.Markdown(
            "⚠ **This Space's disk is not persistent**: checkpoints saved here vanish when the Space restarts. "
            "Push the ones you want to keep to the Hugging Face Hub below."
        )


def hub_panel(t: Tab) -> None:
    with gr.Accordion("Share on the Hugging Face Hub", open=settings.ON_SPACE):
        gr.Markdown(
            "Push the checkpoint chosen above to a model repo of yours (created if needed), or pull anyone's "
            "charlm model into this session. The token is only sent to the Hub, never shown or saved."
        )
        with gr.Row():
            t.repo_id = gr.Textbox(label="Hub repo id", placeholder="username/model-name", elem_id="hub-repo")
            t.token = gr.Textbox(
                label="Token",
                type="password",
                placeholder="hf_… (empty: use the HF_TOKEN environment variable)",
                elem_id="hub-token",
            )
            t.private = gr.Checkbox(False, label="Private repo")
        t.description = gr.Textbox(
            DESCRIPTION, label="The card's description (Markdown)", lines=2, elem_id="card-description"
        )
        with gr.Row():
            t.push = gr.Button("Preview the card and push…", variant="primary", elem_id="preview-button")
            t.revision = gr.Textbox(label="Revision to pull", placeholder="main", scale=1)
            t.pull = gr.Button("Pull into this session")
        t.hub_status = gr.Markdown(label="Hub status", show_label=False, elem_id="hub-status")
        t.link = gr.Textbox(
            label="Link that opens the pushed model in the playground",
            interactive=False,
            elem_id="model-link",
        )
        push_preview(t)
        t.browse = hub_browse.layout("share")


def push_preview(t: Tab) -> None:
    with gr.Column(visible=False) as t.confirm_push:
        gr.Markdown("**The card that will be pushed** (edit the description above and preview again):")
        t.card = gr.Markdown(label="Model card", show_label=False, elem_id="card-preview")
        t.curve = gr.Image(label="loss_curve.png", type="pil", interactive=False, visible=False)
        with gr.Row():
            t.push_yes = gr.Button("Push it to the Hub", variant="primary", elem_id="push-button")
            t.push_no = gr.Button("Cancel")


def layout() -> Tab:
    t = Tab()
    saved_panel(t)
    hub_panel(t)
    return t


# ---------------------------------------------------------------------------------------------------
# Wiring. Returns the outputs that list the checkpoints, for the page's load event.


def wire(t: Tab, train: Tab, sample_tab: Tab, ws: gr.State, session: gr.Markdown, inside: Tab) -> dict:
    listing = {
        "table": t.table,
        "chosen": t.chosen,
        "source": sample_tab.source,
        "inside_source": inside.source,
        "against": inside.against,
    }
    wire_saved(t, train, ws, session, listing)
    wire_hub(t, train, sample_tab, ws, session)
    return listing


def wire_saved(t: Tab, train: Tab, ws: gr.State, session: gr.Markdown, listing: dict) -> None:
    """Save, load, delete. Errors show in place, under the row whose button caused them, replacing the
    last message there."""
    hidden, quiet = gr.update(visible=False), dict(show_progress="hidden")
    saved = {"status": t.status, "session": session, **listing}
    saving = functools.partial(gr.on, [t.save.click, t.name.submit])  # Enter in the name saves too
    on(saving, in_place(save, "status"), [ws, t.name, t.overwrite], saved, api_name="save", **quiet)
    loaded = {"ws": ws, "status": t.chosen_status, "session": session, "mode": train.mode}
    on(t.load.click, in_place(load, "status"), [ws, t.chosen], loaded, api_name="load", **quiet)
    asked = {"confirm": t.confirm, "confirm_text": t.confirm_text, "status": t.chosen_status}
    on(t.delete.click, ask_delete, t.chosen, asked, api_visibility="undocumented")
    t.confirm_no.click(lambda: hidden, None, t.confirm, api_visibility="undocumented")
    deleted = {"status": t.chosen_status, "confirm": t.confirm, **listing}
    on(
        t.confirm_yes.click,
        in_place(delete, "status", confirm=hidden),
        t.chosen,
        deleted,
        api_name="delete",
        **quiet,
    )
    on(t.refresh.click, checkpoints_view, None, listing, api_name="list_checkpoints")


def wire_hub(t: Tab, train: Tab, sample_tab: Tab, ws: gr.State, session: gr.Markdown) -> None:
    """Preview and push (errors in place, beside the Hub's buttons), pull, and the Hub's browser."""
    previewed = {"card": t.card, "curve": t.curve, "confirm_push": t.confirm_push, "hub_status": t.hub_status}
    inputs = [t.chosen, t.repo_id, t.description]
    hidden = gr.update(visible=False)
    shown = in_place(preview, "hub_status", confirm_push=hidden)  # what is wrong, beside the Hub's buttons
    on(t.push.click, shown, inputs, previewed, api_name="preview_card", show_progress_on=t.hub_status)
    t.push_no.click(lambda: gr.update(visible=False), None, t.confirm_push, api_visibility="undocumented")
    pushed = {"hub_status": t.hub_status, "link": t.link, "confirm_push": t.confirm_push}
    inputs = [t.chosen, t.repo_id, t.token, t.private, t.description]
    on(t.push_yes.click, in_place(share, "hub_status"), inputs, pushed, api_name="push",
       show_progress_on=t.hub_status)  # fmt: skip
    pulled = {
        "ws": ws,
        "status": t.hub_status,
        "session": session,
        "mode": train.mode,
        "source": sample_tab.source,
    }
    on(
        t.pull.click,
        pull_into_session,
        [t.repo_id, t.revision, t.token],
        pulled,
        api_name="pull",
        show_progress_on=t.hub_status,
    )
    from_sample = {**pulled, "status": sample_tab.hub_status}
    on(
        sample_tab.hub_load.click,
        pull_into_session,
        [sample_tab.hub_repo, sample_tab.hub_revision, sample_tab.hub_token],
        from_sample,
        api_visibility="undocumented",
        show_progress_on=sample_tab.hub_status,
    )
    hub_browse.wire(t.browse, {k: v for k, v in pulled.items() if k != "status"}, api_name="search_hub")
    hub_browse.wire(sample_tab.browse, {k: v for k, v in pulled.items() if k != "status"})
