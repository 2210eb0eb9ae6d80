"""charlm.auto: settings sized to the text and the time budget, measured by a stand-in speed here."""

import random

import pytest
from conftest import NAMES, TEXT

from charlm.auto import LEVELS, PARAMS_PER_CHAR, auto_settings, describe_size, measure_speed
from charlm.data import Corpus
from charlm.models import build_model, model_config


def fake_speed(flops: float = 2e8):
    """Steps per second of a machine that does `flops` parameter-steps a second: no timing in tests."""
    return lambda model, corpus, batch: flops / model.num_params()


def text_of(n: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    words = [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))
        for _ in range(500)
    ]
    out = [rng.choice(words) + rng.choice("  \n,.") for _ in range(n // 3)]  # words average 6.5
    return "".join(out)[:n]


SIZES = {"tiny": 4_000, "medium": 60_000, "large": 600_000}


@pytest.fixture(scope="module")
def corpora():
    return {name: Corpus.from_text(text_of(n), "text") for name, n in SIZES.items()}


@pytest.mark.parametrize("model", ["mlp", "lstm", "transformer"])
def test_a_larger_text_gets_a_larger_model_never_far_above_its_characters(corpora, model):
    picked = {name: auto_settings(c, model, 60, speed=fake_speed(1e12)) for name, c in corpora.items()}
    params = [picked[name].num_params for name in SIZES]
    assert params[0] < params[1] < params[2]
    for name, corpus in corpora.items():
        auto = picked[name]
        assert auto.num_params <= PARAMS_PER_CHAR * len(corpus.train.tokens)
        built = build_model(model_config(model, chars=corpus.vocab.chars, mode="text", **auto.settings))
        assert built.num_params() == auto.num_params  # the settings rebuild the model counted


def test_a_slow_machine_gets_a_smaller_model_and_fewer_steps(corpora):
    fast = auto_settings(corpora["large"], "transformer", 60, speed=fake_speed(1e12))
    slow = auto_settings(corpora["large"], "transformer", 60, speed=fake_speed(1e6))
    assert slow.num_params < fast.num_params
    assert slow.train["steps"] < fast.train["steps"]


def test_steps_fill_the_budget_at_the_measured_speed(corpora):
    one = auto_settings(corpora["medium"], "mlp", 30, speed=lambda m, c, b: 100.0)
    two = auto_settings(corpora["medium"], "mlp", 60, speed=lambda m, c, b: 100.0)
    assert one.settings == two.settings
    assert 1.8 < two.train["steps"] / one.train["steps"] < 2.2
    assert one.train["time_budget"] == 30 and two.train["time_budget"] == 60
    assert one.train["eval_interval"] * 20 <= one.train["steps"]


def test_many_passes_over_a_small_text_bring_dropout_and_patience(corpora):
    small = auto_settings(Corpus.from_text(NAMES, "lines"), "transformer", 60, speed=fake_speed(1e12))
    big = auto_settings(corpora["large"], "transformer", 10, speed=fake_speed(1e7))
    assert small.settings["dropout"] > 0 and small.train["patience"] > 0
    assert big.settings["dropout"] < small.settings["dropout"] and big.train["patience"] == 0
    assert small.settings["block_size"] <= max(map(len, NAMES.split("\n"))) + 1  # a line needs no more


def test_what_is_given_wins_and_is_not_picked(corpora):
    auto = auto_settings(
        corpora["medium"], "transformer", 60, {"n_embd": 48, "lr": 0.01, "n_head": None}, fake_speed(1e10)
    )
    assert auto.settings["n_embd"] == 48 and auto.train["lr"] == 0.01
    assert "n_embd" not in auto.picked and "lr" not in auto.picked and "n_layer" in auto.picked
    assert auto.settings["n_embd"] % auto.settings["n_head"] == 0


def test_the_summary_says_what_was_picked(corpora):
    auto = auto_settings(corpora["medium"], "transformer", 60, speed=lambda m, c, b: 20.0)
    assert auto.summary.startswith(f"auto: {auto.settings['n_layer']} layer")
    assert f"~{auto.train['steps']:,} steps in 60 s" in auto.summary and "lr 3e-3" in auto.summary
    assert describe_size({"n_layer": 4, "n_embd": 128, "block_size": 64}) == "4 layers × 128, context 64"


def test_counting_and_the_rungs_from_scratch_keep_their_nature():
    corpus = Corpus.from_text(TEXT, "text")
    assert auto_settings(corpus, "bigram", 30).train == {"steps": 1}
    scratch = auto_settings(corpus, "numpy-mlp", 30)
    assert scratch.settings == {} and scratch.train["time_budget"] == 30


def test_measure_speed_leaves_the_model_untouched():
    corpus = Corpus.from_text(TEXT, "text")
    model = build_model(model_config("mlp", chars=corpus.vocab.chars, mode="text"))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert measure_speed(model, corpus, 4, steps=1) > 0
    assert all((before[k] == v).all() for k, v in model.state_dict().items())
    assert len(LEVELS) >= 5


def test_a_shakespeare_sized_text_gets_the_transformers_measured_recipe():
    from charlm.auto import RECIPE_CHARS
    from charlm.recipes import speedrun_transformer

    big = Corpus.from_text(text_of(int(RECIPE_CHARS / 0.9) + 1000), "text")
    auto = auto_settings(big, "transformer", 120, speed=lambda m, c, b: 10.0)
    settings, train = speedrun_transformer(len(big.text))
    assert auto.settings == settings and auto.train["optimizer"] == "muon" and auto.train["lr"] == train["lr"]
    assert 1070 <= auto.train["steps"] <= int(10.0 * 120 * 0.9) and "speed-run recipe" in auto.summary
    mine = auto_settings(big, "transformer", 120, {"n_layer": 2, "steps": 50}, speed=lambda m, c, b: 10.0)
    assert mine.settings["n_layer"] == 2 and mine.train["steps"] == 50 and "n_layer" not in mine.picked
    assert "optimizer" not in auto_settings(big, "lstm", 120, speed=fake_speed(1e12)).train  # no recipe


def test_a_learned_table_gets_weight_decay_as_strong_as_the_table_is_large_for_its_text(corpora):
    small = auto_settings(Corpus.from_text(NAMES, "lines"), "neural-bigram", 10, speed=fake_speed(1e12))
    large = auto_settings(corpora["large"], "neural-bigram", 10, speed=fake_speed(1e12))
    assert small.train["weight_decay"] > large.train["weight_decay"] >= 0.01  # smoothing's role, scaled
    assert small.train["batch_size"] == 512 and "dropout" not in small.settings
    assert (
        auto_settings(corpora["large"], "mlp", 10, speed=fake_speed(1e12)).train.get("weight_decay") is None
    )
