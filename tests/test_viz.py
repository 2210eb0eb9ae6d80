"""charlm.viz: the playground's figures and HTML, checked against counts and losses computed another way
(by hand, or by the package's own evaluate and sampler), and for escaping of untrusted text."""

import math
import re
import subprocess
import sys
from collections import Counter

import pytest
import torch
from conftest import own

from charlm import viz
from charlm.data import BOUNDARY, Corpus, Vocab, make_split, split_lines
from charlm.errors import CharlmError
from charlm.models import build_model, model_config
from charlm.sampling import Token, explain_token, next_distribution, stream
from charlm.train import Progress, TrainConfig, Trainer, evaluate

TEXT = "the cat sat on the mat.\nthe dog sat on the log!\n" * 4
LINES = "anna\nbob\ncarl\ndora\nanna\nedith\n"


def tiny(name: str, text: str = TEXT, mode: str = "text", steps: int = 0, **settings):
    corpus = Corpus.from_text(text, mode)
    torch.manual_seed(0)
    options = dict(block_size=8, n_embd=16, n_hidden=32, n_layer=1, n_head=2)
    model = build_model(
        model_config(name, chars=corpus.vocab.chars, mode=mode, **own(name, {**options, **settings}))
    )
    if steps:
        config = TrainConfig(
            steps=steps, batch_size=8, lr=1e-2, eval_interval=steps, eval_tokens=256, device="cpu"
        )
        for _ in Trainer(model, corpus, config).run():
            pass
    return model, corpus


def event(step: int, train: float, val: float | None = None, train_eval: float | None = None) -> Progress:
    return Progress(step, 100, 1e-3, train, 1000.0, step / 10, 1.0, val, train_eval)


# --- the bigram table --------------------------------------------------------------------------------


def test_text_bigram_counts_every_pair_like_a_counter():
    vocab, counts = viz.text_bigram(TEXT, "text")
    by_hand = Counter(zip(TEXT, TEXT[1:]))
    assert counts.sum() == len(TEXT) - 1
    for (a, b), n in by_hand.items():
        assert counts[vocab.stoi[a], vocab.stoi[b]] == n


def test_lines_mode_counts_line_starts_and_ends_at_the_boundary():
    vocab, counts = viz.text_bigram(LINES, "lines")
    lines = split_lines(LINES)
    assert counts.sum() == sum(len(line) + 1 for line in lines)
    starts, ends = Counter(line[0] for line in lines), Counter(line[-1] for line in lines)
    for c, n in starts.items():
        assert counts[0, vocab.stoi[c]] == n
    for c, n in ends.items():
        assert counts[vocab.stoi[c], 0] == n


def test_empty_text_is_refused_with_a_message():
    with pytest.raises(CharlmError, match="empty"):
        viz.text_bigram("  \n ", "text")


def test_labels_are_visible_and_unique_even_when_the_text_holds_the_symbols():
    vocab = Vocab.from_text("a b\tc␣•\n", "lines")
    names = viz.labels(vocab)
    assert names[0] == "•" and "␣" in names and "⇥" in names
    assert len(set(names)) == len(names) == vocab.size


def test_top_n_table_keeps_every_count_and_rows_still_sum_to_one():
    vocab, counts = viz.text_bigram(TEXT, "text")
    table = viz.bigram_table(vocab, counts, top_n=5)
    assert table.labels[-1] == viz.OTHER and len(table.labels) == 6
    assert table.counts.sum() == counts.sum()
    kept = viz.top_ids(counts, 5)
    assert torch.equal(table.counts[:5, :5], counts[kept][:, kept])
    occurring = table.counts.sum(1) > 0
    assert torch.allclose(table.probs.sum(1)[occurring], torch.ones(int(occurring.sum())))
    # the "other" reduction of row probabilities, weighted by row counts, is the same table
    reduced = viz.reduce_table(viz.row_probs(counts), counts.sum(1), kept)
    assert torch.allclose(reduced, table.probs, atol=1e-6)


