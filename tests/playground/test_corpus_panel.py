"""The Train tab's "Load from the Hub" panel, its handlers called directly against the FakeHub: a dataset
file into the text box, no token sent, the size cap, and presets that fail offline in one line."""

import gradio as gr
import pytest
from hub_server import READ_TOKEN, set_offline
from playground_helpers import TEXT

from charlm.corpora import PRESETS, parse_source
from charlm.playground import settings
from charlm.playground.corpus_panel import OWN, load_corpus, preset_source


@pytest.fixture
def hub(hub):  # conftest's FakeHub, with two dataset repos
    server = hub
    server.seed("alice/verses", {"verses.txt": TEXT.encode()}, repo_type="dataset")
    server.seed("alice/secret", {"verses.txt": TEXT.encode()}, repo_type="dataset", private=True)
    return server


def error_line(excinfo) -> str:
    assert isinstance(excinfo.value, gr.Error) and "\n" not in excinfo.value.message
    return excinfo.value.message


def test_a_hub_file_fills_the_text_box_and_the_cap_holds(hub, monkeypatch):
    assert load_corpus("hf://datasets/alice/verses/verses.txt") == TEXT
    monkeypatch.setattr(settings, "MAX_CHARS", 100)
    with pytest.raises(gr.Error) as e:
        load_corpus("hf://datasets/alice/verses/verses.txt")
    assert "MB" in error_line(e) or "characters" in error_line(e)


def test_the_app_sends_no_token_even_when_the_host_has_one(hub, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", READ_TOKEN)  # the Space owner's, who owns alice/secret
    with pytest.raises(gr.Error) as e:
        load_corpus("hf://datasets/alice/secret/verses.txt")
    assert "no such dataset repo" in error_line(e) and READ_TOKEN not in error_line(e)
    with pytest.raises(gr.Error, match="give an address"):
        load_corpus("  ")


def test_every_preset_parses_and_fails_offline_in_one_line(hub, monkeypatch):
    """The presets cannot be checked to exist from a machine without internet; what they must do is
    name a real-looking address and, when they cannot be fetched, say so in one line."""
    assert preset_source(OWN) == ""
    set_offline(monkeypatch)
    for name, source in PRESETS.items():
        assert preset_source(name) == source and parse_source(source)
        with pytest.raises(gr.Error) as e:
            load_corpus(source)
        assert "offline" in error_line(e), name
