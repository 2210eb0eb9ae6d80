"""The Train tab's handlers called directly: examples and uploads, the summary before training, the
model picker, training that streams and stops, and clear errors that keep the session's model."""

import inspect
import logging
from types import SimpleNamespace

import gradio as gr
import pytest
import torch
from playground_helpers import MLP, NAMES, TEXT, trained, values

from charlm import viz
from charlm.data import Corpus
from charlm.errors import CharlmError
from charlm.models import DEFAULT_MODEL, MODELS, build_model, model_config
from charlm.playground import common, settings, train_tab
from charlm.playground.session import TRAINING
from charlm.playground.train_tab import LADDER, SLIDERS, choose_model, describe, load_example, train
from charlm.sampling import sample

pytest_plugins = ["playground_fixtures"]  # ws, checkpoints


def params(model) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def own_defaults(name: str) -> dict:
    return {s.name: s.default for s in MODELS[name].settings()}


def test_the_example_text_is_the_projects_own_and_trains_in_its_mode():
    for name, (path, mode) in settings.EXAMPLES.items():
        text, got_mode = load_example(name)
        assert path.parent.name == "examples" and got_mode == mode and 2_000 < len(text) < 8_000
        shown = describe(text, mode, DEFAULT_MODEL, *values(**own_defaults(DEFAULT_MODEL)))
        assert "⚠️" not in shown["corpus"] + shown["params"] and "parameters**" in shown["params"]
    with pytest.raises(CharlmError, match="unknown example"):
        load_example("../etc/passwd")


def test_describe_counts_the_corpus_and_the_parameters_before_training():
    shown = describe(NAMES, "lines", "mlp", *values())
    assert f"**{len(NAMES):,}** characters" in shown["corpus"] and "**90** lines" in shown["corpus"]
    vocab_chars = "".join(sorted(set(NAMES) - {"\n"}))
    mine = {s.name: MLP[s.name] for s in MODELS["mlp"].settings()}
    model = build_model(model_config("mlp", chars=vocab_chars, mode="lines", **mine))
    train_chars = len(Corpus.from_text(NAMES, "lines").train.tokens)
    assert (
        f"**{model.num_params():,} parameters** to learn from {train_chars:,} training characters"
        in shown["params"]
    )
    assert "⚠️" not in shown["params"]
    big = describe(NAMES, "lines", "mlp", *values(n_hidden=1024, n_embd=256))["params"]
    assert "⚠️" in big and "memorise" in big


def test_describe_shows_problems_inline_instead_of_raising():
    shown = describe("", "text", "mlp", *values())
    assert shown["corpus"].startswith("⚠️") and "empty" in shown["corpus"] and shown["params"] == ""
    params_md = describe(TEXT, "text", "transformer", *values(n_embd=24, n_head=5))["params"]
    assert params_md.startswith("⚠️") and "multiple of n_head" in params_md


@pytest.mark.parametrize("name", LADDER)
def test_choose_model_shows_exactly_the_settings_the_model_uses_and_its_defaults_build(name):
    updates = choose_model(name)
    shown = {s.name for s in SLIDERS if updates[s.name]["visible"]}
    assert shown == set(own_defaults(name))
    assert updates["train_settings"]["visible"] == (name != "bigram")  # counting: no steps or lr
    assert updates["budget_row"]["visible"] == (name != "bigram")  # nor a time to train for
    by_torch = not (MODELS[name].trained_by_counting or MODELS[name].trains_itself)
    assert updates["optimizer_row"]["visible"] == by_torch  # Muon or AdamW: PyTorch's optimizers only
    assert updates.get("optimizer", "adamw") == "adamw"
    chosen = [updates[s.name].get("value") for s in SLIDERS]
    assert "parameters**" in describe(NAMES, "lines", name, *chosen)["params"]


