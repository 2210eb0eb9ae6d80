"""Issue 18's figures: during a short run of the issue's transformer on tinyshakespeare (text mode), the
old estimate (the first eval_tokens of the validation split), the new one (a fixed random sample of
windows, ± its standard error) and the whole split, at each evaluation.

    OMP_NUM_THREADS=1 python bench/honest_eval.py [--steps 300] [--eval-interval 100]

The spread column is the standard deviation of the estimate over 200 other samples of the same size,
drawn from this evaluation's per-window losses: what the stated error should match.
"""

import argparse
import math
import time

import torch
from common import data_file, machine

from charlm.data import eval_spans, read_text, sample_windows
from charlm.models import MODELS
from charlm.train import TrainConfig, new_trainer, ratio_estimate, window_losses

# the nanoGPT-blog settings, text mode
SETTINGS = dict(n_layer=3, n_head=4, n_embd=256, block_size=256, dropout=0.2)
DRAWS = 200


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--eval-interval", type=int, default=100)
    args = parser.parse_args()
    torch.set_num_threads(1)  # the machine is shared
    text = read_text(data_file("tinyshakespeare.txt"))
    config = TrainConfig(
        steps=args.steps,
        batch_size=16,
        eval_interval=args.eval_interval,
        lr=MODELS["transformer"].default_lr,
        device="cpu",
    )
    start = time.perf_counter()
    trainer = new_trainer(text, "text", "transformer", config, **SETTINGS)
    val, T = trainer.corpus.val, trainer.T
    windows = len(eval_spans(val, T)[0])
    sample = trainer.eval_sample["val"]
    print(
        f"tinyshakespeare, text mode, transformer {SETTINGS}, batch 16, {args.steps} steps, seed {config.seed}; "
        f"validation: {len(val.tokens):,} tokens in {windows} windows of {T}; each estimate reads "
        f"{len(sample)} of them (eval_tokens {config.eval_tokens:,}); {machine()}"
    )
    print(
        f"{'step':>6} {'first 32,768 (old)':>18} {'sample ± s.e. (new)':>20} {'whole split':>11} "
        f"{'old − whole':>11} {'new − whole':>11} {'(new − whole)/s.e.':>18} {'spread':>7}"
    )
    for event in trainer.run():
        if event.val_loss is None:
            continue
        losses, counts = window_losses(trainer.model, val, T)  # every window of the split, once
        whole = float(losses.sum() / counts.sum())
        k = max(1, config.eval_tokens // T)  # the windows evaluate(..., max_tokens=eval_tokens) read
        old = float(losses[:k].sum() / counts[:k].sum())
        draws = [
            ratio_estimate(losses[s], counts[s], windows)[0]
            for s in (
                sample_windows(val, T, config.eval_tokens, torch.Generator().manual_seed(seed))
                for seed in range(1, DRAWS + 1)
            )
        ]
        spread = torch.tensor(draws, dtype=torch.float64).std().item()
        new, err = event.val_loss, event.val_loss_err
        print(
            f"{event.step:>6} {old:>18.4f} {f'{new:.4f} ± {err:.4f}':>20} {whole:>11.4f} "
            f"{old - whole:>+11.4f} {new - whole:>+11.4f} {(new - whole) / err:>+18.2f} {spread:>7.4f}"
        )
    print(
        f"(ln V = {math.log(trainer.corpus.vocab.size):.4f}: a uniform guess; "
        f"{time.perf_counter() - start:.0f} s wall, evaluations included)"
    )


if __name__ == "__main__":
    main()
