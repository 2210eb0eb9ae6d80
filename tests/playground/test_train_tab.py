"""The playground's handlers called directly, then the running app driven through gradio_client by
its public API names: train, sample, save, load, delete, and clear errors for bad input."""

import logging
from collections import Counter
from types import SimpleNamespace

import gradio as gr
import pytest
import torch
from gradio_client import Client
from gradio_client.exceptions import AppError

import app
from charlm.checkpoint import load_checkpoint, save_checkpoint
from charlm.data import Corpus
from charlm.errors import CharlmError
from charlm.models import build_model, model_config
from charlm.sampling import sample
from charlm.train import TrainConfig, new_trainer

pytest_plugins = ["app_fixtures"]  # served, wait_for
pytestmark = pytest.mark.filterwarnings(
    "ignore::DeprecationWarning:gradio.queueing"
)  # Gradio's use of pandas

NAMES = (  # one item per line, enough for every rung to learn something in a few dozen steps
    "amara\nbelen\ncorin\ndalia\nelio\nfarah\ngiles\nhana\nilan\njora\nkira\nlenna\nmilo\nnadia\noren\n"
    "pia\nquin\nrosa\nsamir\ntalia\numa\nvera\nwren\nxena\nyara\nzane\naria\nboris\ncleo\ndorian\n"
) * 3

TEXT = "the cat sat on the mat. the dog sat on the log. a cat and a dog met on a mat.\n" * 6
MLP = dict(block_size=3, n_embd=8, n_hidden=32, n_layer=1, n_head=1, dropout=0.0, smoothing=1.0)


def settings(**overrides) -> list:
    """The seven model-setting sliders, in the order the app passes them."""
    return [overrides.get(key, MLP[key]) for key in app.SETTINGS]


def trained(
    text=NAMES,
    mode="lines",
    model="mlp",
    steps=20,
    ws=None,
    continue_training=False,
    request=None,
    **overrides,
):
    """Run the train handler to the end; returns every update it yielded."""
    args = (ws, text, mode, model, continue_training, steps, 16, 1e-2, 3, *settings(**overrides))
    return list(app.train(*args, request=request))


def params(model) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


@pytest.fixture
def checkpoints(tmp_path, monkeypatch):
    root = tmp_path / "checkpoints"
    monkeypatch.setattr(app, "CHECKPOINTS", root)
    return root


@pytest.fixture(scope="module")
def ws():
    """A session with a small MLP trained on names."""
    return trained()[-1][0]


# --- Train tab -----------------------------------------------------------------------------------------


def test_the_example_text_is_the_projects_own_and_trains_in_its_mode():
    for name, (path, mode) in app.EXAMPLES.items():
        text, got_mode = app.load_example(name)
        assert path.parent.name == "examples" and got_mode == mode and 2_000 < len(text) < 8_000
        corpus_md, params_md = app.describe(
            text, mode, app.DEFAULT_MODEL, *settings(**app.DEFAULTS[app.DEFAULT_MODEL])
        )
        assert "⚠️" not in corpus_md + params_md and "parameters**" in params_md
    with pytest.raises(CharlmError, match="unknown example"):
        app.load_example("../etc/passwd")


def test_describe_counts_the_corpus_and_the_parameters_before_training():
    corpus_md, params_md = app.describe(NAMES, "lines", "mlp", *settings())
    assert f"**{len(NAMES):,}** characters" in corpus_md and "**90** lines" in corpus_md
    vocab_chars = "".join(sorted(set(NAMES) - {"\n"}))
    model = build_model(model_config("mlp", chars=vocab_chars, mode="lines", **MLP))
    train_chars = len(Corpus.from_text(NAMES, "lines").train.tokens)
    assert (
        f"**{model.num_params():,} parameters** to learn from {train_chars:,} training characters"
        in params_md
    )
    assert "⚠️" not in params_md
    _, big = app.describe(NAMES, "lines", "mlp", *settings(n_hidden=1024, n_embd=256))
    assert "⚠️" in big and "memorise" in big


