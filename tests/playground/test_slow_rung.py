"""The scalar-autograd rung in the Train tab: it starts at the small sizes its class declares for the
playground, says what a step costs before training, and auto keeps those sizes."""

from charlm.auto import auto_settings
from charlm.data import Corpus
from charlm.models import MODELS
from charlm.playground import train_tab

NAMES = "amara\nbelen\ncorin\ndalia\nelio\nfarah\ngiles\nhana\nilan\njora\n" * 4


def test_the_train_tab_starts_the_value_mlp_small_and_says_what_a_step_costs():
    cls = MODELS["value-mlp"]
    assert cls.playground_settings and cls.playground_batch_size  # declared on the model, once
    updates = train_tab.choose_model("value-mlp")
    for name, value in cls.playground_settings.items():
        assert updates[name]["value"] == value and value < cls.config_class.__dataclass_fields__[name].default
    assert updates["batch_size"] == cls.playground_batch_size
    values = [updates[s.name].get("value", s.default) for s in train_tab.SLIDERS]
    params = train_tab.describe(NAMES, "lines", "value-mlp", *values)["params"]
    assert "s per step** at batch 4" in params
    assert (
        "per step" not in train_tab.describe(NAMES, "lines", "mlp", *values)["params"]
    )  # fast rungs: no estimate


def test_auto_keeps_the_value_mlp_at_its_playground_sizes_unless_told_otherwise():
    corpus = Corpus.from_text(NAMES, "lines")
    auto = auto_settings(corpus, "value-mlp", 30)
    assert auto.settings == MODELS["value-mlp"].playground_settings and auto.train["batch_size"] == 4
    mine = auto_settings(corpus, "value-mlp", 30, {"n_hidden": 12})
    assert "n_hidden" not in mine.settings and "n_hidden" not in mine.picked
