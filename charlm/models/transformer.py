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


SQRT_HALF = math.sqrt(0.5)


def linear(x: torch.Tensor, weight_t: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """x (B, in) @ weight_t (in, out) + bias: F.linear with the weight stored transposed."""
    return x @ weight_t if bias is None else torch.addmm(bias, x, weight_t)


class KVCache:
    """Keys and values of every position seen so far: per layer, a buffer (B, nh, block_size, hs) of
    keys and one of values, allocated at the first call, of which the first `pos` positions are
    written. Writing into a buffer, not concatenating, keeps each new character's step O(1) in copying
    (and makes the cache a tool for decoding without gradients: sampling)."""

    def __init__(self, weights: tuple = ()):
        self.weights = weights  # a copy of the model's weights for its one-position step
        self.keys: list[torch.Tensor] = []
        self.values: list[torch.Tensor] = []
        self.pos = 0  # how many positions the cache holds

    def allocate(self, n_layer: int, shape: tuple[int, ...], like: torch.Tensor) -> None:
        self.keys = [like.new_empty(shape) for _ in range(n_layer)]
        self.values = [like.new_empty(shape) for _ in range(n_layer)]

    def append(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Write the new keys and values k, v (B, nh, T, hs) at positions pos.. of the layer; return its
        keys and values so far (B, nh, pos + T, hs). `pos` moves on once every layer has written."""
        T, P = k.size(2), self.pos
        self.keys[layer].narrow(2, P, T).copy_(k)
        self.values[layer].narrow(2, P, T).copy_(v)
        return self.keys[layer].narrow(2, 0, P + T), self.values[layer].narrow(2, 0, P + T)


class CausalSelfAttention(nn.Module):
    def __init__(self, config: TransformerConfig):
        super().__init__()
        assert config.n_embd % config.n_head == 0, "n_embd must be a multiple of n_head"
        self.n_head = config.n_head
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
            P = cache.pos
            k, v = cache.append(layer, k, v)
            # with positions already cached, query i (at position P + i) sees keys 0..P + i; one new
            # query sees every key, so it needs no mask
            causal = P == 0
            if P > 0 and T > 1:
                mask = torch.arange(P + T, device=x.device) <= P + torch.arange(T, device=x.device)[:, None]
        # no dropout on the attention weights: on names it cost 0.005 nats against the same dropout
        # on the residual branches alone (bench/names_ladder.py)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)
        y = y.transpose(1, 2).reshape(B, T, C)
        return self.resid_dropout(self.c_proj(y))


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
        if state is not None and not state.keys:
            c = self.config
            state.allocate(c.n_layer, (B, c.n_head, c.block_size, c.n_embd // c.n_head), self.wte.weight)
        if T == 1 and start > 0 and not self.training:
            logits = self._step(idx[:, 0], state)[:, None]
        else:
            pos = torch.arange(start, start + T, device=idx.device)
            x = self.drop(self.wte(idx) + self.wpe(pos))  # (B, T, C)
            for i, block in enumerate(self.h):
                x = block(x, state, i)
            logits = self.lm_head(self.ln_f(x))
        if state is not None:
            state.pos += T
        return logits, state

    def _step(self, idx: torch.Tensor, cache: KVCache) -> torch.Tensor:
        """The logits (B, V) after one more character idx (B,) per row, in eval mode, without gradients:
        the blocks' own arithmetic written out as functional calls on the cache's copy of the weights, on
        (B, C) rather than (B, 1, C). When sampling, this step is nearly all the time, and on this
        model's small matrices the module calls, reshapes and no-op dropouts of the general path cost
        more than the matmuls (bench/sampling_speed.py)."""
        C, nh, P = self.config.n_embd, self.config.n_head, cache.pos
        B = idx.size(0)
        wte, wpe, ln_f, head, layers = cache.weights
        x = F.embedding(idx, wte) + wpe[P]  # (B, C)
        for i, (ln_1, c_attn, c_proj, ln_2, fc, proj) in enumerate(layers):
            q, k, v = linear(torch.layer_norm(x, (C,), *ln_1), *c_attn).view(B, 3, nh, 1, C // nh).unbind(1)
            y = F.scaled_dot_product_attention(q, *cache.append(i, k, v))  # (B, nh, 1, hs)
            x = x + linear(y.view(B, C), *c_proj)
            # GELU(h) = h/2 (1 + erf(h/sqrt 2)) as z (1 + erf(z)) with z = h/sqrt 2, whose two scales the
            # copies of fc and proj carry: two operations, where F.gelu costs as much as five
            z = linear(torch.layer_norm(x, (C,), *ln_2), *fc)
            x = x + linear(torch.addcmul(z, z, torch.erf(z)), *proj)
        return linear(torch.layer_norm(x, (C,), *ln_f), *head)

    def _weights(self) -> tuple:
        """A copy of the weights for `_step`, made once per cache (looked up through the modules at every
        step, they cost a tenth of it), so that a cache always pairs with the weights it was made with:
        the linear layers' weights transposed to (in, out), which one row at a time reads about a third
        faster, and (weight, bias) of the LayerNorms. The MLP's two are scaled for `_step`'s GELU: its
        first layer's outputs by 1/sqrt 2, its second layer's weights by 1/2 * sqrt 2 = 1/sqrt 2."""
        with torch.no_grad():
            copy = lambda t, scale=1.0: None if t is None else t.detach() * scale  # noqa: E731
            norm = lambda m: (copy(m.weight), copy(m.bias))  # noqa: E731
            lin = lambda m, scale=1.0, bias_scale=1.0: (  # noqa: E731
                copy(m.weight, scale).t().contiguous(),
                copy(m.bias, bias_scale),
            )
            layers = [
                (
                    norm(b.ln_1),
                    lin(b.attn.c_attn),
                    lin(b.attn.c_proj),
                    norm(b.ln_2),
                    lin(b.mlp[0], SQRT_HALF, SQRT_HALF),
                    lin(b.mlp[2], SQRT_HALF),
                )
                for b in self.h
            ]
            return copy(self.wte.weight), copy(self.wpe.weight), norm(self.ln_f), lin(self.lm_head), layers

    def new_state(self, previous: KVCache | None = None) -> KVCache:
        if previous is not None:  # its buffers and its copy of the weights serve again
            previous.pos = 0
            return previous
        return KVCache(self._weights())

    def flops_per_token(self, T: int) -> float:
        """nanoGPT's estimate: 6 per non-position weight, plus attention's 12 * L * T * C."""
        c = self.config
        return 6.0 * (self.num_params() - self.wpe.weight.numel()) + 12 * c.n_layer * T * c.n_embd