def test_describe_shows_problems_inline_instead_of_raising():
    corpus_md, params_md = app.describe("", "text", "mlp", *settings())
    assert corpus_md.startswith("⚠️") and "empty" in corpus_md and params_md == ""
    _, params_md = app.describe(TEXT, "text", "transformer", *settings(n_embd=24, n_head=5))
    assert params_md.startswith("⚠️") and "multiple of n_head" in params_md


@pytest.mark.parametrize("name", app.LADDER)
def test_choose_model_shows_exactly_the_settings_the_model_uses_and_its_defaults_build(name):
    updates = app.choose_model(name)
    shown = {key for key, update in zip(app.SETTINGS, updates[1:8]) if update["visible"]}
    assert shown == set(app.DEFAULTS[name])
    assert updates[-1]["visible"] == (name != "bigram")  # counting has no steps or learning rate
    values = {key: update.get("value") for key, update in zip(app.SETTINGS, updates[1:8])}
    _, params_md = app.describe(NAMES, "lines", name, *[values[k] for k in app.SETTINGS])
    assert "parameters**" in params_md


def test_training_streams_progress_the_loss_chart_and_samples_then_metrics():
    updates = trained(steps=50)
    first, last = updates[0], updates[-1]
    assert first[0] is None  # the session keeps no model until the new one has taken a step
    ws = last[0]
    assert ws.trainer.step == 50 and ws.source == "trained here"
    assert "step 50 / 50" in last[2] and "done" in last[2]
    names = {trace.name: trace for trace in last[3].data}
    assert names["validation"].x[-1] == 50 and len(names["validation"].x) >= 3
    assert {shape.y0 for shape in last[3].layout.shapes} == set(ws.refs.values())
    assert last[4].startswith("step    50: ")
    assert f"| validation | {ws.metrics['val_loss']:.4f} |" in last[5]
    assert ws.metrics["val_loss"] < ws.refs["uniform guess"]  # it learned something
    assert "MLP (mlp)" in last[1] and "50 steps" in last[1]
    assert app.TRAINING.count == 0


def test_the_count_bigram_trains_by_counting_in_one_update():
    ws = trained(model="bigram", steps=1)[-1][0]
    assert ws.model.counts.sum() == len(ws.trainer.corpus.train.tokens) - 1
    assert ws.metrics["val_loss"] == pytest.approx(ws.refs["count bigram"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (dict(text=""), "empty"),
        (dict(text="abc"), "at least 2 non-blank lines"),
        (dict(text="abc", mode="text"), "at least 20"),
        (dict(text="abcdefghij" * 3, mode="text", model="transformer", block_size=64), "block size (64)"),
        (dict(text="z" * 30, mode="text"), "a single character"),
        (dict(steps=0), "steps must be a whole number from 1"),
        (dict(steps=2.5), "steps must be a whole number"),
        (dict(steps=float("inf")), "steps must be a whole number"),
        (dict(steps=10**9), "steps must be a whole number from 1 to"),
        (dict(model="gpt-5"), "unknown model"),
        (dict(block_size=0), "block_size"),
        (dict(n_hidden=10**6), "n_hidden"),
        (dict(dropout=float("nan")), "dropout"),
        (dict(mode="words"), "unknown corpus mode"),
    ],
)
def test_bad_training_input_gives_a_clear_message_and_keeps_the_session(ws, change, message):
    before = params(ws.model)
    args = dict(text=NAMES, mode="lines", model="mlp", steps=10) | change
    text, mode, model, steps = args.pop("text"), args.pop("mode"), args.pop("model"), args.pop("steps")
    with pytest.raises(gr.Error) as error:
        trained(text, mode, model, steps, ws=ws, **args)
    assert message in error.value.message and "Traceback" not in error.value.message
    assert all(torch.equal(a, b) for a, b in zip(before, params(ws.model)))


def test_a_text_over_the_cap_is_refused(monkeypatch):
    monkeypatch.setattr(app, "MAX_CHARS", 100)
    with pytest.raises(gr.Error, match="up to 100"):
        trained(NAMES)


