"""Messages in place and no dead controls: an error shows beside what caused it and replaces the stale
message there (and stale samples), with no pop-up but still an error for the API; Stop with nothing
running, Delete with nothing chosen and Enter in a number field each do something; a click on a
sample's character moves the inspector there, and a new Generate keeps it; live samples are marked
when they are memorised."""

import gradio as gr
import pytest
from playground_helpers import NAMES, generated, trained

from charlm.playground import build_demo, checkpoints_tab, common, sample_tab, scratch_tab, train_tab
from charlm.playground.checkpoints_tab import ask_delete, load, save
from charlm.playground.sample_tab import explain, generate, pick
from charlm.playground.train_panels import live_sample

pytest_plugins = ["playground_fixtures"]  # ws, checkpoints


def as_the_page(fn, where: str, *args, **cleared) -> tuple[list[dict], gr.Error | None]:
    """Run a handler as the page wires it (common.in_place): the updates it yields, and its error."""
    updates = []
    try:
        for update in common.in_place(fn, where, **cleared)(*args):
            updates.append(update)
    except gr.Error as e:
        return updates, e
    return updates, None


def test_a_refused_save_replaces_the_last_message_under_the_name_box(ws, checkpoints):
    (saved,), error = as_the_page(save, "status", ws, "kept", False)
    assert error is None and "Saved **kept**" in saved["status"]
    (loaded,), _ = as_the_page(load, "status", None, "kept")
    assert "Loaded **kept**" in loaded["status"]
    (refused,), error = as_the_page(save, "status", ws, "kept", False)
    assert refused == {"status": "⚠️ a checkpoint named 'kept' exists already; choose another name, or tick "
                       "'Overwrite'."}  # fmt: skip
    # no pop-up beside the message in place, but an error all the same (the API's client gets it)
    assert error.visible is False and "exists already" in error.message
    # and the page writes it where Save writes its success, not Load's line
    demo = build_demo()
    saving = next(f for f in demo.fns.values() if f.api_name == "save")
    loading = next(f for f in demo.fns.values() if f.api_name == "load")
    assert saving.outputs[0] is not loading.outputs[0]
    assert saving.outputs[0].elem_id == "checkpoint-status"
    assert loading.outputs[1].elem_id == "checkpoint-chosen-status"


def test_a_failed_load_or_delete_says_why_under_its_row(checkpoints):
    (shown,), error = as_the_page(load, "status", None, "")
    assert shown["status"].startswith("⚠️") and "choose a checkpoint" in shown["status"] and error is not None
    (shown,), error = as_the_page(
        checkpoints_tab.delete, "status", "missing", confirm=gr.update(visible=False)
    )
    assert "no checkpoint named" in shown["status"] and shown["confirm"]["visible"] is False


def test_delete_with_nothing_chosen_says_so_where_it_shows():
    asked = ask_delete("")
    assert (
        asked["status"] == "⚠️ Choose a checkpoint to delete first." and asked["confirm"]["visible"] is False
    )
    asked = ask_delete("names")
    assert asked["confirm"]["visible"] is True and asked["status"] == "" and "names" in asked["confirm_text"]


STALE = dict(run=None, plain="", alternatives="", distribution=None)


def test_a_bad_prompt_replaces_the_samples_with_one_message(ws):
    args = (ws, "This session's model", NAMES, "Z<", 1.0, 0, 1.0, 40, 3, 5, True)
    updates, error = as_the_page(generate, "samples", *args, **STALE)
    assert len(updates) == 1 and error.visible is False  # nothing streamed; no pop-up
    shown = updates[0]
    assert (
        shown["samples"].count("⚠️") == 1 and "not in the model's vocabulary: '&lt;', 'Z'" in shown["samples"]
    )
    assert "charlm-sample" not in shown["samples"]  # the old samples are gone, not left as the answer
    assert {k: shown[k] for k in STALE} == STALE
    good, error = as_the_page(generate, "samples", *args[:3], "a", *args[4:], **STALE)
    assert error is None and good[-1]["samples"].count('class="charlm-sample"') == 3


def test_a_click_on_a_character_moves_the_inspector_there():
    assert pick(gr.EventData(None, {"sample": 2, "position": 7})) == {"sample_number": 2, "position": 7}
    assert pick(gr.EventData(None, {})) == {}  # a click beside the characters
    assert pick(gr.EventData(None, None)) == {}


