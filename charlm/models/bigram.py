"""The first two rungs: the count bigram (a table of counts) and the neural bigram (a table of logits
learned by gradient descent). Both predict the next character from the current one alone."""

from dataclasses import dataclass

import torch
import torch.nn as nn

from charlm.data import Split
from charlm.models.base import CharLM, ModelConfig


@dataclass
class BigramConfig(ModelConfig):
    model_type: str = "bigram"
    block_size: int = 1
    smoothing: float = 1.0  # added to every count, so no pair is impossible ("add-one" smoothing)


class CountBigram(CharLM):
    """P(next | current) = (count + smoothing) / row total. "Training" is counting."""

    config_class = BigramConfig
    windowed = True
    trained_by_counting = True

    def __init__(self, config: BigramConfig):
        super().__init__()
        self.config = config
        V = config.vocab_size
        self.register_buffer("counts", torch.zeros(V, V))

    def fit(self, split: Split) -> None:
        """Count every (current, next) pair of the stream in one bincount."""
        V = self.config.vocab_size
        pairs = split.tokens[:-1] * V + split.tokens[1:]
        self.counts.copy_(torch.bincount(pairs, minlength=V * V).view(V, V).to(self.counts))

    def log_probs(self) -> torch.Tensor:
        smoothed = self.counts + self.config.smoothing
        return (smoothed / smoothed.sum(1, keepdim=True)).log()  # (V, V)

    def decode(self, idx, state=None):
        return self.log_probs()[idx], None  # log-probabilities are valid logits


@dataclass
class NeuralBigramConfig(ModelConfig):
    model_type: str = "neural-bigram"
    block_size: int = 1


class NeuralBigram(CharLM):
    """A V x V table of logits: row i holds the logits of the character after character i."""

    config_class = NeuralBigramConfig
    windowed = True

    def __init__(self, config: NeuralBigramConfig):
        super().__init__()
        self.config = config
        self.table = nn.Parameter(torch.zeros(config.vocab_size, config.vocab_size))  # uniform at start

    def decode(self, idx, state=None):
        return self.table[idx], None

    def flops_per_token(self, T: int) -> float:
        return 6.0 * self.config.vocab_size  # a row lookup, its softmax and the update of one row