def test_continuing_trains_a_copy_and_leaves_the_earlier_session_intact(ws):
    before, step = params(ws.model), ws.trainer.step
    updates = trained(steps=15, ws=ws, continue_training=True)
    new = updates[-1][0]
    assert new is not ws and new.trainer.step == step + 15
    assert len(new.history) == len(ws.history) + 15
    assert ws.trainer.step == step and all(torch.equal(a, b) for a, b in zip(before, params(ws.model)))
    assert "continued here from trained here" in new.source


def test_continuing_refuses_a_text_with_new_characters_and_a_different_mode(ws):
    with pytest.raises(gr.Error, match=r"not in the model's vocabulary: 'Q'"):
        trained(NAMES + "Quentin\n", ws=ws, continue_training=True)
    with pytest.raises(gr.Error, match="lines mode"):
        trained(TEXT, "text", ws=ws, continue_training=True)
    with pytest.raises(gr.Error, match="no model in this session"):
        trained(continue_training=True)


def test_a_failure_during_training_restores_the_previous_model(ws, monkeypatch):
    """Fault injection: the second evaluation fails (as a diverging run would)."""
    calls = []

    def failing(model):
        calls.append(1)
        if len(calls) == 2:
            raise CharlmError("training diverged at step 4")
        return "ok"

    monkeypatch.setattr(app, "live_sample", failing)
    updates = []
    with pytest.raises(gr.Error, match="diverged"):
        for update in app.train(ws, NAMES, "lines", "mlp", False, 20, 16, 1e-2, 3, *settings()):
            updates.append(update)
    assert updates[-1][0] is ws and "previous model is kept" in updates[-1][2]
    assert app.TRAINING.count == 0


def test_stop_ends_training_at_the_next_step_and_keeps_the_model():
    tab = SimpleNamespace(session_hash="tab-1")  # what Gradio passes as gr.Request
    run = app.train(None, NAMES, "lines", "mlp", False, 10_000, 16, 1e-2, 3, *settings(), request=tab)
    for update in run:
        if update[0] is not None and update[0].trainer.step >= 30:
            break
    assert app.TRAINING.count == 1
    app.stop(tab)
    *_, last = run  # the training notices at its next step and reports where it stopped
    ws = last[0]
    assert 30 <= ws.trainer.step < 10_000 and ws.history[-1].step == ws.trainer.step
    assert f"step {ws.trainer.step:,} / 10,000" in last[2] and "stopped: the model is kept" in last[2]
    assert "| validation |" in last[5] and app.TRAINING.count == 0
    assert sample(ws.model, num_samples=1, seed=0, length=20)  # usable at once


def test_stop_clicked_while_queued_stops_the_training_before_it_starts(ws):
    tab = SimpleNamespace(session_hash="tab-2")
    app.TRAINING.arm(tab.session_hash)  # the click on Train
    app.stop(tab)  # Stop, while the training still waits in the queue
    updates = list(app.train(ws, NAMES, "lines", "mlp", False, 50, 16, 1e-2, 3, *settings(), request=tab))
    assert len(updates) == 1 and updates[0][0] is ws and "stopped before it started" in updates[0][2]
    app.stop(tab)  # with nothing running, Stop changes nothing: the next training runs in full
    app.TRAINING.arm(tab.session_hash)
    assert trained(steps=5, request=tab)[-1][0].trainer.step == 5


def test_closing_the_generator_ends_the_training():
    """What Gradio does when a page goes away mid-training."""
    run = app.train(None, NAMES, "lines", "mlp", False, 10_000, 16, 1e-2, 3, *settings())
    next(run), next(run)
    assert app.TRAINING.count == 1
    run.close()
    assert app.TRAINING.count == 0


