"""Validation loss of every rung on names.txt in lines mode, next to makemore's reference figures.

python bench/names_ladder.py [--quick] [--split charlm|makemore] [--only MODEL ...]

`--split makemore` holds out the names makemore tests on (the last 1,000 of a permutation drawn
after torch.manual_seed(3407)), so that the reference figures and ours are measured on the same names.
"""

import argparse
import math

import torch
from common import data_file, machine, train

from charlm.data import Corpus, Vocab, make_split, split_lines
from charlm.train import TrainConfig

REFERENCE = {"bigram": 2.45, "mlp": 2.17, "transformer": 1.92}  # makemore's figures (nats)
RECURRENT = dict(block_size=64, n_embd=64, n_hidden=256, n_layer=1, dropout=0.0)
RUNS = {  # model -> (model settings, training settings); model settings left out keep their defaults
    "bigram": ({}, {}),
    "neural-bigram": ({}, dict(steps=3000, batch_size=64, lr=0.1, weight_decay=0.0)),
    "mlp": (
        dict(block_size=8, n_embd=24, n_hidden=256, dropout=0.0),
        dict(steps=10000, batch_size=64, lr=1e-3),
    ),
    "rnn": (RECURRENT, dict(steps=4000, batch_size=64, lr=3e-3)),
    "gru": (RECURRENT, dict(steps=4000, batch_size=64, lr=3e-3)),
    "lstm": (RECURRENT, dict(steps=4000, batch_size=64, lr=3e-3)),
    # makemore's 200K-parameter shape (4 x 64, no dropout) bottoms at 1.99 near 10K steps, then overfits;
    # twice as wide with dropout generalises better (1.9351 after 8K steps, 1.9284 after 12K), and an
    # average of the weights along the way better still
    "transformer": (
        dict(n_layer=4, n_head=4, n_embd=128, block_size=16, dropout=0.3),
        dict(steps=12000, batch_size=128, lr=3e-3, weight_decay=0.1, ema_decay=0.999),
    ),
}


def makemore_split(text: str) -> Corpus:
    """makemore's train/test split of names.txt, drawn exactly as its create_datasets draws it."""
    words = split_lines(text)
    torch.manual_seed(3407)  # makemore's default --seed, set before it splits
    order = torch.randperm(len(words)).tolist()
    n_test = min(1000, int(len(words) * 0.1))
    vocab = Vocab.from_text(text, "lines")
    train_text, test_text = ("\n".join(words[i] for i in part) for part in (order[:-n_test], order[-n_test:]))
    return Corpus(text, "lines", vocab, make_split(train_text, vocab), make_split(test_text, vocab))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a tenth of the steps, to check the script runs")
    parser.add_argument("--only", nargs="*", help="run only these models")
    parser.add_argument(
        "--split",
        choices=("charlm", "makemore"),
        default="charlm",
        help="charlm's own 90/10 split of the names (default), or makemore's (1,000 test names)",
    )
    args = parser.parse_args()
    text = data_file("names.txt").read_text()
    corpus = makemore_split(text) if args.split == "makemore" else None
    held_out = "makemore's split, 1,000 test names" if corpus else "charlm's 90/10 split"
    print(f"names.txt, lines mode, {held_out}; {machine()}")
    print(
        f"{'model':14} {'params':>9} {'steps':>6} {'val loss':>9} {'bits/char':>9} {'makemore':>9} {'seconds':>8}"
    )
    for model, (settings, overrides) in RUNS.items():
        if args.only and model not in args.only:
            continue
        config = TrainConfig(**{**overrides, "eval_interval": 10**9})
        if args.quick:
            config.steps = max(1, config.steps // 10)
        trainer, seconds = train(text, "lines", model, config, corpus, **settings)
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
