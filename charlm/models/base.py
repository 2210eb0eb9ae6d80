"""What every model shares: the config fields that rebuild its vocabulary, the one loss function,
and the base class with `forward(idx, targets) -> (logits, loss)` and incremental `decode`."""

# No `from __future__ import annotations` here or in any model module: PyTorchModelHubMixin rebuilds
# the config dataclass from the raw annotation of `__init__(self, config: SomeConfig)`.
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin

from charlm.data import Vocab
from charlm.errors import CharlmError, check_real, check_whole

# Every setting a person may change, by field name: its label, what it does, and the range the playground
# offers. A model declares which of them it has, with its own default (and, where it reads differently
# for that model, its own explanation) through `setting(...)` on its config's field.
SETTINGS = {  # name -> (label, explanation, low, high, step), or (label, explanation, choices)
    "block_size": ("Context length", "How many previous characters the model reads.", 1, 256, 1),
    "n_embd": ("Embedding size", "Length of the vector that stands for each character.", 8, 512, 8),
    "n_hidden": ("Hidden size", "Width of the hidden layer, or size of the recurrent state.", 8, 1024, 8),
    "n_layer": ("Layers", "How many layers are stacked: more capacity, slower.", 1, 8, 1),
    "n_head": ("Attention heads", "Attention patterns per layer; must divide the embedding size.", 1, 16, 1),
    "dropout": ("Dropout", "Share of activations zeroed while training; fights overfitting.", 0, 0.9, 0.05),
    "smoothing": ("Smoothing", "Count added to every pair, so unseen pairs keep a chance.", 0, 10, 0.1),
    "activation": (
        "Activation",
        "What each hidden unit applies to its sum: tanh squashes it into (-1, 1), relu keeps it if positive.",
        ("tanh", "relu"),
    ),
}


def setting(default: Any, explanation: str | None = None) -> Any:
    """A config field a person may set (its label and range come from SETTINGS by the field's name)."""
    return field(default=default, metadata={"setting": True, "explanation": explanation})


@dataclass(frozen=True)
class Setting:
    """One setting of one model: what the CLI's options, the app's sliders and the README are made from."""

    name: str
    label: str
    explanation: str
    low: float
    high: float
    step: float
    default: Any
    kind: type  # int, float, or str for a choice
    choices: tuple[str, ...] = ()  # a choice's options (its low, high and step are 0)

    def check(self, value: Any) -> Any:
        """`value` as this setting's kind, refused with a message naming the setting when out of range."""
        if self.choices:
            if value not in self.choices:
                raise CharlmError(
                    f"{self.label} ({self.name}) must be one of {', '.join(self.choices)}, not {value!r}."
                )
            return value
        check = check_whole if self.kind is int else check_real
        return check(value, f"{self.label} ({self.name})", self.low, self.high)


def declared_settings(config_class: type) -> list[Setting]:
    """The settings a config class declares with `setting(...)`, in field order."""
    out = []
    for f in fields(config_class):
        if not f.metadata.get("setting"):
            continue
        label, explanation, *bounds = SETTINGS[f.name]
        explanation = f.metadata["explanation"] or explanation
        if len(bounds) == 1:  # a choice
            out.append(Setting(f.name, label, explanation, 0, 0, 0, f.default, str, tuple(bounds[0])))
            continue
        kind = float if isinstance(f.default, float) else int
        out.append(Setting(f.name, label, explanation, *bounds, f.default, kind))
    return out


@dataclass
class ModelConfig:
    """Fields every model has. Subclasses add their own and set `model_type`'s default."""

    model_type: str = ""
    chars: str = ""  # the vocabulary: token ids follow this order (after the boundary in lines mode)
    mode: str = "text"  # "text" or "lines"; lines mode adds the boundary token with id 0
    block_size: int = 8  # how many characters of context the model reads

    @property
    def vocab(self) -> Vocab:
        return Vocab(self.chars, self.mode == "lines")

    @property
    def vocab_size(self) -> int:
        return len(self.chars) + (self.mode == "lines")


def lm_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy in nats over every target that is not -1 (padding)."""
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-1)


EVALUATION_LOCK = threading.Lock()  # CharLM.evaluation's counts, for every model

# torch's one global generator gives initial weights and dropout masks. Whoever draws from it or sets it
# holds this lock: a training step (its dropout stream restored before and saved after) then never
# interleaves with another thread building a model, and the same seed repeats a training exactly
GLOBAL_RNG = threading.RLock()


@contextmanager
def private_rng(seed: int | None = None) -> Iterator[None]:
    """Draw from torch's global generator alone (seeded `seed`, if given) and leave it as it was."""
    with GLOBAL_RNG, torch.random.fork_rng():
        if seed is not None:
            torch.manual_seed(seed)
        yield


