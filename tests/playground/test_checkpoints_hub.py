"""The playground's Hub features against the FakeHub on 127.0.0.1: the Share section pushes and pulls
(handlers directly and through gradio_client), the Sample tab loads a repo id, the token never comes
back."""

import gradio as gr
import pytest
import torch
from gradio_client.exceptions import AppError
from hub_server import READ_TOKEN, WRITE_TOKEN, FakeHub, use_fake_hub
from huggingface_hub import HfApi
from playground_helpers import client, values

from charlm.checkpoint import load_checkpoint
from charlm.playground import settings
from charlm.playground.checkpoints_tab import pull_into_session, save, share
from charlm.playground.session import SESSION
from charlm.playground.train_tab import train
from charlm.sampling import sample

pytest_plugins = ["playground_fixtures"]  # served
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing")

NAMES = "amara\nbelen\ncorin\ndalia\nelio\nfarah\ngiles\nhana\nilan\njora\nkira\nlenna\nmilo\nnadia\n" * 3
REPO = "alice/names-mlp"


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    server = FakeHub().start()
    with pytest.MonkeyPatch.context() as mp:
        use_fake_hub(server, mp, tmp_path_factory.mktemp("hf"))
        yield server
    server.stop()


@pytest.fixture(scope="module")
def saved(hub, served):
    """A small trained MLP saved in the served app's checkpoints folder as 'names-mlp'."""
    args = (None, NAMES, "lines", "mlp", False, 20, 16, 1e-2, 3, *values())
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(settings, "CHECKPOINTS", served.checkpoints)
        ws = list(train(*args))[-1]["ws"]
        save(ws, "names-mlp", True)
    return served.checkpoints / "names-mlp"


def logits(model) -> torch.Tensor:
    return model.eval()(torch.arange(model.config.vocab_size)[None, :10])[0]


def test_share_pushes_and_pull_loads_into_the_session(hub, saved, monkeypatch):
    monkeypatch.setattr(settings, "CHECKPOINTS", saved.parent)
    shared = share("names-mlp", REPO, WRITE_TOKEN, False)
    note = shared["hub_status"]
    assert f"[{REPO}]({hub.url}/{REPO})" in note and WRITE_TOKEN not in note
    assert shared["link"] == f"http://127.0.0.1:7860/?model={REPO}"  # no request: the default address
    pulled = pull_into_session(REPO, "", "")
    assert "Loaded **alice/names-mlp**" in pulled["status"] and "pulled from the Hub" in pulled["session"]
    assert pulled["mode"] == "lines" and pulled["source"] == SESSION
    assert torch.equal(logits(pulled["ws"].model), logits(load_checkpoint(saved).model))


def test_share_errors_are_clear_and_never_show_the_token(hub, saved, monkeypatch):
    monkeypatch.setattr(settings, "CHECKPOINTS", saved.parent)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    cases = [
        (("names-mlp", REPO, "", False), "needs a Hugging Face token"),
        (("names-mlp", REPO, "hf_wrong", False), "rejected the token"),
        (("names-mlp", "alice/other", READ_TOKEN, False), "may not write"),
        (("", REPO, WRITE_TOKEN, False), "choose a saved checkpoint"),
        (("../x", REPO, WRITE_TOKEN, False), "not a valid checkpoint name"),
        (("names-mlp", "no-namespace", WRITE_TOKEN, False), "not a valid Hub repo id"),
    ]
    for args, message in cases:
        with pytest.raises(gr.Error, match=message) as error:
            share(*args)
        assert args[2] == "" or args[2] not in str(error.value)
    with pytest.raises(gr.Error, match="does not exist on the Hub"):
        pull_into_session("alice/never-pushed", "", "")
    with pytest.raises(gr.Error, match="revision 'v7' does not exist"):
        share("names-mlp", REPO, WRITE_TOKEN, False)
        pull_into_session(REPO, "v7", "")


def test_the_token_falls_back_to_the_environment(hub, saved, monkeypatch):
    monkeypatch.setattr(settings, "CHECKPOINTS", saved.parent)
    monkeypatch.setenv("HF_TOKEN", WRITE_TOKEN)
    assert "Pushed" in share("names-mlp", "alice/from-env", "", True)["hub_status"]
    assert HfApi(token=WRITE_TOKEN).model_info("alice/from-env").private


def test_push_and_pull_through_the_api(hub, saved, served):
    c = client(served)
    note, link = c.predict("names-mlp", "alice/via-api", WRITE_TOKEN, False, "Mine.", api_name="/push")
    assert "Pushed **names-mlp**" in note and WRITE_TOKEN not in note
    assert link == f"{served.url.rstrip('/')}/?model=alice/via-api"  # the address the page was served from
    with pytest.raises(AppError, match="rejected the token") as error:
        c.predict("names-mlp", "alice/via-api", "hf_secret_wrong", False, "", api_name="/push")
    assert "hf_secret_wrong" not in str(error.value)
    result = c.predict("alice/via-api", "", "", api_name="/pull")
    assert "Loaded **alice/via-api**" in result[0] and "pulled from the Hub" in result[1]
    samples = c.predict(SESSION, NAMES, "", 0, 0, 1.0, 20, 1, 1, False, api_name="/sample")[1]
    expected = sample(load_checkpoint(saved).model, "", 1, seed=1, temperature=0, length=20)
    assert samples == expected[0]
    with pytest.raises(AppError, match="not a charlm model"):
        hub.seed("bob/notes", {"README.md": b"notes"})
        c.predict("bob/notes", "", "", api_name="/pull")