def test_heatmap_hover_carries_counts_and_probabilities_and_escapes_labels():
    text = "a<b & a>b <script> a&b\n" * 3
    vocab, counts = viz.text_bigram(text, "text")
    table = viz.bigram_table(vocab, counts)
    fig = viz.bigram_heatmap(table, "counts")
    heat = fig.data[0]
    assert "&lt;" in heat.x and "<" not in heat.x and "&amp;" in heat.y
    i, j = vocab.stoi["<"], vocab.stoi["s"]
    assert heat.customdata[i][j][0] == counts[i, j] == 3  # "<s" once in each of three copies
    assert heat.customdata[i][j][1] == pytest.approx(float(counts[i, j] / counts[i].sum()))
    assert fig.layout.xaxis.type == "category"
    with pytest.raises(CharlmError, match="probabilities"):
        viz.bigram_heatmap(table, "logits")


def test_follower_bars_are_the_row_of_the_table_most_likely_first():
    vocab, counts = viz.text_bigram(TEXT, "text")
    t = vocab.stoi["t"]
    fig = viz.follower_bars(vocab, counts, t)
    probs = fig.data[0].y
    assert list(probs) == sorted(probs, reverse=True) and min(probs) > 0  # only what does follow
    assert sum(probs) == pytest.approx(1.0)
    assert len(probs) == len({b for a, b in zip(TEXT, TEXT[1:]) if a == "t"})
    assert probs[0] == pytest.approx(float(counts[t].max() / counts[t].sum()))  # "h" after "t"
    assert fig.data[0].x[0] == "h"


def test_learned_table_gap_is_the_extra_loss_over_the_counts():
    """KL(counted || learned), weighted by row frequency, is the learned model's loss on the text
    minus the entropy of the counted pairs, which is computed here by hand."""
    model, corpus = tiny("neural-bigram")
    with torch.no_grad():
        model.table.normal_()
    split = corpus.train
    vocab = corpus.vocab
    counts = viz.bigram_model(split, vocab).counts
    pairs = Counter(zip(split.tokens[:-1].tolist(), split.tokens[1:].tolist()))
    rows = Counter(split.tokens[:-1].tolist())
    entropy = -sum(n * math.log(n / rows[a]) for (a, _), n in pairs.items()) / sum(pairs.values())
    gap = viz.compare_bigrams(counts, viz.learned_table(model))
    assert gap["kl"] == pytest.approx(evaluate(model, split) - entropy, rel=1e-4)
    # a learned table equal to the counted one has no gap
    with torch.no_grad():
        model.table.copy_(viz.row_probs(counts).clamp(min=1e-12).log())
    same = viz.compare_bigrams(counts, viz.learned_table(model))
    assert same["kl"] == pytest.approx(0.0, abs=1e-5) and same["max_diff"] < 1e-5


def test_bigram_comparison_draws_both_tables_on_the_same_characters():
    model, corpus = tiny("neural-bigram", steps=5)
    counts = viz.bigram_model(corpus.train, corpus.vocab).counts
    fig, summary = viz.bigram_comparison(corpus.vocab, counts, viz.learned_table(model), top_n=6)
    assert len(fig.data) == 2 and list(fig.data[0].x) == list(fig.data[1].x)
    assert len(fig.data[0].x) == 7  # six characters and "other"
    kl = viz.compare_bigrams(counts, viz.learned_table(model))["kl"]
    assert f"{kl:.4f}" in summary


# --- training ------------------------------------------------------------------------------------------


def test_baselines_are_ln_v_and_the_count_bigram_on_validation():
    corpus = Corpus.from_text(TEXT, "text")
    refs = viz.baselines(corpus)
    assert refs["uniform guess"] == pytest.approx(math.log(corpus.vocab.size))
    # add-one smoothed counts of the training split, scored by hand on every validation pair
    V = corpus.vocab.size
    counts = Counter(zip(corpus.train.tokens[:-1].tolist(), corpus.train.tokens[1:].tolist()))
    rows = Counter(corpus.train.tokens[:-1].tolist())
    val = corpus.val.tokens.tolist()
    nll = [-math.log((counts[(a, b)] + 1) / (rows[a] + V)) for a, b in zip(val, val[1:])]
    assert refs["count bigram"] == pytest.approx(sum(nll) / len(nll), rel=1e-5)


