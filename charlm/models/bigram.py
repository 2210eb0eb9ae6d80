"""The first two rungs: the count bigram (a table of counts) and the neural bigram (a table of logits
learned by gradient descent). Both predict the next character from the current one alone."""

from dataclasses import dataclass

import torch
import torch.nn as nn

from charlm.data import Split
from charlm.models.base import CharLM, ModelConfig, setting


@dataclass
class BigramConfig(ModelConfig):
    model_type: str = "bigram"
    block_size: int = 1
    smoothing: float = setting(1.0)  # added to every count, so no pair is impossible ("add-one" smoothing)


class CountBigram(CharLM):
    """P(next | current) = (count + smoothing) / row total. "Training" is counting."""

    config_class = BigramConfig
    title = "Count bigram"
    description = (
        "Counts how often each character follows each other character and predicts from those counts. "
        "Nothing to train step by step: counting is instant. The baseline every other model must beat."
    )
    default_steps = 1  # one pass of counting
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
    title = "Neural bigram"
    description = (
        "The same table of *which character follows which*, but as logits learned by gradient descent "
        "instead of counted. It ends up close to the count bigram: compare them in the Bigram table tab."
    )
    default_lr = 0.1  # one row of the table moves per character: AdamW at 1e-3 would take ages
    default_steps = 500
    windowed = True

    def __init__(self, config: NeuralBigramConfig):
        super().__init__()
        self.config = config
        self.table = nn.Parameter(torch.zeros(config.vocab_size, config.vocab_size))  # uniform at start

    def decode(self, idx, state=None):
        return self.table[idx], None

    def bigram_logits(self) -> torch.Tensor:
        return self.table.detach()

    def flops_per_token(self, T: int) -> float:
        return 6.0 * self.config.vocab_size  # a row lookup, its softmax and the update of one row
