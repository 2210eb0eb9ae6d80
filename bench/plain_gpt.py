"""A plain reference loop, nanoGPT-style: the baby GPT on tinyshakespeare in eager PyTorch, with no
charlm code, to measure what charlm's own loop costs beyond the arithmetic.

    python bench/plain_gpt.py [--steps 2000] [--lr 3e-3]

The model is charlm's transformer (learned positions, pre-LayerNorm, biases, tied embeddings, GELU);
the loop is nanoGPT's train.py reduced to the CPU: warmup and cosine decay to lr/10, AdamW with decay
on matrices, clipping at 1, and 20 batches per split estimated every 250 steps. Prints one JSON line.
"""

import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from common import data_file


class Block(nn.Module):
    def __init__(self, C: int, n_head: int):
        super().__init__()
        self.n_head = n_head
        self.ln_1, self.ln_2 = nn.LayerNorm(C), nn.LayerNorm(C)
        self.c_attn, self.c_proj = nn.Linear(C, 3 * C), nn.Linear(C, C)
        self.mlp = nn.Sequential(nn.Linear(C, 4 * C), nn.GELU(), nn.Linear(4 * C, C))

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = (
            t.view(B, T, self.n_head, -1).transpose(1, 2) for t in self.c_attn(self.ln_1(x)).split(C, 2)
        )
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, C)
        x = x + self.c_proj(y)
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, V: int, T: int, n_layer: int, n_head: int, C: int):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(V, C), nn.Embedding(T, C)
        self.h = nn.Sequential(*[Block(C, n_head) for _ in range(n_layer)])
        self.ln_f, self.lm_head = nn.LayerNorm(C), nn.Linear(C, V, bias=False)
        self.lm_head.weight = self.wte.weight
        for name, p in self.named_parameters():  # GPT-2's initialisation, residual projections scaled
            if p.dim() >= 2:
                std = (
                    0.02 / math.sqrt(2 * n_layer)
                    if name.endswith(("c_proj.weight", "mlp.2.weight"))
                    else 0.02
                )
                nn.init.normal_(p, std=std)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def forward(self, idx, targets=None):
        x = self.wte(idx) + self.wpe(torch.arange(idx.size(1)))
        logits = self.lm_head(self.ln_f(self.h(x)))
        return logits, None if targets is None else F.cross_entropy(logits.flatten(0, 1), targets.flatten())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--lr", type=float, default=3e-3)
    a = p.parse_args()
    start = time.perf_counter()
    torch.manual_seed(1337)
    text = data_file("tinyshakespeare.txt").read_text()
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([stoi[c] for c in text])
    n = int(0.9 * len(data))
    splits = {"train": data[:n], "val": data[n:]}
    B, T, warmup, min_lr = 12, 64, 100, a.lr / 10

    def get_batch(split):
        d = splits[split]
        ix = torch.randint(len(d) - T, (B,))
        return torch.stack([d[i : i + T] for i in ix]), torch.stack([d[i + 1 : i + 1 + T] for i in ix])

    def lr_at(it):  # nanoGPT's get_lr
        if it < warmup:
            return a.lr * (it + 1) / (warmup + 1)
        ratio = (it - warmup) / (a.steps - warmup)
        return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (a.lr - min_lr)

    @torch.no_grad()
    def estimate_loss():
        model.eval()
        out = {s: torch.stack([model(*get_batch(s))[1] for _ in range(20)]).mean().item() for s in splits}
        model.train()
        return out

    model = GPT(len(chars), T, 4, 4, 128)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}]
    optimizer = torch.optim.AdamW(groups, lr=a.lr, betas=(0.9, 0.99))
    loop = time.perf_counter()
    for it in range(a.steps + 1):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(it)
        if it % 250 == 0 or it == a.steps:
            losses = estimate_loss()
        if it == a.steps:
            break
        _, loss = model(*get_batch("train"))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    end = time.perf_counter()
    with torch.no_grad():  # the whole validation split in windows of T, as charlm measures it
        model.eval()
        v, N = splits["val"], (len(splits["val"]) - 1) // T
        x, y = v[: N * T].view(N, T), v[1 : N * T + 1].view(N, T)
        total = sum(
            F.cross_entropy(model(xb)[0].flatten(0, 1), yb.flatten(), reduction="sum").item()
            for xb, yb in zip(x.split(256), y.split(256))
        )
        if len(v) - 1 > N * T:  # the last, shorter window
            total += F.cross_entropy(model(v[N * T : -1][None])[0][0], v[N * T + 1 :], reduction="sum").item()
    out = {"val_loss": total / (len(v) - 1), "val_estimate": losses["val"], "steps": a.steps}
    out |= {"loop_seconds": end - loop, "tokens_per_second": a.steps * B * T / (end - loop)}
    out["seconds_to_trained"] = end - start
    print(json.dumps(out))


if __name__ == "__main__":
    main()