def test_a_new_generate_keeps_the_inspected_position_when_it_still_exists(ws):
    run = generated(ws, length=40, seed=5)[-1]["run"]
    position = min(len(t) for t in run.samples) - 1
    explain(run, True, 2, position, 1.0, 0, 1.0)
    assert run.inspected == (1, position)
    again = generated(ws, length=40, seed=6, previous=run)[-1]
    new = again["run"]
    if position < len(new.samples[1]):
        assert again["sample_number"]["value"] == 2 and again["position"]["value"] == position
        assert f"At position {position}" in again["alternatives"] and new.inspected == (1, position)
    # fewer samples than the inspected one's number: back to the first sample's start
    fewer = generated(ws, length=40, num_samples=1, previous=new)[-1]
    assert fewer["sample_number"]["value"] == 1 and fewer["position"]["value"] == 0
    assert "At position 0" in fewer["alternatives"]


def test_samples_are_clickable_characters(ws):
    # every character of every sample names its position, inside a sample that names its number
    last = generated(ws, length=10, num_samples=2)[-1]
    html, run = last["samples"], last["run"]
    assert 'data-sample="1"' in html and 'data-sample="2"' in html
    assert html.count("data-pos=") == sum(len(t) for t in run.samples)
    assert "trigger('click'" in sample_tab.CLICK_TO_INSPECT


def test_live_samples_are_marked_when_they_occur_in_the_training_text():
    text = "abc\nabc\nabc\nabc\n"
    model = trained(text, model="bigram", steps=1, smoothing=0.0)[-1]["ws"].model
    assert live_sample(model, text) == ", ".join(["abc (memorised)"] * 4)
    assert live_sample(model) == ", ".join(["abc"] * 4)  # no text, no mark
    assert "(memorised)" not in live_sample(model, "abd\nxyz\n")
    shown = trained(text, model="bigram", steps=1, smoothing=0.0)[-1]["samples"]
    assert "abc (memorised)" in shown


@pytest.mark.parametrize(
    "stop, api_name, progress",
    [
        (train_tab.stop, "stop", "train-progress"),
        (scratch_tab.stop_compare, "stop_compare", "compare-progress"),
    ],
)
def test_stop_with_nothing_running_says_so_on_the_progress_bar(stop, api_name, progress):
    assert "nothing to stop" in stop(None)
    demo = build_demo()
    stopping = next(f for f in demo.fns.values() if f.api_name == api_name)
    assert [o.elem_id for o in stopping.outputs] == [progress]


def test_enter_in_a_number_field_does_what_its_button_does():
    demo = build_demo()

    def triggers(fn) -> set[tuple[str | None, str]]:
        return {(demo.blocks[i].elem_id or getattr(demo.blocks[i], "label", None), e) for i, e in fn.targets}

    train_start = next(f for f in demo.fns.values() if f.fn and f.fn.__name__ == "arm_stop")
    assert {("train-button", "click"), ("steps", "submit"), ("Batch size", "submit")} <= triggers(train_start)
    assert {("Learning rate", "submit"), ("Seed", "submit")} <= triggers(train_start)
    sampling = next(f for f in demo.fns.values() if f.api_name == "sample")
    assert {("generate-button", "click"), ("Length", "submit"), ("Samples", "submit")} <= triggers(sampling)
    assert ("sample-prompt", "submit") in triggers(sampling)
    saving = next(f for f in demo.fns.values() if f.api_name == "save")
    assert ("checkpoint-name", "submit") in triggers(saving)


def test_a_refused_rename_says_why_in_the_runs_note():
    from charlm.playground import runs

    (shown,), error = as_the_page(runs.rename_run, "note", None, None, "", [], "steps")
    assert shown == {"note": "⚠️ choose a run in the list first (train one, or tick one from the table)."}
    assert error.visible is False


def test_a_refused_preview_says_why_beside_the_hubs_buttons_and_a_card_clears_it(ws, checkpoints):
    (shown,), error = as_the_page(
        checkpoints_tab.preview, "hub_status", "", "alice/x", "", confirm_push=gr.update(visible=False)
    )
    assert shown["hub_status"].startswith("⚠️ choose a saved checkpoint") and error.visible is False
    save(ws, "card", False)
    (card,), error = as_the_page(checkpoints_tab.preview, "hub_status", "card", "alice/x", "")
    assert error is None and card["hub_status"] == "" and card["confirm_push"]["visible"] is True
