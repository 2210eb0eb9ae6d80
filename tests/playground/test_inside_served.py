"""The Look inside tab of the running playground through gradio_client: each API name draws its figure or
text for a transformer trained through /train in the same client's session, a text with characters the
model does not know gets a message naming them, and a second session without a model is told so."""

import json

import pytest
from gradio_client.exceptions import AppError
from playground_helpers import NAMES, client, train_api

from charlm.playground.session import SESSION

pytest_plugins = ["playground_fixtures"]  # served
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing")  # Gradio's pandas

TINY = dict(block_size=16, n_embd=16, n_head=2, n_layer=2, dropout=0.0)


def traces(plot: dict) -> list[dict]:
    """The traces of a gr.Plot output as the client receives it (plotly's JSON)."""
    return json.loads(plot["plot"])["data"]


@pytest.fixture(scope="module")
def session(served):
    """A client whose session has trained a tiny transformer through /train."""
    c = client(served)
    described = train_api(c, model="transformer", steps=40, **TINY)[0]
    assert "Transformer (transformer)" in described
    return c


def test_every_view_draws_for_the_model_trained_in_the_session(session):
    heatmap, grid, note, chars, query, text = session.predict(SESSION, "", 1, 1, 3, api_name="/attention")
    assert [t["type"] for t in traces(heatmap)] == ["heatmap"]
    assert [t["type"] for t in traces(grid)] == ["heatmap"] * 4  # 2 layers x 2 heads
    assert text == NAMES[:14] and query == 3 and chars.count("data-w=") == 4  # the query and 3 before it
    figure, note = session.predict(SESSION, api_name="/embeddings")
    assert json.loads(figure["plot"])["frames"] and "snapshots" in note
    ranking, coloured, layer, unit, text = session.predict(SESSION, "", "vowel", 1, api_name="/neurons")
    assert traces(ranking)[0]["type"] == "bar" and "<span" in coloured and layer["value"] in str(coloured)
    chosen = session.predict(SESSION, "amara", layer["value"], 7, api_name="/neuron")
    assert "unit 7" in chosen and chosen.count("<span") == 7  # •amara• coloured by unit 7
    bits = session.predict(SESSION, "", "(none)", api_name="/surprisal")
    assert "bits per character" in bits
    dynamics = session.predict(api_name="/dynamics")
    assert {t["type"] for t in traces(dynamics)} == {"scatter"} and len(traces(dynamics)) > 3


def test_a_comparison_with_a_saved_checkpoint_names_both(session):
    session.predict("inside-served", True, api_name="/save")
    html = session.predict(SESSION, "amara\nbelen", "inside-served", api_name="/surprisal")
    assert (
        "this session&#x27;s model (transformer)" in html and "checkpoint inside-served (transformer)" in html
    )
    assert "better on 0 characters; " in html  # the same weights: neither model predicts any better


@pytest.mark.parametrize(
    "api, args",
    [
        ("/attention", (SESSION, "amaraZ", 0, 0, None)),
        ("/neurons", (SESSION, "amaraZ", "vowel", 1)),
        ("/neuron", (SESSION, "amaraZ", "", 0)),
        ("/surprisal", (SESSION, "amaraZ", "(none)")),
    ],
)
def test_a_text_the_model_cannot_read_gets_a_clear_message(session, api, args):
    with pytest.raises(AppError, match="'Z'"):
        session.predict(*args, api_name=api)


def test_a_session_without_a_model_is_told_so(served):
    fresh = client(served)
    with pytest.raises(AppError, match="no model yet"):
        fresh.predict(SESSION, api_name="/embeddings")
    with pytest.raises(AppError, match="no training dynamics"):
        fresh.predict(api_name="/dynamics")
