"""A GPT in the style of nanoGPT: learned positions, pre-LayerNorm blocks of causal self-attention
(through F.scaled_dot_product_attention) and an MLP, tied input and output embeddings.
Decoding keeps a key/value cache, so each new character attends to the cache in one step."""

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from charlm.models.base import CharLM, ModelConfig, setting
from charlm.recipes import speedrun_transformer


@dataclass
class TransformerConfig(ModelConfig):
    model_type: str = "transformer"
    block_size: int = setting(32, "How many previous characters attention can reach (learned positions).")
    n_layer: int = setting(2, "How many transformer blocks are stacked: more capacity, slower.")
    n_head: int = setting(4)
    n_embd: int = setting(32, "Width of the residual stream: each character's vector, in every layer.")
    # on the embeddings and each residual branch, not on the attention weights
    dropout: float = setting(0.1)
    bias: bool = True  # biases in the linear layers and LayerNorms (nanoGPT's baby GPT has none)


class KVCache:
    """Keys and values of every position seen so far: per layer, one buffer (2, B, nh, block_size, hs)
    of keys and values allocated at the first call, of which the first `filled[layer]` positions are
    written. Writing into a buffer, not concatenating, keeps each new character's step O(1) in copying."""

    def __init__(self, n_layer: int):
        self.layers: list[torch.Tensor | None] = [None] * n_layer
        self.filled = [0] * n_layer
        self.pos = 0  # how many positions the cache holds


class CausalSelfAttention(nn.Module):
    def __init__(self, config: TransformerConfig):
        super().__init__()
        assert config.n_embd % config.n_head == 0, "n_embd must be a multiple of n_head"
        self.n_head = config.n_head
        self.block_size = config.block_size  # the cache's capacity
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        B, T, C = x.shape
        qkv = (
            self.c_attn(x).view(B, T, 3, self.n_head, C // self.n_head).permute(2, 0, 3, 1, 4)
        )  # (3, B, nh, T, hs)
        q, k, v = qkv.unbind(0)
        mask, causal = None, True
        if cache is not None:
            k, v, mask, causal = self._cached(cache, layer, qkv[1:])
        # no dropout on the attention weights: on names it cost 0.005 nats against the same dropout
        # on the residual branches alone (bench/names_ladder.py)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)
        y = y.transpose(1, 2).reshape(B, T, C)
        return self.resid_dropout(self.c_proj(y))

    def _cached(self, cache: KVCache, layer: int, kv: torch.Tensor):
        """Write the new keys and values kv (2, B, nh, T, hs) into the layer's buffer; return all keys
        and values so far (B, nh, P+T, hs) and the mask that lets query i, at position P+i, see keys 0..P+i."""
        _, B, nh, T, hs = kv.shape
        if cache.layers[layer] is None:
            cache.layers[layer] = kv.new_empty((2, B, nh, self.block_size, hs))
        P = cache.filled[layer]
        cache.layers[layer][:, :, :, P : P + T] = kv
        cache.filled[layer] = P + T
        k, v = cache.layers[layer][:, :, :, : P + T].unbind(0)
        if P == 0:
            return k, v, None, True
        if T == 1:  # one new query sees every key: no mask to build
            return k, v, None, False
        mask = (
            torch.arange(P + T, device=k.device)[None, :] <= (P + torch.arange(T, device=k.device))[:, None]
        )
        return k, v, mask, False


class Block(nn.Module):
    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = nn.Sequential(
            nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias),
            nn.GELU(),
            nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias),
            nn.Dropout(config.dropout),
        )

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), cache, layer)
        return x + self.mlp(self.ln_2(x))


class Transformer(CharLM):
    config_class = TransformerConfig
    large_text_recipe = staticmethod(speedrun_transformer)  # charlm.recipes: measured on tinyshakespeare
    title = "Transformer"
    description = (
        "A small GPT: every character looks back at the earlier characters of its context through "
        "self-attention. The architecture behind today's large language models."
    )

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.config = config
        self.max_context = config.block_size
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.block_size, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.h = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # tied: one matrix reads characters in and writes them out
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # GPT-2: scale residual projections by depth
            if name.endswith("c_proj.weight") or name.endswith("mlp.2.weight"):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * config.n_layer))

    def decode(self, idx, state=None):
        B, T = idx.shape
        start = 0 if state is None else state.pos
        if start + T > self.config.block_size:
            raise ValueError(f"{start + T} positions exceed block_size {self.config.block_size}")
        pos = torch.arange(start, start + T, device=idx.device)
        x = self.drop(self.wte(idx) + self.wpe(pos))  # (B, T, C)
        for i, block in enumerate(self.h):
            x = block(x, state, i)
        if state is not None:
            state.pos += T
        return self.lm_head(self.ln_f(x)), state

    def new_state(self) -> KVCache:
        return KVCache(self.config.n_layer)

    def flops_per_token(self, T: int) -> float:
        """nanoGPT's estimate: 6 per non-position weight, plus attention's 12 * L * T * C."""
        c = self.config
        return 6.0 * (self.num_params() - self.wpe.weight.numel()) + 12 * c.n_layer * T * c.n_embd
