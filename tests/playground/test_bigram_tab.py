"""The Bigram table tab's handlers: the counted table of the Train tab's text, what follows a chosen
character, and a learned bigram's table beside the counted one."""

from collections import Counter

import gradio as gr
import pytest
from playground_helpers import TEXT, trained

from charlm.playground.bigram_tab import bigram_view, comparison_view

pytest_plugins = ["playground_fixtures"]  # ws


def test_bigram_view_draws_the_table_and_what_follows_a_chosen_character():
    shown = bigram_view(TEXT, "text", "counts", 10, "t")
    heatmap, dropdown, followers = shown["heatmap"], shown["char"], shown["followers"]
    assert heatmap.data[0].x[-1] == "(other)" and len(heatmap.data[0].x) == 11
    assert "␣" in dropdown["choices"] and dropdown["value"] == "t"
    after_t = Counter(b for a, b in zip(TEXT, TEXT[1:]) if a == "t").most_common(1)[0][0]
    assert followers.data[0].x[0] == {" ": "␣"}.get(after_t, after_t)
    dropdown = bigram_view(TEXT, "text", "probabilities", 200, "no such label")["char"]
    assert dropdown["value"] == "␣"  # the most frequent current character
    with pytest.raises(gr.Error, match="empty"):
        bigram_view("", "text", "counts", 10, None)


def test_comparison_appears_for_a_trained_neural_bigram_only(ws):
    shown = comparison_view(ws, 30, None)
    assert "neural bigram" in shown["note"] and shown["compare"]["visible"] is False
    neural = trained(model="neural-bigram", steps=30)[-1]["ws"]
    shown = comparison_view(neural, 30, "a")
    fig, bars = shown["compare"], shown["bars"]
    assert "nats per character" in shown["note"] and fig["visible"] and len(fig["value"].data) == 2
    assert [t.name for t in bars["value"].data] == [
        "counted in the training split",
        "learned by the neural bigram",
    ]


def test_what_follows_a_character_is_one_number_on_the_page():
    text = "".join(chr(c) for c in range(33, 100)) * 3 + "the cat sat on the mat\n" * 20
    shown = bigram_view(text, "text", "probabilities", 150, "t")
    heat, bars = shown["heatmap"].data[0], shown["followers"].data[0]
    assert len(heat.y) >= 60
    row = heat.customdata[list(heat.y).index("t")]
    in_table = {x: row[i][1] for i, x in enumerate(heat.x)}
    assert len(bars.x) > 1 and all(in_table[x] == pytest.approx(p) for x, p in zip(bars.x, bars.y))
    counted = sum(c[0] for c in row)
    assert f"({counted:,.0f} times in the text)" in shown["followers"].layout.title.text