def test_upload_reads_text_and_refuses_binary_and_oversized_files(tmp_path, monkeypatch):
    good = tmp_path / "good.txt"
    good.write_text("hello\r\nworld\n", encoding="utf-8")
    assert app.read_upload(str(good)) == "hello\nworld\n"
    binary = tmp_path / "binary.txt"
    binary.write_bytes(bytes(range(256)))
    with pytest.raises(gr.Error, match="binary"):
        app.read_upload(str(binary))
    latin = tmp_path / "latin.txt"
    latin.write_bytes("café".encode("latin-1"))
    with pytest.raises(gr.Error, match="not UTF-8"):
        app.read_upload(str(latin))
    monkeypatch.setattr(app, "MAX_CHARS", 5)
    with pytest.raises(gr.Error, match="trains on texts up to"):
        app.read_upload(str(good))


def test_errors_are_escaped_and_unexpected_ones_are_logged_not_shown(caplog):
    @app.shows_errors
    def bad_input():
        raise CharlmError("unknown characters: '<img src=x onerror=alert(1)>'")

    with pytest.raises(gr.Error) as error:
        bad_input()
    assert "&lt;img" in error.value.message and "<img" not in error.value.message

    @app.shows_errors
    def broken():
        yield 1
        raise KeyError("secret internals")

    with caplog.at_level(logging.ERROR, logger="charlm.app"), pytest.raises(gr.Error) as error:
        list(broken())
    assert "KeyError" in error.value.message and "secret" not in error.value.message
    assert "secret internals" in caplog.text  # the traceback goes to the server's log


# --- Bigram tab ----------------------------------------------------------------------------------------


def test_bigram_view_draws_the_table_and_what_follows_a_chosen_character():
    heatmap, dropdown, followers = app.bigram_view(TEXT, "text", "counts", 10, "t")
    assert heatmap.data[0].x[-1] == "(other)" and len(heatmap.data[0].x) == 11
    assert "␣" in dropdown["choices"] and dropdown["value"] == "t"
    after_t = Counter(b for a, b in zip(TEXT, TEXT[1:]) if a == "t").most_common(1)[0][0]
    assert followers.data[0].x[0] == {" ": "␣"}.get(after_t, after_t)
    _, dropdown, _ = app.bigram_view(TEXT, "text", "probabilities", 200, "no such label")
    assert dropdown["value"] == "␣"  # the most frequent current character
    with pytest.raises(gr.Error, match="empty"):
        app.bigram_view("", "text", "counts", 10, None)


def test_comparison_appears_for_a_trained_neural_bigram_only(ws):
    note, fig, bars = app.comparison_view(ws, 30, None)
    assert "neural bigram" in note and fig["visible"] is False
    neural = trained(model="neural-bigram", steps=30)[-1][0]
    note, fig, bars = app.comparison_view(neural, 30, "a")
    assert "nats per character" in note and fig["visible"] and len(fig["value"].data) == 2
    assert [t.name for t in bars["value"].data] == ["counted in the text", "learned by the neural bigram"]


# --- Sample tab ----------------------------------------------------------------------------------------


def generated(ws, prompt="", source=app.SESSION, text=NAMES, **options):
    o = dict(temperature=1.0, top_k=0, top_p=1.0, length=40, num_samples=3, seed=5, colour=True) | options
    updates = list(app.generate(ws, source, text, prompt, *o.values()))
    return updates


def test_samples_match_the_package_sampler_and_stream_in(ws):
    updates = generated(ws, "ka", temperature=0.7, top_k=5)
    run, html, plain, number, position, alternatives, figure = updates[-1]
    expected = sample(ws.model, "ka", 3, seed=5, temperature=0.7, top_k=5, length=40)
    assert plain.split("\n") == expected
    assert len(run.samples) == 3 and html.count('class="charlm-sample"') == 3
    assert number["maximum"] == 3 and position["maximum"] == max(len(s) for s in run.samples) - 1
    assert "At position 0" in alternatives and "temperature 0.7, top-k 5" in figure.data[1].name
    assert all(u[1] for u in updates)  # every update carries the samples so far


def test_lines_end_with_the_models_choice_to_end_them(ws):
    run = generated(ws, length=40)[-1][0]
    for tokens in run.samples:
        assert tokens[-1].char == "" and tokens[-1].id == 0 and all(t.char for t in tokens[:-1])
    _, alternatives, figure = app.explain(run, True, 1, len(run.samples[0]) - 1, 1.0, 0, 1.0)
    assert "the end of the line" in alternatives and figure.layout.annotations[0].x == "•"