def test_downsample_keeps_short_series_and_bounds_long_ones():
    xs, ys = list(range(10)), [float(i * i) for i in range(10)]
    assert viz.downsample(xs, ys, 20) == (xs, ys)
    xs, ys = list(range(10_000)), [math.sin(i / 100) for i in range(10_000)]
    dx, dy = viz.downsample(xs, ys, 300)
    assert len(dx) == len(dy) == 300
    assert dx == sorted(dx) and dx[0] >= 0 and dx[-1] <= 9999
    assert sum(dy) / 300 == pytest.approx(sum(ys) / len(ys), abs=1e-3)  # buckets of (almost) equal size


def test_loss_figure_plots_history_and_reference_lines_with_bounded_points():
    history = [
        event(s, 3.0 - s / 5000, *((2.5, 2.4) if s % 1000 == 0 else (None, None))) for s in range(1, 8001)
    ]
    fig = viz.loss_figure(history, {"uniform guess": 3.3, "count bigram": 2.6}, max_points=200)
    by_name = {trace.name: trace for trace in fig.data}
    assert len(by_name["train (each batch)"].x) == 200
    assert list(by_name["validation"].x) == [1000 * k for k in range(1, 9)]
    assert set(by_name["train"].y) == {2.4}
    assert sorted(shape.y0 for shape in fig.layout.shapes) == [2.6, 3.3]


def test_loss_figure_draws_a_band_of_two_standard_errors_around_the_evaluations():
    history = [
        Progress(
            s, 300, 1e-3, 2.5, 1000.0, 1.0, 1.0, 3.0 - s / 1000, 2.9 - s / 1000, False, 0.01 * s / 100, 0.02
        )
        for s in (100, 200, 300)
    ]
    traces = list(viz.loss_figure(history).data)
    names = [t.name for t in traces]
    for name, err in (("validation", lambda e: e.val_loss_err), ("train", lambda e: e.train_eval_loss_err)):
        band = traces[names.index(f"{name} ± 2 standard errors")]
        curve = traces[names.index(name)]
        assert names.index(f"{name} ± 2 standard errors") < names.index(name)  # drawn under its curve
        assert band.fill == "toself" and list(band.x) == [100, 200, 300, 300, 200, 100]
        upper = [y + 2 * err(e) for y, e in zip(curve.y, history)]
        lower = [y - 2 * err(e) for y, e in zip(curve.y, history)]
        assert list(band.y) == pytest.approx(upper + lower[::-1])
    # a history without errors (saved before estimates had them) draws the curves alone
    plain = [event(s, 2.5, 2.0, 1.9) for s in (100, 200)]
    assert [t.name for t in viz.loss_figure(plain).data] == ["train (each batch)", "train", "validation"]


def test_progress_html_shows_step_speed_and_time_left():
    html = viz.progress_html(Progress(250, 1000, 1e-3, 2.0, 12345.6, 30.0, 90.0))
    assert "step 250 / 1,000" in html and "12,346 tokens/s" in html and "about 1 min 30 s left" in html
    assert "width:25.0%" in html
    assert "&lt;b&gt;" in viz.progress_html(None, "<b>")


def test_metrics_markdown_converts_nats_to_bits_and_perplexity():
    md = viz.metrics_markdown({"validation": 2.0}, {"uniform guess": math.log(27)})
    assert f"| validation | 2.0000 | {2 / math.log(2):.4f} | {math.exp(2):.2f} |" in md
    assert "| *uniform guess* | 3.2958 | 4.7549 | 27.00 |" in md


