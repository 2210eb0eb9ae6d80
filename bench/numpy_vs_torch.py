"""The NumPy rung against PyTorch on names.txt (lines mode): the NumPy bigram against the count bigram,
the NumPy MLP against PyTorch's MLP with the same settings, steps and batches, and their training speed.

    python bench/numpy_vs_torch.py [--quick] [--threads N]

Each optimizer gets the learning rate it works well with: plain SGD needs hundreds of times AdamW's.
Both libraries run on the same number of threads (1 by default), so the speed ratio compares the code,
not how many cores each grabbed.
"""

import argparse
import os
import sys

if __name__ == "__main__":  # BLAS reads its thread count once, when NumPy is first imported
    threads = sys.argv[sys.argv.index("--threads") + 1] if "--threads" in sys.argv else "1"
    os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = (
        threads
    )

import torch  # noqa: E402
from common import data_file, machine, train  # noqa: E402

from charlm.models import build_model, model_config  # noqa: E402
from charlm.train import TrainConfig, evaluate  # noqa: E402

MLP_SETTINGS = dict(block_size=3, n_embd=24, n_hidden=256)
RUNS = {  # name -> (model, training settings); the MLPs share steps, batch size and seed
    "numpy-bigram": ("numpy-bigram", dict(steps=5000, batch_size=128, lr=10.0)),
    "neural-bigram": ("neural-bigram", dict(steps=3000, batch_size=64, lr=0.1, weight_decay=0.0)),
    "mlp (PyTorch, AdamW)": ("mlp", dict(steps=8000, batch_size=64, lr=3e-3)),
    "numpy-mlp (SGD)": ("numpy-mlp", dict(steps=8000, batch_size=64, lr=0.5)),
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a tenth of the steps, to check the script runs")
    parser.add_argument(
        "--threads", type=int, default=1, help="threads for both NumPy and PyTorch (default 1)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    text = data_file("names.txt").read_text()
    print(f"names.txt, lines mode, 90/10 split; {machine()}, NumPy BLAS threads {args.threads}")
    print(
        f"{'model':22} {'lr':>6} {'steps':>6} {'batch':>6} {'val loss':>9} {'train tok/s':>12} {'seconds':>8}"
    )

    results = {}
    for name, (model, overrides) in RUNS.items():
        config = TrainConfig(**{**overrides, "eval_interval": 10**9, "device": "cpu"})
        if args.quick:
            config.steps = max(1, config.steps // 10)
        settings = MLP_SETTINGS if "mlp" in model else {}
        trainer, seconds = train(text, "lines", model, config, **settings)
        val = evaluate(trainer.model, trainer.corpus.val)
        speed = trainer.last.tokens_per_second  # training steps only, evaluations left out
        results[model] = (val, speed)
        print(
            f"{name:22} {config.lr:>6g} {config.steps:>6} {config.batch_size:>6} {val:>9.4f} "
            f"{speed:>12,.0f} {seconds:>8.1f}",
            flush=True,
        )
        if model == "numpy-bigram":
            counts = build_model(model_config("bigram", chars=trainer.corpus.vocab.chars, mode="lines"))
            counts.fit(trainer.corpus.train)
            results["bigram"] = (evaluate(counts, trainer.corpus.val), 0.0)
            print(f"{'bigram (counts)':22} {'':>6} {'':>6} {'':>6} {results['bigram'][0]:>9.4f}", flush=True)

    bigram_gap = results["numpy-bigram"][0] - results["bigram"][0]
    mlp_gap = results["numpy-mlp"][0] - results["mlp"][0]
    ratio = results["numpy-mlp"][1] / results["mlp"][1]
    print()
    print(
        f"numpy-bigram - count bigram: {bigram_gap:+.4f} nats  (target within 0.01: {abs(bigram_gap) <= 0.01})"
    )
    print(f"numpy-mlp - PyTorch mlp:     {mlp_gap:+.4f} nats  (target within 0.05: {abs(mlp_gap) <= 0.05})")
    print(f"training speed numpy-mlp / PyTorch mlp: {ratio:.2f}x")


if __name__ == "__main__":
    main()
