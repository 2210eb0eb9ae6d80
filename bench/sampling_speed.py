"""Sampling speed in characters per second at block size 256: with the incremental state (the
transformer's key/value cache, the LSTM's hidden state) and with a full re-run over the context, one
sample streamed with its explanations (`stream`), and 1 or 16 samples as one batch (`sample`).

The cached and re-run runs of a figure alternate, `--repeats` rounds of one each: the speed-up is the
median of the rounds' ratios (a round's two runs are neighbours in time, so the shared machine's
drift changes both alike), and the rates shown are each side's best, as timeit reports.

    python bench/sampling_speed.py [--chars 600] [--repeats 5]
"""

import argparse
import statistics
import time

import torch
from common import machine

from charlm.models import build_model, model_config
from charlm.sampling import sample, stream

CHARS = "".join(chr(c) for c in range(32, 127)) + "\n"  # a 96-character vocabulary
MODELS = {
    "transformer": dict(n_layer=4, n_head=4, n_embd=128, block_size=256),
    "lstm": dict(n_embd=64, n_hidden=256, n_layer=1, block_size=256),
}


def rate(chars_made) -> float:
    """Characters per second of one call of chars_made() (which returns how many it made)."""
    start = time.perf_counter()
    made = chars_made()
    return made / (time.perf_counter() - start)


def paired(cached, rerun, repeats: int) -> tuple[float, float, float]:
    """The best rate of each side over `repeats` alternating rounds, and the median of the rounds'
    ratios cached / re-run."""
    rounds = [(rate(cached), rate(rerun)) for _ in range(repeats)]
    best_cached, best_rerun = (max(side) for side in zip(*rounds))
    return best_cached, best_rerun, statistics.median(c / r for c, r in rounds)


def streamed(model, n: int, use_cache: bool):
    """One sample streamed through `stream` (each character with its Token): how many characters."""
    return lambda: sum(1 for _ in stream(model, "", length=n, seed=0, use_cache=use_cache, alternatives=1))


def batched(model, n: int, num_samples: int, use_cache: bool = True, prompt: str = ""):
    """`num_samples` samples generated as one batch after `prompt`: how many characters, all together."""
    texts = lambda: sample(model, prompt, num_samples, length=n, seed=0, use_cache=use_cache)  # noqa: E731
    return lambda: sum(len(t) - len(prompt) for t in texts())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chars", type=int, default=600, help="characters per sample")
    parser.add_argument("--repeats", type=int, default=5, help="alternating rounds per figure")
    args = parser.parse_args()
    print(
        f"{args.chars} characters per sample, untrained weights (speed does not depend on them); {machine()}"
    )
    print(
        "From an empty prompt, the context grows to the block over the first 256 characters; after a "
        "256-character prompt ('full'), every re-run reads the whole block."
    )
    print(
        f"{'model':12} {'params':>9} {'stream cached':>14} {'stream re-run':>14} {'speed-up':>9} "
        f"{'1 sample':>9} {'re-run':>8} {'speed-up':>9} {'full: cached':>13} {'re-run':>8} {'speed-up':>9} "
        f"{'16 samples':>11} {'re-run':>8} {'speed-up':>9}"
    )
    full = "".join(CHARS[(7 * i) % 95] for i in range(256))
    for name, settings in MODELS.items():
        torch.manual_seed(0)
        model = build_model(model_config(name, chars=CHARS, **settings))
        n, repeats = args.chars, args.repeats
        cached, rerun, speedup = paired(streamed(model, n, True), streamed(model, n, False), repeats)
        one, one_rerun, one_speedup = paired(batched(model, n, 1), batched(model, n, 1, False), repeats)
        filled, filled_rerun, filled_speedup = paired(
            batched(model, n, 1, prompt=full), batched(model, n, 1, False, prompt=full), repeats
        )
        # 16 re-runs of the whole context cost 16 times one: fewer rounds of them
        sixteen, sixteen_rerun, sixteen_speedup = paired(
            batched(model, n, 16), batched(model, n, 16, False), max(1, repeats // 2)
        )
        print(
            f"{name:12} {model.num_params():>9,} {cached:>14,.0f} {rerun:>14,.0f} {speedup:>8.1f}x "
            f"{one:>9,.0f} {one_rerun:>8,.0f} {one_speedup:>8.1f}x {filled:>13,.0f} {filled_rerun:>8,.0f} "
            f"{filled_speedup:>8.1f}x {sixteen:>11,.0f} {sixteen_rerun:>8,.0f} {sixteen_speedup:>8.1f}x",
            flush=True,
        )


if __name__ == "__main__":
    main()