def test_warnings_for_a_model_far_bigger_than_its_text_and_for_overfitting():
    assert viz.training_warnings(1000, 500) == []
    assert "parameters" in viz.training_warnings(100_000, 500)[0]
    falling = [event(s, 2.0, 3.0 - s / 1000, 2.9 - s / 1000) for s in (100, 200, 300, 400)]
    assert viz.training_warnings(10, 500, falling) == []
    rising = falling + [event(500, 1.0, 2.9, 2.0), event(600, 0.9, 3.0, 1.8)]
    (warning,) = viz.training_warnings(10, 500, rising)
    assert "Overfitting" in warning and "2.600 (step 400)" in warning


def test_a_rise_within_the_noise_is_not_called_overfitting():
    def noisy(step: int, val: float, train: float, err: float) -> Progress:
        return Progress(step, 600, 1e-3, train, 1000.0, 1.0, 1.0, val, train, False, err, err / 2)

    def history(err: float) -> list[Progress]:
        vals = [2.8, 2.7, 2.6, 2.65, 2.7]  # a rise of 0.1 after step 300, training still falling
        return [noisy(100 * (i + 1), v, 2.5 - 0.1 * i, err) for i, v in enumerate(vals)]

    assert viz.training_warnings(10, 500, history(err=0.04)) == []  # 0.1 < 2 * hypot(0.04, 0.04)
    (warning,) = viz.training_warnings(10, 500, history(err=0.01))
    assert "Overfitting" in warning and "2.600 (step 300)" in warning
    assert viz.training_warnings(10, 500, history(err=0.01), kept_step=300) == []  # keep-best kept step 300
    assert len(viz.training_warnings(10, 500, history(err=0.01), kept_step=500)) == 1  # the last: overfit


# --- sampling ------------------------------------------------------------------------------------------


def full_pass_logits(model, context: str) -> torch.Tensor:
    """The logits after `context` from one full forward pass over it (the slow way, as an oracle)."""
    vocab = model.config.vocab
    ids = ([BOUNDARY] if vocab.boundary else []) + vocab.encode(context)
    model.eval()
    with torch.no_grad():
        logits, _ = model(torch.tensor([ids]))
    return logits[0, -1]


@pytest.mark.parametrize(
    ("name", "mode", "text"),
    [
        ("mlp", "text", TEXT),
        ("lstm", "text", TEXT),
        ("transformer", "lines", LINES),
        ("bigram", "text", TEXT),
    ],
)
def test_each_token_carries_the_logits_the_sampler_drew_from(name, mode, text):
    """The inspector draws what `stream` saw: each Token's logits equal a full forward pass over its
    context, and explaining the token again from them reproduces what `stream` reported."""
    model, corpus = tiny(name, text, mode, steps=3)
    if name == "bigram":
        model.fit(corpus.train)
    prompt = "the" if mode == "text" else "a"
    tokens = list(stream(model, prompt, temperature=0.8, top_k=4, length=6, seed=1, alternatives=3))
    for i, token in enumerate(tokens):
        context = prompt + "".join(t.char for t in tokens[:i])
        assert token.logits == pytest.approx(full_pass_logits(model, context), abs=1e-5)
        used = next_distribution(token.logits, 0.8, 4)
        again = explain_token(model.config.vocab, token.id, token.logits, used, alternatives=3)
        assert (again.char, again.prob, again.sampled_prob) == (token.char, token.prob, token.sampled_prob)
        assert again.alternatives == token.alternatives


def test_the_sampler_yields_the_end_of_a_line_and_the_page_explains_it():
    model, _ = tiny("neural-bigram", LINES, "lines")
    with torch.no_grad():
        model.table.zero_()
        model.table[:, BOUNDARY] = 5.0  # every character is most likely followed by the end of the line
    (end,) = stream(model, "ann", temperature=0, length=10)  # the end, and nothing after it
    assert (
        end.id == BOUNDARY
        and end.char == ""
        and end.prob
        == pytest.approx(
            float(torch.softmax(model.table.detach()[model.config.vocab.encode("n")[0]], -1)[BOUNDARY])
        )
    )
    assert "the end of the line" in viz.alternatives_html(end, 3)
    assert viz.sample_html("ann", [end], colour=False, highlight=0).endswith("•</span></div></div>")
    assert "•" not in viz.sample_html("ann", [end], colour=False)