def test_training_streams_progress_the_loss_chart_and_samples_then_metrics():
    updates = trained(steps=50)
    first, last = updates[0], updates[-1]
    assert first["ws"] is None  # the session keeps no model until the new one has taken a step
    ws = last["ws"]
    assert ws.trainer.step == 50 and ws.source == "trained here"
    assert "step 50 / 50" in last["progress"] and "done" in last["progress"]
    names = {trace.name: trace for trace in last["loss"].data}
    assert names["validation"].x[-1] == 50 and len(names["validation"].x) >= 3
    assert {shape.y0 for shape in last["loss"].layout.shapes} == set(ws.refs.values())
    assert last["samples"].startswith("step    50: ")
    assert f"| validation | {ws.metrics['val_loss']:.4f} |" in last["metrics"]
    assert ws.metrics["val_loss"] < ws.refs["uniform guess"]  # it learned something
    assert "MLP (mlp)" in last["session"] and "50 steps" in last["session"]
    assert all("metrics" not in u for u in updates[:-1])  # the final losses come once, at the end
    assert TRAINING.count == 0


def test_the_same_seed_and_steps_repeat_a_training_exactly():
    # a transformer with dropout: its masks come from the generator the trainer keeps between steps
    runs = [
        trained(TEXT, "text", "transformer", steps=12, n_embd=16, n_layer=1, dropout=0.2) for _ in range(2)
    ]
    first, second = (params(r[-1]["ws"].model) for r in runs)
    assert all(torch.equal(a, b) for a, b in zip(first, second))
    assert runs[0][-1]["samples"] == runs[1][-1]["samples"]
    other = trained(TEXT, "text", "transformer", steps=12, n_embd=16, n_layer=1, dropout=0.2, seed=4)
    assert not all(torch.equal(a, b) for a, b in zip(first, params(other[-1]["ws"].model)))


def test_the_count_bigram_trains_by_counting_in_one_update():
    ws = trained(model="bigram", steps=1)[-1]["ws"]
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
        (dict(activation="sigmoid"), "activation"),
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


def test_a_setting_the_model_does_not_have_is_refused_by_name_not_dropped(monkeypatch):
    """A typo'd setting name on its way from the sliders to model_config (a slip in code) is an error
    that names it, shown in the page like any other."""
    real = train_tab.model_settings_from
    monkeypatch.setattr(
        train_tab, "model_settings_from", lambda name, got: {**real(name, got), "n_embdd": 64}
    )
    with pytest.raises(gr.Error, match="mlp has no setting n_embdd") as error:
        trained()
    assert "Traceback" not in error.value.message and TRAINING.count == 0


def test_a_text_over_the_cap_is_refused(monkeypatch):
    monkeypatch.setattr(settings, "MAX_CHARS", 100)
    with pytest.raises(gr.Error, match="up to 100"):
        trained(NAMES)


def test_continuing_trains_a_copy_and_leaves_the_earlier_session_intact(ws):
    before, step = params(ws.model), ws.trainer.step
    new = trained(steps=15, ws=ws, continue_training=True)[-1]["ws"]
    assert new is not ws and new.trainer.step == step + 15
    assert len(new.history) == len(ws.history) + 15
    assert ws.trainer.step == step and all(torch.equal(a, b) for a, b in zip(before, params(ws.model)))
    assert "continued here from trained here" in new.source


def plan(**choices) -> dict:
    """What budget.plan_run hands the training for "the steps set", with these choices."""
    return {"keep_best": False, "time_budget": 0.0, "optimizer": "adamw", "target_loss": 0.0, **choices}


def test_muon_chosen_on_the_page_trains_is_saved_and_continues():
    ws = trained(model="transformer", steps=6, plan=plan(optimizer="muon"))[-1]["ws"]
    assert ws.trainer.config.optimizer == "muon" and ws.trainer.muon is not None
    assert ws.as_checkpoint().train_config.optimizer == "muon"  # what Save writes
    sliders = dict(zip([s.name for s in SLIDERS], values()))
    go_on = (ws, NAMES, "lines", "transformer", True, 4, 16, 1e-2, 3, sliders, plan(optimizer="muon"))
    resumed, _, _ = train_tab.make_trainer(*go_on)

    def moments(trainer):
        return [trainer.muon.state[p]["momentum_buffer"] for p in trainer.muon.param_groups[0]["params"]]

    assert resumed.step == 6 and len(moments(resumed)) == len(moments(ws.trainer)) > 0
    assert all(torch.equal(a, b) for a, b in zip(moments(resumed), moments(ws.trainer)))  # carried on
    assert list(resumed.run())[-1].step == 10


