"""Recurrent models: a vanilla RNN, a GRU and an LSTM, one class each over one shared base, built on
torch's modules. The hidden state carries everything seen so far, so decoding one more character is
one step."""

from dataclasses import dataclass

import torch.nn as nn

from charlm.models.base import CharLM, ModelConfig, setting


@dataclass
class RNNConfig(ModelConfig):
    model_type: str = "lstm"  # which cell: "rnn", "gru" or "lstm"
    block_size: int = setting(32, "Characters per training window: backpropagation through time stops there.")
    n_embd: int = setting(32)
    n_hidden: int = setting(128, "Size of the hidden state carried from character to character.")
    n_layer: int = setting(1, "How many recurrent layers are stacked.")
    dropout: float = setting(0.1)  # between stacked layers and before the read-out


class RecurrentLM(CharLM):
    """What the three recurrent rungs share; each subclass names its torch cell."""

    config_class = RNNConfig
    cell_class: type[nn.Module] = nn.RNN
    default_lr = 3e-3
    default_steps = 800

    def __init__(self, config: RNNConfig):
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.cell = self.cell_class(
            config.n_embd,
            config.n_hidden,
            num_layers=config.n_layer,
            batch_first=True,
            dropout=config.dropout if config.n_layer > 1 else 0.0,
        )
        self.drop = nn.Dropout(config.dropout)
        self.lm_head = nn.Linear(config.n_hidden, config.vocab_size)
        self.apply(self._init_weights)  # the cell keeps torch's own initialisation

    def decode(self, idx, state=None):
        out, state = self.cell(self.wte(idx), state)  # (B, T, n_hidden)
        return self.lm_head(self.drop(out)), state


class RNN(RecurrentLM):
    title = "RNN"
    description = "Reads one character at a time and carries a hidden state that sums up everything so far."
    cell_class = nn.RNN


class GRU(RecurrentLM):
    title = "GRU"
    description = "An RNN with gates that decide what to keep and what to forget; remembers longer."
    cell_class = nn.GRU


class LSTM(RecurrentLM):
    title = "LSTM"
    description = (
        "An RNN with a separate memory cell and gates: the classic character-level model (char-rnn)."
    )
    cell_class = nn.LSTM
