"""The recipes are plain settings that the model and the trainer accept as they are."""

from conftest import TEXT

from charlm.models import model_config
from charlm.recipes import speedrun_transformer
from charlm.train import TrainConfig


def test_the_speedrun_recipe_is_valid_settings_sized_to_the_text():
    model, training = speedrun_transformer(1_115_394)
    TrainConfig(**training).check()
    config = model_config("transformer", chars="abc", **model)
    assert (config.n_layer, config.n_embd, training["optimizer"]) == (3, 128, "muon")
    small = speedrun_transformer(200_000)[1]
    assert 100 <= small["steps"] < training["steps"]
    assert speedrun_transformer(len(TEXT))[1]["steps"] == 100
