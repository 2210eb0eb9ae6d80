"""The model ladder: one registry from name to class, and the functions that build models from it.
What each model is (its title, description, settings and training defaults) is declared on its class."""

from dataclasses import fields

from charlm.errors import CharlmError
from charlm.models.base import (
    GLOBAL_RNG,
    SETTINGS,
    CharLM,
    ModelConfig,
    Setting,
    declared_settings,
    lm_loss,
)
from charlm.models.bigram import BigramConfig, CountBigram, NeuralBigram, NeuralBigramConfig
from charlm.models.mlp import MLP, MLPConfig
from charlm.models.numpy_models import NumpyBigram, NumpyBigramConfig, NumpyMLP, NumpyMLPConfig
from charlm.models.rnn import GRU, LSTM, RNN, RNNConfig
from charlm.models.transformer import Transformer, TransformerConfig
from charlm.models.value_mlp import ValueMLP, ValueMLPConfig

MODELS: dict[str, type[CharLM]] = {  # in the order of the ladder
    "bigram": CountBigram,
    "neural-bigram": NeuralBigram,
    "mlp": MLP,
    "rnn": RNN,
    "gru": GRU,
    "lstm": LSTM,
    "transformer": Transformer,
    "numpy-bigram": NumpyBigram,
    "numpy-mlp": NumpyMLP,
    "value-mlp": ValueMLP,
}
# The rungs `charlm ladder` and the app's "Train the ladder" train by default: one of each kind, from
# counting to attention
TEACHING_LADDER = ["bigram", "mlp", "lstm", "transformer"]
DEFAULT_MODEL = "transformer"  # what the CLI and the playground train when no model is named


def model_class(name: str) -> type[CharLM]:
    if name not in MODELS:
        raise CharlmError(f"unknown model {name!r}; choose one of: {', '.join(MODELS)}.")
    return MODELS[name]


def model_config(name: str, **settings) -> ModelConfig:
    """The config of model `name` with its defaults, overridden by `settings` (None keeps a default).

    A setting the model does not have (`n_head` for an LSTM, a typo) is refused with its name.
    """
    cls = model_class(name).config_class
    known = {f.name for f in fields(cls)}
    unknown = sorted(k for k, v in settings.items() if k not in known and v is not None)
    if unknown:
        have = ", ".join(s.name for s in model_class(name).settings()) or "none"
        raise CharlmError(f"{name} has no setting {', '.join(unknown)}; its settings are: {have}.")
    config = cls(**{k: v for k, v in settings.items() if v is not None})
    config.model_type = name
    check_config(config)
    return config


def model_settings(name: str) -> list[str]:
    """The names of the settings a person may change for model `name`."""
    return [s.name for s in model_class(name).settings()]


def check_config(config: ModelConfig) -> None:
    """Refuse settings no model can be built with, naming the setting and what would work."""
    for f in fields(config):
        value = getattr(config, f.name)
        if f.name.startswith("n_") or f.name == "block_size":
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise CharlmError(f"{f.name} must be a whole number of at least 1, not {value!r}.")
            if value > 100_000:
                raise CharlmError(
                    f"{f.name}={value} is far too large for this playground; try a value below 4096."
                )
        if f.name == "dropout" and not 0 <= value < 1:
            raise CharlmError(f"dropout must be at least 0 and below 1, not {value!r}.")
        if f.name == "smoothing" and value < 0:
            raise CharlmError(f"smoothing must be 0 or more, not {value!r}.")
    for s in declared_settings(type(config)):
        if s.choices:
            s.check(getattr(config, s.name))
    n_embd, n_head = getattr(config, "n_embd", None), getattr(config, "n_head", None)
    if n_head and n_embd % n_head:
        raise CharlmError(
            f"n_embd ({n_embd}) must be a multiple of n_head ({n_head}); try n_embd={n_head * 32}."
        )


def build_model(config: ModelConfig) -> CharLM:
    with GLOBAL_RNG:  # its initial weights: see GLOBAL_RNG
        return model_class(config.model_type)(config)


def shown_default(s: Setting) -> str:
    """A setting's default as people read it: 8, 0.1, tanh."""
    return s.default if s.choices else f"{s.default:g}"


def ladder_table() -> str:
    """The README's table of the ladder, as Markdown, from the models' own declarations."""
    rows = ["| name | what it is | settings (default) | lr, steps |", "| --- | --- | --- | --- |"]
    for name, cls in MODELS.items():
        shown = ", ".join(f"`{s.name}` {shown_default(s)}" for s in cls.settings()) or "none"
        training = (
            "counts, one pass" if cls.trained_by_counting else f"{cls.default_lr:g}, {cls.default_steps:,}"
        )
        rows.append(f"| `{name}` | **{cls.title}.** {cls.description} | {shown} | {training} |")
    return "\n".join(rows)


__all__ = [
    "DEFAULT_MODEL",
    "TEACHING_LADDER",
    "MODELS",
    "SETTINGS",
    "CharLM",
    "ModelConfig",
    "Setting",
    "lm_loss",
    "ladder_table",
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
    "ValueMLPConfig",
    "shown_default",
]
