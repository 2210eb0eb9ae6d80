"""Sampling speed in characters per second at block size 256: with the incremental state (the
transformer's key/value cache, the LSTM's hidden state) and with a full re-run over the context.

    python bench/sampling_speed.py [--chars 600]
"""

import argparse
import time

import torch
from common import machine

from charlm.models import build_model, model_config
from charlm.sampling import stream

CHARS = "".join(chr(c) for c in range(32, 127)) + "\n"  # a 96-character vocabulary
MODELS = {
    "transformer": dict(n_layer=4, n_head=4, n_embd=128, block_size=256),
    "lstm": dict(n_embd=64, n_hidden=256, n_layer=1, block_size=256),
}


def chars_per_second(model, n: int, use_cache: bool) -> float:
    start = time.perf_counter()
    made = sum(1 for _ in stream(model, "", length=n, seed=0, use_cache=use_cache, alternatives=1))
    return made / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chars", type=int, default=600, help="characters per measurement")
    args = parser.parse_args()
    print(f"{args.chars} characters per run, untrained weights (speed does not depend on them); {machine()}")
    print(f"{'model':12} {'params':>9} {'cached chars/s':>15} {'re-run chars/s':>15} {'speed-up':>9}")
    for name, settings in MODELS.items():
        torch.manual_seed(0)
        model = build_model(model_config(name, chars=CHARS, **settings))
        cached = chars_per_second(model, args.chars, True)
        rerun = chars_per_second(model, args.chars, False)
        print(f"{name:12} {model.num_params():>9,} {cached:>15,.0f} {rerun:>15,.0f} {cached / rerun:>8.1f}x")


if __name__ == "__main__":
    main()
