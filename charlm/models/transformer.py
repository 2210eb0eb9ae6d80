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


class KVCache:
    """Keys and values of every position seen so far: per layer, one buffer (B, 2, nh, block_size, hs)
    holding the keys [:, 0] and the values [:, 1], allocated at the first call, of which the first `pos`
    positions are written. Writing into a buffer, not concatenating, keeps each new character's step
    O(1) in copying (and makes the cache a tool for decoding without gradients: sampling)."""

    def __init__(self, weights: tuple = ()):
        self.weights = weights  # a copy of the model's weights for its one-position step
        self.buffers: list[torch.Tensor] = []
        self.views: list[list[tuple[torch.Tensor, ...]]] = []  # at(P)'s, made once per position
        self.pos = 0  # how many positions the cache holds

    def allocate(self, n_layer: int, shape: tuple[int, ...], like: torch.Tensor) -> None:
        """Buffers for keys and values of `shape` (B, nh, block_size, hs) each, per layer."""
        B, nh, L, hs = shape
        self.buffers = [like.new_empty(B, 2, nh, L, hs) for _ in range(n_layer)]
        self.views = []

    def append(self, layer: int, kv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Write the new keys and values kv (B, 2, nh, T, hs) at positions pos.. of the layer; return its
        keys and values so far, (B, nh, pos + T, hs) each. `pos` moves on once every layer has written."""
        T, P, buffer = kv.size(3), self.pos, self.buffers[layer]
        buffer.narrow(3, P, T).copy_(kv)
        return buffer.narrow(3, 0, P + T).unbind(1)

    def at(self, P: int) -> list[tuple[torch.Tensor, ...]]:
        """Per layer, (the slot (B, 2, nh, 1, hs) for position P's key and value, the keys up to P, the
        values up to P): views of the buffers, made the first time a position is decoded and looked up
        after, since a restarted cache passes the same positions again (each view costs a microsecond
        and a step takes a dozen of them)."""
        while len(self.views) <= P:
            p = len(self.views)
            self.views.append([(b.narrow(3, p, 1), *b.narrow(3, 0, p + 1).unbind(1)) for b in self.buffers])
        return self.views[P]


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
            self.c_attn(x).view(B, T, 3, self.n_head, C // self.n_head).permute(0, 2, 3, 1, 4)
        )  # (B, 3, nh, T, hs)
        q, k, v = qkv.unbind(1)
        mask, causal = None, True
        if cache is not None:
            P = cache.pos
            k, v = cache.append(layer, qkv[:, 1:])
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
        if state is not None and not state.buffers:
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
        model's small matrices each operation's fixed cost is a large part of it: the module calls,
        reshapes and no-op dropouts of the general path cost more than the matmuls
        (bench/sampling_speed.py), so this path has as few operations as it can."""
        C, nh, P = self.config.n_embd, self.config.n_head, cache.pos
        B, shape = idx.size(0), (C,)
        wte, wpe, (ln_f_w, ln_f_b), head, layers = cache.weights
        x = torch.embedding(wte, idx).add_(wpe[P])  # (B, C)
        for weights, (slot, k, v) in zip(layers, cache.at(P)):
            ln_1w, ln_1b, attn_w, attn_b, proj_w, proj_b, ln_2w, ln_2b, fc_w, fc_b, out_w, out_b = weights
            qkv = torch.addmm(attn_b, torch.layer_norm(x, shape, ln_1w, ln_1b), attn_w)
            qkv = qkv.view(B, 3, nh, 1, C // nh)
            slot.copy_(qkv[:, 1:])  # this position's key and value, into the cache
            y = F.scaled_dot_product_attention(qkv[:, 0], k, v)  # (B, nh, 1, hs)
            x = torch.addmm(proj_b, y.view(B, C), proj_w).add_(x)
            # GELU(h) = h/2 (1 + erf(h/sqrt 2)) as z (1 + erf(z)) with z = h/sqrt 2, whose two scales the
            # copies of fc and proj carry: two operations, where F.gelu costs as much as five
            z = torch.addmm(fc_b, torch.layer_norm(x, shape, ln_2w, ln_2b), fc_w)
            x = torch.addmm(out_b, torch.addcmul(z, z, torch.erf(z)), out_w).add_(x)
        return torch.layer_norm(x, shape, ln_f_w, ln_f_b) @ head

    def _weights(self) -> tuple:
        """A copy of the weights for `_step`, made once per cache (looked up through the modules at every
        step, they cost a tenth of it), so that a cache always pairs with the weights it was made with:
        per layer one flat tuple of LayerNorm weight and bias and linear weight and bias, the linear
        layers' weights transposed to (in, out), which one row at a time reads about a third faster, and
        every bias there, zeros where the model has none (one torch.addmm serves either way). The MLP's
        two are scaled for `_step`'s GELU: its first layer's outputs by 1/sqrt 2, its second layer's
        weights by 1/2 * sqrt 2 = 1/sqrt 2."""
        with torch.no_grad():
            norm = lambda m: (m.weight.detach().clone(), None if m.bias is None else m.bias.detach().clone())  # noqa: E731

            def lin(m: nn.Linear, scale: float = 1.0, bias_scale: float = 1.0) -> tuple:
                bias = torch.zeros(m.out_features) if m.bias is None else m.bias.detach() * bias_scale
                return (m.weight.detach() * scale).t().contiguous(), bias.to(m.weight)

            layers = [
                (
                    *norm(b.ln_1),
                    *lin(b.attn.c_attn),
                    *lin(b.attn.c_proj),
                    *norm(b.ln_2),
                    *lin(b.mlp[0], SQRT_HALF, SQRT_HALF),
                    *lin(b.mlp[2], SQRT_HALF),
                )
                for b in self.h
            ]
            head = self.lm_head.weight.detach().t().contiguous()
            return (
                self.wte.weight.detach().clone(),
                self.wpe.weight.detach().clone(),
                norm(self.ln_f),
                head,
                layers,
            )

    def new_state(self, previous: KVCache | None = None) -> KVCache:
        if previous is not None:  # its buffers and its copy of the weights serve again
            previous.pos = 0
            return previous
        return KVCache(self._weights())

    def flops_per_token(self, T: int) -> float:
        """nanoGPT's estimate: 6 per non-position weight, plus attention's 12 * L * T * C."""
        c = self.config
        return 6.0 * (self.num_params() - self.wpe.weight.numel()) + 12 * c.n_layer * T * c.n_embd
