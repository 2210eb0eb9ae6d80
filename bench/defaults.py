"""Issue 11's measured goals: auto settings within a time budget, the best weights kept (as the app
trains). Prints each figure with /proc/loadavg beside it: the machine is shared, so the load says how
much of it a run had. Usage: python bench/defaults.py [--quick] [--threads N]"""

import argparse
import time
from pathlib import Path

import torch  # noqa: E402
from common import data_file, machine

from charlm.auto import auto_settings  # noqa: E402
from charlm.data import Corpus, read_text  # noqa: E402
from charlm.train import TrainConfig, fresh_trainer  # noqa: E402
from charlm.viz import baselines, training_warnings  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]  # the checkout: examples/ lives there
RUNGS = ["neural-bigram", "mlp", "rnn", "gru", "lstm", "transformer"]


def load() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def run(corpus: Corpus, model: str, seconds: float) -> dict:
    """Auto settings for `seconds` (timing included in the wall time), keep-best on, as the app does."""
    start, before = time.perf_counter(), load()
    auto = auto_settings(corpus, model, seconds)
    trainer = fresh_trainer(corpus, model, TrainConfig(**{**auto.train, "keep_best": True}), **auto.settings)
    history = list(trainer.run())
    wall = time.perf_counter() - start
    m = trainer.metrics()
    kept = m["best_step"] if m.get("kept") == "best" else None
    warnings = training_warnings(m["num_params"], len(corpus.train.tokens), history, kept)
    return dict(
        auto=auto.summary,
        val=m["val_loss"],
        wall=wall,
        load=f"{before}->{load()}",
        steps=m["steps"],
        best_step=m["best_step"],
        stopped=m["stopped_by"],
        warnings=len(warnings),
    )


def report(title: str, corpus: Corpus, model: str, seconds: float, goal: float | None) -> None:
    r = run(corpus, model, seconds)
    target = "" if goal is None else f" (goal <= {goal}: {'met' if r['val'] <= goal else 'NOT met'})"
    print(
        f"{title:44} {model:13} val {r['val']:.4f}{target}  {r['wall']:.1f} s wall, {r['steps']} steps, "
        f"best at {r['best_step']}, stopped by {r['stopped']}, warnings {r['warnings']}, load {r['load']}"
    )
    print(f"{'':44} {r['auto']}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="a tenth of every budget (a smoke test)")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (default 1: the machine is shared)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    scale = 0.1 if args.quick else 1.0
    print(f"{machine()}; budgets x{scale}")
    example = Corpus.from_text(read_text(ROOT / "examples" / "names.txt"), "lines")
    counted = baselines(example)["count bigram"]
    print(f"default example (examples/names.txt, lines): count bigram {counted:.4f}")
    for model in RUNGS:
        report("default example, 30 s, below the count bigram", example, model, 30 * scale, counted)
    names = Corpus.from_text(read_text(data_file("names.txt")), "lines")
    report("names.txt, lines, 60 s", names, "transformer", 60 * scale, 2.15)
    shakespeare = read_text(data_file("tinyshakespeare.txt"))
    report(
        "tinyshakespeare first 200,000 chars, 60 s",
        Corpus.from_text(shakespeare[:200_000]),
        "transformer",
        60 * scale,
        2.00,
    )
    report("tinyshakespeare whole, 120 s", Corpus.from_text(shakespeare), "transformer", 120 * scale, 1.80)


if __name__ == "__main__":
    main()
