"""The model ladder: one registry from name to class, and the functions that build models from it."""

from dataclasses import fields

from charlm.errors import CharlmError
from charlm.models.base import CharLM, ModelConfig, lm_loss
from charlm.models.bigram import BigramConfig, CountBigram, NeuralBigram, NeuralBigramConfig
from charlm.models.mlp import MLP, MLPConfig
from charlm.models.numpy_models import NumpyBigram, NumpyBigramConfig, NumpyMLP, NumpyMLPConfig
from charlm.models.rnn import RecurrentLM, RNNConfig
from charlm.models.transformer import Transformer, TransformerConfig

MODELS: dict[str, type[CharLM]] = {
    "bigram": CountBigram,
    "neural-bigram": NeuralBigram,
    "mlp": MLP,
    "rnn": RecurrentLM,
    "gru": RecurrentLM,
    "lstm": RecurrentLM,
    "transformer": Transformer,
    "numpy-bigram": NumpyBigram,
    "numpy-mlp": NumpyMLP,
}


def model_class(name: str) -> type[CharLM]:
    if name not in MODELS:
        raise CharlmError(f"unknown model {name!r}; choose one of: {', '.join(MODELS)}.")
    return MODELS[name]


def model_config(name: str, **settings) -> ModelConfig:
    """The config of model `name` with its defaults, overridden by the settings it has a field for.

    Settings the model does not use (say `n_head` for an LSTM) are ignored, so one set of options
    serves every rung.
    """
    cls = model_class(name).config_class
    known = {f.name for f in fields(cls)}
    config = cls(**{k: v for k, v in settings.items() if k in known and v is not None})
    config.model_type = name
    check_config(config)
    return config


def model_settings(name: str) -> list[str]:
    """The names of the settings model `name` uses, beyond its vocabulary."""
    return [
        f.name
        for f in fields(model_class(name).config_class)
        if f.name not in ("model_type", "chars", "mode")
    ]


def check_config(config: ModelConfig) -> None:
    """Refuse settings no model can be built with, naming the setting and what would work."""
    for f in fields(config):
        value = getattr(config, f.name)
        if f.name.startswith("n_") or f.name == "block_size":
            if not isinstance(value, int) or value < 1:
                raise CharlmError(f"{f.name} must be a whole number of at least 1, not {value!r}.")
            if value > 100_000:
                raise CharlmError(
                    f"{f.name}={value} is far too large for this playground; try a value below 4096."
                )
        if f.name == "dropout" and not 0 <= value < 1:
            raise CharlmError(f"dropout must be at least 0 and below 1, not {value!r}.")
        if f.name == "smoothing" and value < 0:
            raise CharlmError(f"smoothing must be 0 or more, not {value!r}.")
    n_embd, n_head = getattr(config, "n_embd", None), getattr(config, "n_head", None)
    if n_head and n_embd % n_head:
        raise CharlmError(
            f"n_embd ({n_embd}) must be a multiple of n_head ({n_head}); try n_embd={n_head * 32}."
        )


def build_model(config: ModelConfig) -> CharLM:
    return model_class(config.model_type)(config)


__all__ = [
    "MODELS",
    "CharLM",
    "ModelConfig",
    "lm_loss",
    "model_class",
    "model_config",
    "model_settings",
    "build_model",
    "check_config",
    "BigramConfig",
    "NeuralBigramConfig",
    "MLPConfig",
    "RNNConfig",
    "TransformerConfig",
    "NumpyBigramConfig",
    "NumpyMLPConfig",
]