class CharLM(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="charlm",
    license="mit",
    pipeline_tag="text-generation",
    tags=["character-level", "charlm"],
):
    """Base class of the ladder. A subclass implements `decode`; `forward` is a decode from scratch.

    decode(idx, state) feeds the new tokens idx (B, T) after everything `state` has already seen and
    returns their logits (B, T, vocab_size) and the new state. Generating one more character therefore
    costs one step: the transformer keeps a key/value cache, recurrent models carry their hidden state,
    windowed models keep their last few tokens.
    """

    config_class: type[ModelConfig] = ModelConfig
    # What the model is, for people: a name and one or two sentences (the app, the README, `--help`).
    title = ""
    description = ""
    # Training defaults: the peak learning rate (AdamW's; plain SGD needs more) and the number of steps
    # that shows it learning on the playground's example texts in seconds.
    default_lr = 1e-3
    default_steps = 1000
    # For a rung whose defaults would be slow in the playground (the scalar-autograd MLP): the sizes and
    # batch the playground starts it from instead. Empty / None: the defaults.
    playground_settings: dict = {}
    playground_batch_size: int | None = None
    # A measured recipe for a large text, `recipe(text_chars) -> (model settings, training settings)`,
    # that auto settings use instead of their general rule (the transformer's speed-run recipe); or None.
    large_text_recipe = None
    windowed = False  # reads a fixed window (bigram, MLP): trains on sequences longer than its context
    trained_by_counting = False  # the count bigram: `fit` replaces gradient descent
    trains_itself = False  # the NumPy models: `loss_and_grads` and `sgd_step` replace autograd and AdamW
    max_context: int | None = None  # positions one state can hold before it must be re-primed

    config: ModelConfig
    # evaluation(): how many readers hold the model in evaluation mode, and the mode to put back after
    _readers = 0
    _was_training = False

    @classmethod
    def settings(cls) -> list[Setting]:
        """The settings a person may change for this model, with their ranges and defaults."""
        return declared_settings(cls.config_class)

    @contextmanager
    def evaluation(self) -> Iterator["CharLM"]:
        """The model in evaluation mode (no dropout) while any reader is inside, then as it was before
        the first. The playground's views, sampler and evaluations read one model from several threads:
        counted, the first reader to finish never turns dropout back on under another."""
        with EVALUATION_LOCK:
            if self._readers == 0:
                self._was_training = self.training
                self.eval()
            self._readers += 1
        try:
            yield self
        finally:
            with EVALUATION_LOCK:
                self._readers -= 1
                if self._readers == 0:
                    self.train(self._was_training)

    def bigram_logits(self) -> torch.Tensor | None:
        """For a model that is a learned table of which character follows which, that table's logits
        (V, V); None for every other model."""
        return None

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        logits, _ = self.decode(idx, None)
        loss = None if targets is None else lm_loss(logits, targets)
        return logits, loss

    def decode(self, idx: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        raise NotImplementedError

    def hidden_matrices(self) -> list[nn.Parameter]:
        """The 2-D weights inside the network, which Muon may train: not the embeddings, nor the output
        layer, whose rows stand for characters (as a tied embedding's do) rather than hidden features."""
        skip = {id(m.weight) for m in self.modules() if isinstance(m, nn.Embedding)}
        head = getattr(self, "lm_head", None)
        if isinstance(head, nn.Linear):
            skip.add(id(head.weight))
        return [p for p in self.parameters() if p.dim() == 2 and p.requires_grad and id(p) not in skip]

    def check_budget(self, steps: int, examples_per_step: int) -> None:
        """Refuse, before training starts, a run this model could not finish in reasonable time (the
        scalar-autograd rung); every other model trains at any size the settings allow."""

    def new_state(self, previous: Any = None) -> Any:
        """The state to start incremental decoding from (None: the model builds it on the first call).
        `previous`, a state this model made for the same batch, may be reused to start again."""
        return None

    @property
    def device(self) -> torch.device:
        return next(iter(self.state_dict().values())).device

    def num_params(self) -> int:
        """Parameters plus persistent buffers (the count bigram's table), each shared tensor once."""
        seen = {id(t): t.numel() for t in self.state_dict(keep_vars=True).values()}
        return sum(seen.values())

    def flops_per_token(self, T: int) -> float:
        """Training FLOPs per token: 6 per weight (forward and backward), the PaLM/nanoGPT estimate."""
        lookups = sum(m.weight.numel() for m in self.modules() if isinstance(m, nn.Embedding))
        return 6.0 * (sum(p.numel() for p in self.parameters()) - lookups)

    def _init_weights(self, module: nn.Module) -> None:
        """Small normal weights and zero biases: the loss at initialisation is close to ln(vocab_size)."""
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)


def with_window(idx: torch.Tensor, window: torch.Tensor | None, width: int, start_token: int) -> torch.Tensor:
    """Prepend a windowed model's last `width` tokens (start tokens at first) to idx: (B, width + T)."""
    if window is None:
        window = torch.full((idx.size(0), width), start_token, dtype=idx.dtype, device=idx.device)
    return torch.cat([window, idx], dim=1)
