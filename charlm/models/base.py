"""What every model shares: the config fields that rebuild its vocabulary, the one loss function,
and the base class with `forward(idx, targets) -> (logits, loss)` and incremental `decode`."""

# No `from __future__ import annotations` here or in any model module: PyTorchModelHubMixin rebuilds
# the config dataclass from the raw annotation of `__init__(self, config: SomeConfig)`.
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin

from charlm.data import Vocab


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
    windowed = False  # reads a fixed window (bigram, MLP): trains on sequences longer than its context
    trained_by_counting = False  # the count bigram: `fit` replaces gradient descent
    trains_itself = False  # the NumPy models: `loss_and_grads` and `sgd_step` replace autograd and AdamW
    default_lr = 1e-3  # the peak learning rate to use when none is given (AdamW's; plain SGD needs more)
    max_context: int | None = None  # positions one state can hold before it must be re-primed

    config: ModelConfig

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        logits, _ = self.decode(idx, None)
        loss = None if targets is None else lm_loss(logits, targets)
        return logits, loss

    def decode(self, idx: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        raise NotImplementedError

    def new_state(self) -> Any:
        """The state to start incremental decoding from (None: the model builds it on the first call)."""
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