def test_distribution_figure_shows_the_filtered_distribution_beside_the_raw_one():
    model, _ = tiny("mlp", steps=3)
    logits = full_pass_logits(model, "the c")
    vocab = model.config.vocab
    fig = viz.distribution_figure(vocab, logits, "the c", temperature=0.5, top_k=3, n=50)
    raw, used = fig.data
    assert sum(raw.y) == pytest.approx(1.0, abs=1e-5)
    assert sum(1 for p in used.y if p > 0) == 3 and sum(used.y) == pytest.approx(1.0)
    expected = next_distribution(logits, 0.5, 3)
    order = torch.argsort(torch.softmax(logits, -1), descending=True).tolist()
    assert list(used.y) == pytest.approx(expected[order].tolist())
    greedy = viz.distribution_figure(vocab, logits, "the c", temperature=0)
    assert sorted(greedy.data[1].y)[-2:] == [0.0, 1.0]
    (unfiltered,) = viz.distribution_figure(vocab, logits, "the c", temperature=1.0, top_p=1.0, n=50).data
    assert unfiltered.name == "the model, sampled from as it is (temperature 1)"
    assert viz.distribution_figure(vocab, logits, "the c", temperature=1.0).layout.showlegend  # named
    assert list(unfiltered.y) == list(raw.y)


def test_sample_html_escapes_every_character_and_marks_the_chosen_position():
    tokens = [Token(i, c, p, p) for i, (c, p) in enumerate(zip('<img src=x onerror="x">&\n', [0.5] * 26))]
    out = viz.sample_html("<b>", tokens, colour=True, highlight=2, memorised=True, title="<i>")
    assert "<img" not in out and "<b>" not in out and "<i>" not in out
    assert ">&lt;</span>" in out and "&lt;b&gt;" in out and ">&amp;</span>" in out and ">&quot;</span>" in out
    assert out.count('title="#') == len(tokens)  # one span per character, with its probability
    assert out.count("outline:2px") == 1 and "memorised" in out
    plain = viz.sample_html("", tokens, colour=False, number=2)
    text = re.sub(r"<[^>]*>", "", plain.split("</div>", 1)[1])  # the characters, without their spans
    assert text == "&lt;img src=x onerror=&quot;x&quot;&gt;&amp;\n" and "background" not in plain
    # each character names its position, inside a sample that names its number: what a click sends
    assert re.findall(r'data-pos="(\d+)"', plain) == [str(i) for i in range(len(tokens))]
    assert 'data-sample="2"' in plain and "data-sample" not in out


def test_colours_run_from_red_for_surprises_to_green():
    assert viz.prob_color(0.001) == viz.prob_color(0.01) == "hsl(0, 75%, 80%)"
    assert viz.prob_color(0.1) == "hsl(60, 75%, 80%)" and viz.prob_color(1.0) == "hsl(120, 75%, 80%)"


def test_alternatives_html_lists_the_top_choices_escaped():
    token = Token(3, "<", 0.25, 0.5, [("a", 0.5), ("<", 0.25), ("&", 0.1)])
    out = viz.alternatives_html(token, 7)
    assert "position 7" in out and "<b style" in out and out.count("<tr>") == 3
    assert "&lt;" in out and "&amp;" in out and "0.250" in out


def test_memorised_samples_are_whole_lines_or_long_verbatim_stretches():
    assert viz.is_memorised("anna", LINES, "lines") and not viz.is_memorised("ann", LINES, "lines")
    assert viz.is_memorised("the cat sat on the mat.\nthe", TEXT, "text")
    assert not viz.is_memorised("the cat", TEXT, "text")  # short stretches occur by chance
    assert not viz.is_memorised("the cat sat on the log!!", TEXT, "text")


