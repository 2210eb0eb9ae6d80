"""Validation loss of every rung on names.txt in lines mode, next to makemore's reference figures.

python bench/names_ladder.py [--quick]
"""

import argparse
import math

from common import data_file, machine, train

from charlm.train import TrainConfig

REFERENCE = {"bigram": 2.45, "mlp": 2.17, "transformer": 1.92}  # makemore's figures (nats)
RUNS = {  # model -> (model settings, training settings); model settings left out keep their defaults
    "bigram": ({}, {}),
    "neural-bigram": ({}, dict(steps=3000, batch_size=64, lr=0.1, weight_decay=0.0)),
    "mlp": ({}, dict(steps=10000, batch_size=64)),
    "rnn": ({}, dict(steps=4000, batch_size=64, lr=3e-3)),
    "gru": ({}, dict(steps=4000, batch_size=64, lr=3e-3)),
    "lstm": ({}, dict(steps=4000, batch_size=64, lr=3e-3)),
    # makemore's 200K-parameter shape (4 x 64, no dropout) bottoms at 1.99 near 10K steps, then overfits;
    # twice as wide with dropout generalises better: 1.9351 (1.9460 at lr 1.5e-3 with attention dropout too)
    "transformer": (
        dict(n_layer=4, n_head=4, n_embd=128, block_size=16, dropout=0.3),
        dict(steps=8000, batch_size=128, lr=3e-3, weight_decay=0.1),
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a tenth of the steps, to check the script runs")
    parser.add_argument("--only", nargs="*", help="run only these models")
    args = parser.parse_args()
    text = data_file("names.txt").read_text()
    print(f"names.txt, lines mode, 90/10 split; {machine()}")
    print(
        f"{'model':14} {'params':>9} {'steps':>6} {'val loss':>9} {'bits/char':>9} {'makemore':>9} {'seconds':>8}"
    )
    for model, (settings, overrides) in RUNS.items():
        if args.only and model not in args.only:
            continue
        config = TrainConfig(**{**overrides, "eval_interval": 10**9})
        if args.quick:
            config.steps = max(1, config.steps // 10)
        trainer, seconds = train(text, "lines", model, config, **settings)
        metrics = trainer.metrics()
        ref = REFERENCE.get(model)
        steps = "counts" if trainer.model.trained_by_counting else metrics["steps"]
        print(
            f"{model:14} {trainer.model.num_params():>9,} {steps:>6} {metrics['val_loss']:>9.4f} "
            f"{metrics['val_loss'] / math.log(2):>9.4f} {ref if ref else '':>9} {seconds:>8.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
