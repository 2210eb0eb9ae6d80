"""The transformer's attention weights, replayed from its own modules: softmax(QKᵀ/√d + causal mask)
per layer and head, for the picture; the replay reproduces the model's SDPA output and logits."""

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from charlm.errors import CharlmError
from charlm.inside.reading import Reading, evaluating, last_block, read
from charlm.models import CharLM
from charlm.models.transformer import Transformer


@dataclass
class Attention:
    """Attention weights for one text: weights[layer, head, query, key], each row summing to 1."""

    weights: np.ndarray  # (n_layer, n_head, T, T)
    labels: list[str]  # the characters on both axes, as vocab.label draws them
    chars: list[str]  # the same characters as running text ("\n" ends a line)
    start: int  # where in the text's token stream the block shown begins
    notes: list[str]

    @property
    def n_layer(self) -> int:
        return self.weights.shape[0]

    @property
    def n_head(self) -> int:
        return self.weights.shape[1]


def require_transformer(model: CharLM) -> Transformer:
    if not isinstance(model, Transformer):
        raise CharlmError(
            f"the {model.config.model_type} has no attention; attention is what a transformer does. "
            "Train a transformer to see it."
        )
    return model


def attention_forward(
    model: Transformer, idx: torch.Tensor
) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
    """The model's forward pass on idx (B, T) written out: its logits (B, T, V), the attention weights
    of each layer (B, nh, T, T), and each layer's attention output after c_proj (B, T, C).

    Call it in eval mode (dropout off): it applies no dropout.
    """
    B, T = idx.shape
    if model.config.block_size < T:
        raise CharlmError(f"{T} positions exceed the transformer's block_size {model.config.block_size}.")
    pos = torch.arange(T, device=idx.device)
    x = model.wte(idx) + model.wpe(pos)  # (B, T, C)
    C = x.size(-1)
    causal = torch.ones(T, T, dtype=torch.bool, device=idx.device).tril()
    weights, outputs = [], []
    for block in model.h:
        attn = block.attn
        q, k, v = attn.c_attn(block.ln_1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, attn.n_head, C // attn.n_head).transpose(1, 2) for t in (q, k, v))
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(k.size(-1))  # (B, nh, T, T)
        att = F.softmax(scores.masked_fill(~causal, float("-inf")), dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)  # heads side by side again
        y = attn.c_proj(y)
        weights.append(att)
        outputs.append(y)
        x = x + y
        x = x + block.mlp(block.ln_2(x))
    return model.lm_head(model.ln_f(x)), weights, outputs


def attention(model: CharLM, text: str | Reading) -> Attention:
    """The attention weights of every layer and head on `text` (its last block_size characters when
    it is longer than the model's context; the notes say so)."""
    model = require_transformer(model)
    reading = text if isinstance(text, Reading) else read(model, text)
    ids, start, notes = last_block(reading, model.config.block_size, "transformer")
    with evaluating(model):
        _, weights, _ = attention_forward(model, ids[None].to(model.device))
    stacked = torch.stack([w[0] for w in weights]).float().cpu().numpy()  # (n_layer, n_head, T, T)
    return Attention(stacked, reading.labels[start:], reading.chars[start:], start, notes)
