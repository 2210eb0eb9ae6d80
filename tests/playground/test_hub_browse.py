"""The Browse the Hub panel, the card preview and links that open a model, against the FakeHub on
127.0.0.1: handlers directly, with the page's address and query as Gradio hands them over."""

from types import SimpleNamespace

import gradio as gr
import pytest
import torch
from hub_server import WRITE_TOKEN
from playground_helpers import trained

from charlm.checkpoint import load_checkpoint
from charlm.playground import settings
from charlm.playground.checkpoints_tab import preview, save, share
from charlm.playground.hub_browse import browse, load_chosen, model_link, next_page, open_link, pick

pytest_plugins = ["playground_fixtures"]  # checkpoints


@pytest.fixture(scope="module")
def ws():
    return trained(steps=30)[-1]["ws"]


@pytest.fixture
def pushed(hub, checkpoints, ws):
    """The session's model saved as names-mlp, and pushed as alice/names-0 .. alice/names-2."""
    save(ws, "names-mlp", False)
    for i in range(3):
        share("names-mlp", f"alice/names-{i}", WRITE_TOKEN, False, "")
        hub.repos[("model", f"alice/names-{i}")].likes = i
    return checkpoints / "names-mlp"


def request(query: dict, host: str = "127.0.0.1:7860"):
    return SimpleNamespace(query_params=query, headers={"host": host})


def test_browse_pages_and_loads_the_chosen_model(pushed, monkeypatch):
    monkeypatch.setattr("charlm.playground.hub_browse.PAGE_SIZE", 2)
    first = browse("", "most likes", 0)
    assert [row[0] for row in first["table"]] == ["alice/names-2", "alice/names-1"]
    assert first["chosen"]["value"] == "alice/names-2" and first["next"]["interactive"]
    second = next_page("", "most likes", first["page"])
    assert [row[0] for row in second["table"]] == ["alice/names-0"] and not second["next"]["interactive"]
    assert second["previous"]["interactive"] and "models 3–3" in second["status"]
    row = first["table"][1]
    assert row[1] == "mlp" and float(row[4]) == pytest.approx(
        load_checkpoint(pushed).metrics["val_loss"], abs=1e-4
    )
    assert pick(SimpleNamespace(row_value=row)) == {"chosen": "alice/names-1"}
    loaded = load_chosen("alice/names-1")
    idx = torch.arange(10)[None]
    assert torch.equal(loaded["ws"].model(idx)[0], load_checkpoint(pushed).model(idx)[0])
    assert "Loaded **alice/names-1**" in loaded["status"]
    with pytest.raises(gr.Error, match="choose a model first"):
        load_chosen("")


def test_browse_offline_is_one_line(pushed, hub):
    load_chosen("alice/names-0")  # now cached
    hub.offline = True
    shown = browse("", "most downloads", 0)
    assert shown["table"] == [] and shown["status"].count("\n") == 0
    assert "the Hub cannot be reached" in shown["status"] and "alice/names-0" in shown["status"]
    assert "Loaded" in load_chosen("alice/names-0")["status"]  # the cached model still loads


def test_the_card_is_previewed_with_the_description_before_the_push(pushed, hub):
    shown = preview("names-mlp", "alice/new", "My <b>names</b> model.")
    assert "My <b>names</b> model." in shown["card"] and "model-index" in shown["card"]
    assert shown["confirm_push"]["visible"] and shown["curve"]["visible"]  # a playground run has a history
    assert ("model", "alice/new") not in hub.repos  # nothing was pushed
    with pytest.raises(gr.Error, match="choose a saved checkpoint"):
        preview("", "alice/new", "")


def test_links_name_the_space_or_the_pages_address(monkeypatch):
    assert (
        model_link(" alice/m ", request({}, "example.org:8000")) == "http://example.org:8000/?model=alice/m"
    )
    monkeypatch.setattr(settings, "SPACE_HOST", "alice-charlm.hf.space")
    assert model_link("alice/m", request({})) == "https://alice-charlm.hf.space/?model=alice/m"


def test_a_link_opens_the_model_in_the_sample_tab(pushed):
    opened = open_link(request({"model": "alice/names-1", "prompt": "ka", "temperature": "0.4"}))
    assert opened["tabs"].selected == "sample" and opened["prompt"] == "ka" and opened["temperature"] == 0.4
    assert "Loaded **alice/names-1**" in opened["status"] and opened["ws"].model.config.model_type == "mlp"
    assert open_link(request({})) == {}  # no model in the link: the page as it is
    odd = open_link(request({"model": "alice/names-1", "temperature": "hot"}))
    assert "temperature" not in odd and "was not used" in odd["status"]
    for repo, message in (
        ("alice/nowhere", "does not exist on the Hub"),
        ("no-slash", "not a valid Hub repo id"),
    ):
        with pytest.warns(UserWarning, match=message):  # gr.Warning outside a served page
            shown = open_link(request({"model": repo}))
        assert list(shown) == ["status"] and message in shown["status"] and shown["status"].count("\n") == 0
