"""The MLP of Bengio et al. (2003), as in makemore: embed the previous `block_size` characters,
concatenate, pass through tanh (or relu) hidden layers, read out logits."""

from dataclasses import dataclass

import torch.nn as nn

from charlm.models.base import CharLM, ModelConfig, setting, with_window


@dataclass
class MLPConfig(ModelConfig):
    model_type: str = "mlp"
    block_size: int = setting(4)  # characters of context
    n_embd: int = setting(16)  # size of each character's embedding
    n_hidden: int = setting(128, "Width of each hidden layer.")
    n_layer: int = setting(1, "How many hidden layers are stacked.")
    dropout: float = setting(0.0)
    activation: str = setting("tanh")


class MLP(CharLM):
    config_class = MLPConfig
    title = "MLP"
    description = (
        "Bengio et al. (2003), as in makemore: looks at the last few characters, turns each into a vector "
        "(its embedding) and passes them through a hidden layer."
    )
    default_lr = 3e-3
    windowed = True

    def __init__(self, config: MLPConfig):
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        layers: list[nn.Module] = []
        width = config.block_size * config.n_embd
        activation = {"tanh": nn.Tanh, "relu": nn.ReLU}[config.activation]
        for _ in range(config.n_layer):
            layers += [nn.Linear(width, config.n_hidden), activation(), nn.Dropout(config.dropout)]
            width = config.n_hidden
        self.hidden = nn.Sequential(*layers)
        self.lm_head = nn.Linear(width, config.vocab_size)
        self.apply(self._init_weights)
        # hidden layers want a larger scale than 0.02 to learn quickly: Kaiming's, with the gain that keeps
        # the activations' size from layer to layer (5/3 for tanh, sqrt(2) for relu, which zeroes half)
        gain = {"tanh": 5 / 3, "relu": 2**0.5}[config.activation]
        for m in self.hidden:
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=gain / m.in_features**0.5)

    def decode(self, idx, state=None):
        bs = self.config.block_size
        padded = with_window(idx, state, bs - 1, self.config.vocab.start_token)  # (B, bs-1+T)
        windows = padded.unfold(1, bs, 1)  # (B, T, bs): the context of each position, oldest first
        B, T, _ = windows.shape
        x = self.wte(windows).view(B, T, bs * self.config.n_embd)
        return self.lm_head(self.hidden(x)), padded[:, padded.size(1) - (bs - 1) :]