def test_temperature_zero_is_greedy_and_repeatable(ws):
    a = generated(ws, temperature=0, seed=1)[-1][2].split("\n")
    b = generated(ws, temperature=0, seed=2)[-1][2].split("\n")
    assert a == b and len(set(a)) == 1


def test_samples_found_in_the_training_text_are_marked_memorised():
    text = "abc\nabc\nabc\nabc\n"
    ws = trained(text, model="bigram", steps=1, smoothing=0.0)[-1][0]
    run = generated(ws, text=text, temperature=0)[-1][0]
    assert ["".join(t.char for t in s) for s in run.samples] == ["abc"] * 3
    assert run.memorised == [True, True, True]
    html = generated(ws, text=text, temperature=0)[-1][1]
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
    run = generated(ws, length=30)[-1][0]
    html, alternatives, figure = app.explain(run, True, 2, 10_000, 0.5, 0, 1.0)
    position = len(run.samples[1]) - 1  # clamped to the sample
    assert f"At position {position}" in alternatives and html.count("outline:2px") == 1
    assert figure.data[1].name == "sampled from (temperature 0.5)"
    assert app.explain(None, True, 1, 0, 1.0, 0, 1.0) == (gr.skip(),) * 3
    assert list(app.resample(None, ws)) == [(gr.skip(),) * 7]


# --- Checkpoints tab -----------------------------------------------------------------------------------


def test_continuing_an_averaged_checkpoint_goes_on_averaging(checkpoints):
    config = TrainConfig(steps=10, batch_size=8, ema_decay=0.9, device="cpu")
    shape = {k: MLP[k] for k in ("block_size", "n_embd", "n_hidden")}
    averaged = new_trainer(NAMES, "lines", "mlp", config, **shape)
    for _ in averaged.run():
        pass
    save_checkpoint(checkpoints / "averaged", averaged.model, trainer=averaged)
    loaded = app.load(None, "averaged")[0]
    more = trained(steps=5, ws=loaded, continue_training=True)[-1][0]
    assert more.trainer.step == 15 and more.trainer.config.ema_decay == 0.9
    assert more.trainer.raw is not None  # the raw weights came along from the checkpoint


def test_save_list_load_and_delete(ws, checkpoints):
    note, session, table, chosen, source = app.save(ws, "names-mlp", False)
    assert "Saved **names-mlp**" in note and (checkpoints / "names-mlp" / "model.safetensors").is_file()
    assert table["value"][0][:2] == ["names-mlp", "mlp"] and chosen["value"] == "names-mlp"
    assert str(checkpoints) in table["label"]
    assert source["choices"] == [app.SESSION, "names-mlp"]
    loaded, note, session, mode = app.load(None, "names-mlp")
    assert "Loaded **names-mlp**" in note and mode["value"] == "lines" and "loaded from checkpoint" in session
    x = torch.randint(ws.model.config.vocab_size, (2, 5))
    assert torch.equal(loaded.model(x)[0], ws.model.eval()(x)[0])
    # a loaded checkpoint can be sampled from by name, and continued
    assert generated(ws, source="names-mlp", temperature=0)[-1][2] == generated(loaded, temperature=0)[-1][2]
    more = trained(steps=5, ws=loaded, continue_training=True)[-1][0]
    assert more.trainer.step == ws.trainer.step + 5
    app.save(loaded, "names-mlp-again", False)  # re-saving a loaded model keeps what resuming needs
    again = load_checkpoint(checkpoints / "names-mlp-again")
    assert again.trainer_state is not None and int(again.trainer_state["step"]) == ws.trainer.step
    assert again.config["train"] == load_checkpoint(checkpoints / "names-mlp").config["train"]
    app.delete("names-mlp-again")
    note, hidden, table, chosen, source = app.delete("names-mlp")
    assert "Deleted" in note and table["value"] == [] and not (checkpoints / "names-mlp").exists()