def test_ticking_continue_sets_the_optimizer_the_model_was_trained_with(ws):
    muon = trained(model="transformer", steps=2, plan=plan(optimizer="muon"))[-1]["ws"]
    assert train_tab.continued_optimizer(muon, True) == "muon"
    assert train_tab.continued_optimizer(ws, True) == "adamw"
    skipped = [train_tab.continued_optimizer(muon, False), train_tab.continued_optimizer(None, True)]
    assert all(isinstance(u, dict) and u.get("__type__") == "update" and len(u) == 1 for u in skipped)


def test_continuing_with_another_optimizer_is_refused_and_the_session_keeps_its_model(ws):
    before = params(ws.model)
    with pytest.raises(gr.Error, match="trained with AdamW.*choose AdamW, or untick 'Continue training this"):
        trained(ws=ws, continue_training=True, plan=plan(optimizer="muon"))
    assert all(torch.equal(a, b) for a, b in zip(before, params(ws.model)))


def test_a_target_loss_set_on_the_page_stops_at_the_first_evaluation_at_or_under_it():
    final = trained(model="mlp", steps=300, plan=plan(target_loss=50.0))[-1]  # any loss is under 50
    trainer = final["ws"].trainer
    assert trainer.stopped_by == "target loss" and trainer.step == 1  # the first evaluation: step 1
    assert "stopped at step 1: the validation loss reached the target 50" in final["progress"]
    never = trained(model="mlp", steps=12, plan=plan(target_loss=0.01))[-1]
    assert never["ws"].trainer.step == 12 and never["ws"].trainer.stopped_by == ""
    assert never["progress"].endswith("· done</div></div>")


def test_a_run_stopped_by_patience_says_so_and_which_weights_it_kept():
    # keep-best and patience, as auto plans them for a long run on a small text
    final = trained(model="mlp", steps=3000, plan=plan(keep_best=True, patience=2, eval_interval=5))[-1]
    trainer, m = final["ws"].trainer, final["ws"].metrics
    assert trainer.stopped_by == "patience" and trainer.step < 3000
    assert f"stopped early at step {trainer.step:,}: no new best in 2 evaluations" in final["progress"]
    assert f"kept the best weights, from step {m['best_step']:,}" in final["progress"]


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

    def failing(model, text=None):
        calls.append(1)
        if len(calls) == 2:
            raise CharlmError("training diverged at step 4")
        return "ok"

    monkeypatch.setattr(train_tab, "live_sample", failing)
    updates = []
    with pytest.raises(gr.Error, match="diverged"):
        for update in train(ws, NAMES, "lines", "mlp", False, 20, 16, 1e-2, 3, *values()):
            updates.append(update)
    assert updates[-1]["ws"] is ws and "previous model is kept" in updates[-1]["progress"]
    assert TRAINING.count == 0


def test_stop_ends_training_at_the_next_step_and_keeps_the_model():
    tab = SimpleNamespace(session_hash="tab-1")  # what Gradio passes as gr.Request
    run = train(None, NAMES, "lines", "mlp", False, 10_000, 16, 1e-2, 3, *values(), request=tab)
    for update in run:
        if update["ws"] is not None and update["ws"].trainer.step >= 30:
            break
    assert TRAINING.count == 1
    train_tab.stop(tab)
    *_, last = run  # the training notices at its next step and reports where it stopped
    ws = last["ws"]
    assert 30 <= ws.trainer.step < 10_000 and ws.history[-1].step == ws.trainer.step
    assert f"step {ws.trainer.step:,} / 10,000" in last["progress"]
    assert "stopped: the model is kept" in last["progress"]
    assert "| validation |" in last["metrics"] and TRAINING.count == 0
    assert sample(ws.model, num_samples=1, seed=0, length=20)  # usable at once


