"""Recurrent models: a vanilla RNN, a GRU and an LSTM behind one class, built on torch's modules.
The hidden state carries everything seen so far, so decoding one more character is one step."""

from dataclasses import dataclass

import torch.nn as nn

from charlm.models.base import CharLM, ModelConfig

CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


@dataclass
class RNNConfig(ModelConfig):
    model_type: str = "lstm"  # which cell: "rnn", "gru" or "lstm"
    block_size: int = 64  # characters per training window (backpropagation through time stops there)
    n_embd: int = 64
    n_hidden: int = 256
    n_layer: int = 1
    dropout: float = 0.0  # between stacked layers and before the read-out


class RecurrentLM(CharLM):
    config_class = RNNConfig

    def __init__(self, config: RNNConfig):
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.cell = CELLS[config.model_type](
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
