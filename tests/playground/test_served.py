"""The running playground driven through gradio_client by its public API names: train, sample, save,
load, delete, compare and check gradients, draw the computation graph, clear errors for bad input, and stopping a training."""

import json

import httpx
import pytest
from gradio_client.exceptions import AppError
from playground_helpers import NAMES, client, sample_api, train_api, values

from charlm.checkpoint import load_checkpoint
from charlm.playground.session import TRAINING
from charlm.sampling import sample

pytest_plugins = ["playground_fixtures"]  # served, wait_for
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing")  # Gradio's pandas


def test_the_api_names_the_playgrounds_actions(served):
    named = client(served).view_api(print_info=False, return_format="dict")["named_endpoints"]
    for name in ("/train", "/stop", "/sample", "/bigram", "/upload", "/save", "/load", "/delete"):
        assert name in named
    assert {"/compare", "/stop_compare", "/gradient_check", "/graph", "/push", "/pull"} <= set(named)


def test_the_api_page_names_the_outputs_and_shows_short_examples(served):
    """What the "Use via API" page shows, as the served app gives it: no output called value_123, and no
    parameter whose default or example is a whole text (the Train tab's example arrives with the page)."""
    info = httpx.get(served.url.rstrip("/") + "/gradio_api/info").json()["named_endpoints"]
    documented = list(info)  # every endpoint of every tab
    assert {"/train", "/sample", "/compare", "/graph", "/attention", "/lesson"} <= set(documented)
    for name in documented:
        unnamed = [r["component"] for r in info[name]["returns"] if r["label"].startswith("value_")]
        assert unnamed == [], f"{name} has unnamed outputs: {unnamed}"
        unnamed = [
            p["parameter_name"] for p in info[name]["parameters"] if p["parameter_name"].startswith("param")
        ]
        assert unnamed == [], f"{name} has unnamed inputs: {unnamed}"
    assert [r["label"] for r in info["/save"]["returns"]][:2] == ["Save status", "This session's model"]
    for name, endpoint in info.items():
        for p in endpoint["parameters"]:
            shown = json.dumps(p["parameter_default"]), json.dumps(p["example_input"])
            assert max(map(len, shown)) < 300, f"{name}'s {p['parameter_name']}: {shown[0][:80]}…"
    text = next(p for p in info["/train"]["parameters"] if p["parameter_name"] == "text")
    assert text["parameter_default"] is None and len(text["example_input"]) < 20


def test_train_sample_save_and_reload_through_the_api(served):
    alice = client(served)
    session, progress, loss, live, metrics, warnings = train_api(alice)
    assert "step 30 / 30" in progress and "| validation |" in metrics and "MLP (mlp)" in session
    samples = sample_api(alice)[1].split("\n")
    assert len(samples) == 3
    note = alice.predict("alice-mlp", False, api_name="/save")[0]
    assert "Saved **alice-mlp**" in note and (served.checkpoints / "alice-mlp" / "config.json").is_file()
    model = load_checkpoint(served.checkpoints / "alice-mlp").model
    assert samples == sample(model, "", 3, seed=5, length=30)
    # another session sees the checkpoint but not alice's model, and reproduces her samples from it
    bob = client(served)
    with pytest.raises(AppError, match="no model yet"):
        sample_api(bob)
    assert sample_api(bob, source="alice-mlp")[1].split("\n") == samples
    bob.predict("alice-mlp", api_name="/load")
    assert sample_api(bob)[1].split("\n") == samples
    one = sample_api(bob, num_samples=1, length=1)  # the inspector's sliders still fit a single character
    assert one[2]["maximum"] == 1 and one[3]["maximum"] == 1
    table = bob.predict(api_name="/list_checkpoints")[0]["value"]
    assert table["data"][0][:2] == ["alice-mlp", "mlp"]
    bob.predict("alice-mlp", api_name="/delete")
    assert not (served.checkpoints / "alice-mlp").exists()


def test_bad_input_through_the_api_gives_clear_errors(served):
    c = client(served)
    with pytest.raises(AppError, match="the text is empty"):
        train_api(c, text="   ")
    with pytest.raises(AppError, match="greater than maximum value 512"):  # Gradio checks the slider's range
        train_api(c, model="transformer", n_embd=100_000)
    with pytest.raises(AppError, match=r"n_embd \(24\) must be a multiple of n_head \(5\)"):
        train_api(c, model="transformer", n_embd=24, n_head=5)
    with pytest.raises(AppError, match="not a valid checkpoint name"):
        c.predict("../../outside", True, api_name="/save")
    with pytest.raises(AppError, match="no model to save"):
        c.predict("fine-name", False, api_name="/save")
    assert (
        not (served.checkpoints / "fine-name").exists()
        and not (served.checkpoints.parent / "outside").exists()
    )


def test_stop_ends_training_with_final_metrics_and_keeps_the_model(served, wait_for):
    c = client(served)
    job = c.submit(NAMES, "lines", "mlp", False, 20_000, 16, 1e-2, 3, *values(), api_name="/train")
    wait_for(lambda: any("left" in out[1] for out in job.outputs()), what="training to take steps")
    c.predict(api_name="/stop")
    session, progress, loss, live, metrics, warnings = job.result(timeout=60)
    step = int(progress.split("step ")[1].split(" /")[0].replace(",", ""))
    assert 0 < step < 20_000 and "stopped: the model is kept as trained so far" in progress
    assert "| validation |" in metrics and f"{step:,} steps" in session
    assert TRAINING.count == 0
    assert len(sample_api(c)[1].split("\n")) == 3


def test_cancelling_the_event_ends_training_and_keeps_the_model(served, wait_for):
    c = client(served)
    job = c.submit(NAMES, "lines", "mlp", False, 20_000, 16, 1e-2, 3, *values(), api_name="/train")
    wait_for(lambda: any("left" in out[1] for out in job.outputs()), what="training to take steps")
    job.cancel()
    wait_for(lambda: TRAINING.count == 0, what="training to end after the cancel")
    assert len(sample_api(c)[1].split("\n")) == 3  # the session kept the model as trained so far


def test_compare_and_gradient_check_through_the_api(served):
    c = client(served)
    progress, figure, results = c.predict(
        NAMES, "lines", "numpy-mlp", 10, 8, 3, 0.5, 3e-3, 3, 8, 32, api_name="/compare"
    )
    assert "step 10 / 10" in progress and "| 0.5 | 10 |" in results and "| 0.003 | 10 |" in results
    html = c.predict(NAMES, "lines", "numpy-bigram", 4, 0, api_name="/gradient_check")
    assert "✓" in html and "✗" not in html


def test_the_graph_and_value_mlps_gradient_check_through_the_api(served):
    c = client(served)
    html = c.predict("abcde", "ab", "c", 2, 2, 4, 0, api_name="/graph")
    assert html.count("<svg") == 1 and "<title>out = a · b" in html and "scalar Values" in html
    big = c.predict("abcdefghij", "abc", "d", 8, 16, 64, 0, api_name="/graph")
    assert "<svg" not in big and 'id="graph-counts"' in big
    with pytest.raises(AppError, match="exactly one character"):
        c.predict("abcde", "ab", "cd", 2, 2, 4, 0, api_name="/graph")
    html = c.predict(NAMES, "lines", "value-mlp", 2, 0, api_name="/gradient_check")
    assert "A fresh value-mlp (block_size 3, n_embd 8, n_hidden 16)" in html
    assert html.count("✓") == 7 and "✗" not in html