# --- corpus and checkpoints ----------------------------------------------------------------------------


def test_corpus_summary_reports_the_corpus_numbers():
    corpus = Corpus.from_text(LINES * 3, "lines")
    md = viz.corpus_summary(corpus)
    text = LINES * 3
    vocab_size = len(set(text) - {"\n"}) + 1  # and the boundary
    assert f"**{len(text)}** characters" in md and f"vocabulary of **{vocab_size}**" in md
    assert f"**{text.count(chr(10))}** lines" in md
    assert f"trains on {len(corpus.train.tokens)} tokens, validates on {len(corpus.val.tokens)}" in md


def test_checkpoint_rows_format_sizes_losses_and_dates():
    rows = [
        {
            "name": "a",
            "model": "mlp",
            "params": 12345,
            "val_loss": 2.0,
            "steps": 10,
            "saved": "2024-01-02T03:04:05",
        },
        {"name": "b", "model": "bigram", "params": None, "val_loss": None, "steps": None, "saved": "x"},
    ]
    assert viz.checkpoint_rows(rows) == [
        ["a", "mlp", "12.3K", "2.0000", 10, "2024-01-02 03:04:05"],
        ["b", "bigram", "?", "-", "-", "x"],
    ]


def test_make_split_and_bigram_model_agree_with_counts_of_the_split():
    vocab = Vocab.from_text(TEXT)
    split = make_split(TEXT, vocab)
    assert torch.equal(viz.bigram_model(TEXT, vocab).counts, viz.bigram_model(split, vocab).counts)


def test_viz_does_not_import_gradio():
    code = "import sys, charlm.viz; sys.exit('gradio' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


def test_heatmap_colours_are_log_probabilities_and_stay_readable_at_60_characters():
    text = "".join(chr(c) for c in range(33, 100)) * 3 + "aab" * 50  # 67 characters, some pairs common
    vocab, counts = viz.text_bigram(text, "text")
    table = viz.bigram_table(vocab, counts)
    assert len(table.labels) >= 60
    heat = viz.bigram_heatmap(table).data[0]
    for i, j in [(vocab.stoi["a"], vocab.stoi["a"]), (vocab.stoi["!"], vocab.stoi['"'])]:
        assert heat.z[i][j] == pytest.approx(math.log10(float(table.probs[i, j])))
        assert heat.customdata[i][j][1] == pytest.approx(float(table.probs[i, j]))  # hover: plain P
    assert heat.z[vocab.stoi["a"]][vocab.stoi["!"]] is None  # never seen: blank, not the palest blue
    assert (heat.zmin, heat.zmax) == (-3, 0) and list(heat.colorbar.ticktext) == ["0.001", "0.01", "0.1", "1"]
    shown = viz.bigram_heatmap(table, "counts").data[0]
    assert shown.z[vocab.stoi["a"]][vocab.stoi["a"]] == pytest.approx(
        math.log10(float(counts[vocab.stoi["a"], vocab.stoi["a"]]))
    )
    assert shown.colorbar.ticktext[0] == "1" and shown.zmin == 0
    big = viz.bigram_heatmap(table).layout.xaxis.tickfont.size
    small = viz.bigram_heatmap(viz.bigram_table(vocab, counts, 20)).layout.xaxis.tickfont.size
    assert small == 11 and big < small and viz.label_size(200) == 6


def test_small_heatmaps_never_show_a_zero_for_a_pair_that_occurs():
    text = "ab" * 500 + "ac"  # c follows a once in 501 times
    vocab, counts = viz.text_bigram(text, "text")
    heat = viz.bigram_heatmap(viz.bigram_table(vocab, counts)).data[0]
    a, b, c = (vocab.stoi[x] for x in "abc")
    assert heat.text[a][c] == "<.01" and heat.text[a][b] == "1.00" and heat.text[b][c] == ""
