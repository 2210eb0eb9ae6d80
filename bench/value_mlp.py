"""The scalar-autograd rung on the from-scratch course's own experiment, and how much slower it is.

    OMP_NUM_THREADS=1 python bench/value_mlp.py [--epochs 3] [--budget 600]

(a) A five-sentence text (written for charlm), context 8, embeddings 32, two relu layers of 128, plain
SGD at lr 0.01 on one example at a time, every window of the text once per epoch in a shuffled order:
the loss after each epoch with value-mlp and with PyTorch's mlp (relu, 2 layers) from the same weights.
(b) Examples per second of value-mlp, numpy-mlp and mlp at the same sizes, one example per step and in
batches of 256, and their ratios. If value-mlp's epochs would take longer than --budget seconds, it
trains on a shuffled share of the windows each epoch, and says so.
"""

import argparse
import math
import os
import random
import sys
import time

if __name__ == "__main__":  # BLAS reads its thread count once, when NumPy is first imported
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", os.environ["OMP_NUM_THREADS"])

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from common import machine  # noqa: E402

from charlm.data import Vocab  # noqa: E402
from charlm.models import build_model, model_config  # noqa: E402
from charlm.models.value_mlp import ValueMLP  # noqa: E402

TEXT = (
    "The lighthouse keeper counted the ships that passed before the storm arrived. "
    "Every evening she wrote their names in a small blue book beside the lamp. "
    "When the fog rolled in, the ships slowed down and sounded their horns. "
    "She answered each horn with a long beam of light across the water. "
    "In the morning the sea was calm again, and the book had three new names."
)
SIZES = dict(block_size=8, n_embd=32, n_hidden=128)
LR, SEED = 0.01, 1337