def test_stop_clicked_while_queued_stops_the_training_before_it_starts(ws):
    tab = SimpleNamespace(session_hash="tab-2")
    TRAINING.arm(tab.session_hash)  # the click on Train
    train_tab.stop(tab)  # Stop, while the training still waits in the queue
    updates = list(train(ws, NAMES, "lines", "mlp", False, 50, 16, 1e-2, 3, *values(), request=tab))
    assert len(updates) == 1 and updates[0]["ws"] is ws
    assert "stopped before it started" in updates[0]["progress"]
    train_tab.stop(tab)  # with nothing running, Stop changes nothing: the next training runs in full
    TRAINING.arm(tab.session_hash)
    assert trained(steps=5, request=tab)[-1]["ws"].trainer.step == 5


def test_closing_the_generator_ends_the_training():
    """What Gradio does when a page goes away mid-training."""
    run = train(None, NAMES, "lines", "mlp", False, 10_000, 16, 1e-2, 3, *values())
    next(run), next(run)
    assert TRAINING.count == 1
    run.close()
    assert TRAINING.count == 0


def test_upload_reads_text_and_refuses_binary_and_oversized_files(tmp_path, monkeypatch):
    good = tmp_path / "good.txt"
    good.write_text("hello\r\nworld\n", encoding="utf-8")
    assert train_tab.read_upload(str(good)) == "hello\nworld\n"
    binary = tmp_path / "binary.txt"
    binary.write_bytes(bytes(range(256)))
    with pytest.raises(gr.Error, match="binary"):
        train_tab.read_upload(str(binary))
    latin = tmp_path / "latin.txt"
    latin.write_bytes("café".encode("latin-1"))
    with pytest.raises(gr.Error, match="not UTF-8"):
        train_tab.read_upload(str(latin))
    monkeypatch.setattr(settings, "MAX_CHARS", 5)
    with pytest.raises(gr.Error, match="trains on texts up to"):
        train_tab.read_upload(str(good))


def test_errors_are_escaped_and_unexpected_ones_are_logged_not_shown(caplog):
    @common.shows_errors
    def bad_input():
        raise CharlmError("unknown characters: '<img src=x onerror=alert(1)>'")

    with pytest.raises(gr.Error) as error:
        bad_input()
    assert "&lt;img" in error.value.message and "<img" not in error.value.message

    @common.shows_errors
    def broken():
        yield 1
        raise KeyError("secret internals")

    with caplog.at_level(logging.ERROR, logger="charlm.playground"), pytest.raises(gr.Error) as error:
        list(broken())
    assert "KeyError" in error.value.message and "secret" not in error.value.message
    assert "secret internals" in caplog.text  # the traceback goes to the server's log


def test_outputs_by_name_become_gradios_order_with_skips_for_the_rest():
    wired = common.by_name(lambda: {"b": 2}, ["a", "b", "c"])
    assert wired() == (gr.skip(), 2, gr.skip())
    streamed = common.by_name(lambda: (yield {"a": 1}), ["a"])
    assert list(streamed()) == [1]
    with pytest.raises(AssertionError, match=r"not wired to: \['z'\]"):
        common.by_name(lambda: {"z": 0}, ["a"])()


def test_the_playgrounds_time_limit_stops_training_and_keeps_the_model(monkeypatch):
    monkeypatch.setattr(settings, "MAX_TRAIN_SECONDS", 0)  # over the limit after the first step
    last = trained(steps=10_000)[-1]
    assert last["ws"].trainer.step < 10_000 and "| validation |" in last["metrics"]
    assert f"stopped at the playground&#x27;s limit of {viz.duration(0)}" in last["progress"]


def test_a_request_after_the_values_reaches_the_handler_as_gradio_passes_it():
    """Gradio injects gr.Request only into parameters before `*values`: the wiring moves it there."""

    def handler(a, *values, request: gr.Request | None = None):
        return {"got": (a, values, request)}

    wired = common.by_name(handler, ["got"])
    assert list(inspect.signature(wired).parameters)[:2] == ["request", "a"]
    assert wired("the request", 1, 2, 3) == (1, (2, 3), "the request")
    assert list(inspect.signature(common.by_name(train, ["ws"])).parameters)[:2] == ["request", "ws"]