def test_save_refuses_to_overwrite_unless_asked_and_keeps_the_first(ws, checkpoints):
    app.save(ws, "keep", False)
    weights = (checkpoints / "keep" / "model.safetensors").read_bytes()
    other = trained(steps=3)[-1][0]
    with pytest.raises(gr.Error, match="exists already"):
        app.save(other, "keep", False)
    assert (checkpoints / "keep" / "model.safetensors").read_bytes() == weights
    app.save(other, "keep", True)
    assert (checkpoints / "keep" / "model.safetensors").read_bytes() != weights


@pytest.mark.parametrize("name", ["../escape", "/tmp/abs", "a/b", "..", "", "x y", ".hidden", "a" * 65])
def test_checkpoint_names_cannot_reach_outside_the_folder(ws, checkpoints, name):
    with pytest.raises(gr.Error, match="not a valid checkpoint name|outside"):
        app.save(ws, name, True)
    with pytest.raises(gr.Error):
        app.load(ws, name)
    with pytest.raises(gr.Error):
        app.delete(name)
    assert not checkpoints.exists() or list(checkpoints.iterdir()) == []
    assert not (checkpoints.parent / "escape").exists()


def test_a_damaged_checkpoint_gives_a_message_and_the_session_keeps_its_model(ws, checkpoints):
    app.save(ws, "broken", False)
    (checkpoints / "broken" / "model.safetensors").write_bytes(b"not safetensors at all")
    with pytest.raises(gr.Error, match="damaged"):
        app.load(ws, "broken")
    (checkpoints / "broken" / "config.json").write_text("{ not json")
    with pytest.raises(gr.Error, match="not a valid|no checkpoint|damaged|not a charlm"):
        app.load(ws, "broken")
    with pytest.raises(gr.Error, match="no model to save"):
        app.save(None, "empty", False)
    with pytest.raises(gr.Error, match="no checkpoint named"):
        app.delete("never-saved")


# --- the running app, through gradio_client ------------------------------------------------------------


def client(served) -> Client:
    return Client(served.url, verbose=False, analytics_enabled=False, download_files=False)


def train_api(c: Client, text=NAMES, mode="lines", model="mlp", steps=30, **overrides):
    return c.predict(text, mode, model, False, steps, 16, 1e-2, 3, *settings(**overrides), api_name="/train")


def sample_api(c: Client, source=app.SESSION, prompt="", seed=5, temperature=1.0, num_samples=3, length=30):
    return c.predict(
        source, NAMES, prompt, temperature, 0, 1.0, length, num_samples, seed, False, api_name="/sample"
    )


def test_the_api_names_the_playgrounds_actions(served):
    named = client(served).view_api(print_info=False, return_format="dict")["named_endpoints"]
    for name in ("/train", "/stop", "/sample", "/bigram", "/upload", "/save", "/load", "/delete"):
        assert name in named


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
    job = c.submit(NAMES, "lines", "mlp", False, 20_000, 16, 1e-2, 3, *settings(), api_name="/train")
    wait_for(lambda: any("left" in out[1] for out in job.outputs()), what="training to take steps")
    c.predict(api_name="/stop")
    session, progress, loss, live, metrics, warnings = job.result(timeout=60)
    step = int(progress.split("step ")[1].split(" /")[0].replace(",", ""))
    assert 0 < step < 20_000 and "stopped: the model is kept as trained so far" in progress
    assert "| validation |" in metrics and f"{step:,} steps" in session
    assert app.TRAINING.count == 0
    assert len(sample_api(c)[1].split("\n")) == 3


def test_cancelling_the_event_ends_training_and_keeps_the_model(served, wait_for):
    c = client(served)
    job = c.submit(NAMES, "lines", "mlp", False, 20_000, 16, 1e-2, 3, *settings(), api_name="/train")
    wait_for(lambda: any("left" in out[1] for out in job.outputs()), what="training to take steps")
    job.cancel()
    wait_for(lambda: app.TRAINING.count == 0, what="training to end after the cancel")
    assert len(sample_api(c)[1].split("\n")) == 3  # the session kept the model as trained so far
