"""The Sample tab's handlers: samples that match the package's sampler and stream in, the end of a
line, greedy sampling, memorised samples, the inspector, and clear errors."""

import gradio as gr
import pytest
from playground_helpers import generated, trained

from charlm.playground import common
from charlm.playground.sample_tab import explain, resample
from charlm.sampling import sample

pytest_plugins = ["playground_fixtures"]  # ws


def test_samples_match_the_package_sampler_and_stream_in(ws):
    updates = generated(ws, "ka", temperature=0.7, top_k=5)
    last = updates[-1]
    run, html = last["run"], last["samples"]
    expected = sample(ws.model, "ka", 3, seed=5, temperature=0.7, top_k=5, length=40)
    assert last["plain"].split("\n") == expected
    assert len(run.samples) == 3 and html.count('class="charlm-sample"') == 3
    assert last["sample_number"]["maximum"] == 3
    assert last["position"]["maximum"] == max(len(s) for s in run.samples) - 1
    assert "At position 0" in last["alternatives"]
    assert "temperature 0.7, top-k 5" in last["distribution"].data[1].name
    assert all(u["samples"] for u in updates)  # every update carries the samples so far


def test_lines_end_with_the_models_choice_to_end_them(ws):
    run = generated(ws, length=40)[-1]["run"]
    for tokens in run.samples:
        assert tokens[-1].char == "" and tokens[-1].id == 0 and all(t.char for t in tokens[:-1])
    shown = explain(run, True, 1, len(run.samples[0]) - 1, 1.0, 0, 1.0)
    assert "the end of the line" in shown["alternatives"]
    assert shown["distribution"].layout.annotations[0].x == "•"


def test_temperature_zero_is_greedy_and_repeatable(ws):
    a = generated(ws, temperature=0, seed=1)[-1]["plain"].split("\n")
    b = generated(ws, temperature=0, seed=2)[-1]["plain"].split("\n")
    assert a == b and len(set(a)) == 1


def test_samples_found_in_the_training_text_are_marked_memorised():
    text = "abc\nabc\nabc\nabc\n"
    ws = trained(text, model="bigram", steps=1, smoothing=0.0)[-1]["ws"]
    run = generated(ws, text=text, temperature=0)[-1]["run"]
    assert ["".join(t.char for t in s) for s in run.samples] == ["abc"] * 3
    assert run.memorised == [True, True, True]
    html = generated(ws, text=text, temperature=0)[-1]["samples"]
    assert html.count("memorised: it occurs verbatim") == 3


def test_bad_sampling_input_gives_clear_messages(ws):
    with pytest.raises(gr.Error, match="no model yet"):
        generated(None)
    with pytest.raises(gr.Error, match="not in the model's vocabulary: '&lt;', 'Z'"):
        generated(ws, "Z<")
    with pytest.raises(gr.Error, match="temperature must be"):
        generated(ws, temperature=2.5)
    with pytest.raises(gr.Error, match="top-p"):
        generated(ws, top_p=0)
    with pytest.raises(gr.Error, match="number of samples"):
        generated(ws, num_samples=0)
    with pytest.raises(gr.Error, match="not a valid checkpoint name"):
        generated(ws, source="../../etc")


def test_explain_redraws_the_chosen_position_at_the_new_temperature(ws):
    run = generated(ws, length=30)[-1]["run"]
    shown = explain(run, True, 2, 10_000, 0.5, 0, 1.0)
    position = len(run.samples[1]) - 1  # clamped to the sample
    assert f"At position {position}" in shown["alternatives"] and shown["samples"].count("outline:2px") == 1
    assert shown["distribution"].data[1].name == "sampled from (temperature 0.5)"
    # with no samples yet, nothing on the page changes
    assert explain(None, True, 1, 0, 1.0, 0, 1.0) == {}
    assert (
        common.by_name(explain, ["samples", "alternatives", "distribution"])(None, True, 1, 0, 1.0, 0, 1.0)
        == (gr.skip(),) * 3
    )
    assert list(resample(None, ws)) == [{}]