def windows(vocab: Vocab, text: str, block_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Every (context, next character) of the text, the first ones read after start tokens."""
    ids = [vocab.start_token] * block_size + vocab.encode(text)
    ctx = np.array([ids[i - block_size : i] for i in range(block_size, len(ids))])
    return ctx, np.array(ids[block_size:])


def text_loss(model, ctx: np.ndarray, targets: np.ndarray) -> float:
    """Mean loss over every window of the text (value-mlp through its NumPy forward: the same logits)."""
    with torch.no_grad():
        if isinstance(model, ValueMLP):
            logits = torch.from_numpy(model.numpy_forward(model.weights(), ctx)[0])
        else:
            logits = torch_logits(model, torch.from_numpy(ctx))
    return F.cross_entropy(logits.float(), torch.from_numpy(targets)).item()


def torch_logits(mlp, ctx: torch.Tensor) -> torch.Tensor:
    return mlp.lm_head(mlp.hidden(mlp.wte(ctx).view(len(ctx), -1)))  # (N, V)


def value_step(model: ValueMLP, ctx: np.ndarray, targets: np.ndarray, lr: float) -> float:
    loss, grads = model.hand_gradients(model.weights(), ctx, targets)
    model.sgd_step(grads, lr)
    return loss


def torch_step(mlp, ctx: np.ndarray, targets: np.ndarray, lr: float) -> float:
    loss = F.cross_entropy(torch_logits(mlp, torch.from_numpy(ctx)), torch.from_numpy(targets))
    mlp.zero_grad(set_to_none=True)
    loss.backward()
    with torch.no_grad():
        for p in mlp.parameters():
            p -= lr * p.grad
    return loss.item()


def numpy_step(model, ctx: np.ndarray, targets: np.ndarray, lr: float) -> float:
    loss, grads = model.hand_gradients(model.weights(), ctx, targets)
    model.sgd_step(grads, lr)
    return loss


def course(epochs: int, budget: float) -> float:
    """(a); returns value-mlp's examples per second."""
    vocab = Vocab("".join(sorted(set(TEXT))), False)
    ctx, targets = windows(vocab, TEXT, SIZES["block_size"])
    torch.manual_seed(SEED)
    value = build_model(model_config("value-mlp", chars=vocab.chars, **SIZES))
    mlp = value.torch_twin().float()  # the same starting weights
    n = len(targets)
    nodes = ValueMLP.nodes_per_example(value.config)
    estimate = ValueMLP.estimated_seconds(value.config, epochs, n)
    per_epoch = n if estimate <= budget else max(1, int(n * budget / estimate))
    print(
        f"(a) {len(TEXT)} characters, {len(sentences := TEXT.split('. '))} sentences, vocabulary {vocab.size}, "
        f"{n} windows; context {SIZES['block_size']}, embeddings {SIZES['n_embd']}, two relu layers of "
        f"{SIZES['n_hidden']}; SGD lr {LR}, one example per step; {nodes:,} Values per example"
    )
    assert len(sentences) == 5
    if per_epoch < n:
        print(
            f"    value-mlp's {epochs} epochs would take about {estimate / 60:.0f} minutes here: it trains on "
            f"{per_epoch} of the {n} windows each epoch (shuffled), and the loss is still over all of them"
        )
    print(f"    start: loss {text_loss(value, ctx, targets):.4f} (both models: the same weights)")
    speed = 0.0
    for name, model, step, share in (
        ("value-mlp", value, value_step, per_epoch),
        ("mlp (relu, 2 layers)", mlp, torch_step, n),
    ):
        rng = random.Random(SEED)
        start = time.perf_counter()
        for epoch in range(1, epochs + 1):
            order = list(range(n))
            rng.shuffle(order)
            running = [step(model, ctx[i : i + 1], targets[i : i + 1], LR) for i in order[:share]]
            loss = text_loss(model, ctx, targets)
            print(
                f"    {name:21} epoch {epoch}: loss over the text {loss:.4f} (perplexity "
                f"{math.exp(loss):.2f}), mean during the epoch {np.mean(running):.4f}; "
                f"{time.perf_counter() - start:.1f} s so far"
            )
        if model is value:
            speed = epochs * share / (time.perf_counter() - start)
    return speed


def throughput(value_speed: float, seconds: float = 5.0) -> None:
    """(b): examples per second, one example per step and in batches of 256."""
    vocab = Vocab("".join(sorted(set(TEXT))), False)
    ctx, targets = windows(vocab, TEXT, SIZES["block_size"])
    torch.manual_seed(SEED)
    models = {
        "numpy-mlp": build_model(model_config("numpy-mlp", chars=vocab.chars, **SIZES)),
        "mlp": build_model(model_config("mlp", chars=vocab.chars, n_layer=2, activation="relu", **SIZES)),
    }
    steps = {"numpy-mlp": numpy_step, "mlp": torch_step}
    print(
        f"(b) examples per second at context {SIZES['block_size']}, embeddings {SIZES['n_embd']}, hidden "
        f"{SIZES['n_hidden']} (numpy-mlp has its one tanh layer; mlp and value-mlp two relu layers)"
    )
    print(f"    {'':10} {'1 per step':>12} {'256 per step':>13}   value-mlp is slower by")
    rows = {"value-mlp": (value_speed, value_speed)}
    for name, model in models.items():
        speeds = []
        for batch in (1, 256):
            rng = np.random.default_rng(0)
            done, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds:
                i = rng.integers(0, len(targets), batch)
                steps[name](model, ctx[i], targets[i], LR)
                done += batch
            speeds.append(done / (time.perf_counter() - start))
        rows[name] = tuple(speeds)
    for name, (one, many) in rows.items():
        ratio = "" if name == "value-mlp" else f"{one / value_speed:,.0f}x, {many / value_speed:,.0f}x"
        print(f"    {name:10} {one:12,.1f} {many:13,.1f}   {ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--budget", type=float, default=600.0, help="seconds value-mlp may train for")
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    print(machine())
    throughput(course(args.epochs, args.budget))


if __name__ == "__main__":
    sys.exit(main())
