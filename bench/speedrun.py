"""charlm against a plain PyTorch loop on tinyshakespeare, in one run, side by side:

1. overhead: nanoGPT's baby GPT (bench/plain_gpt.py) and charlm's whole `train` command with the same
   recipe (4 x 128, block 64, batch 12, 2,000 steps, lr 3e-3): wall time, training tokens/s, the share
   of the loop spent evaluating, validation loss on the whole split;
2. speed run: `python -m charlm train ... --target-loss 1.88` with charlm's speed-run recipe
   (charlm.recipes.speedrun_transformer), its wall time, and the whole validation split measured
   afterwards by `python -m charlm eval`.

    python bench/speedrun.py [--only plain charlm speedrun] [--steps 2000] [--rounds 1] [--device cpu] [--extra ...]

On a CUDA GPU: python bench/speedrun.py --only speedrun --device cuda --extra --precision bf16 --compile
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import data_file, machine

from charlm.recipes import BABY_GPT, BABY_GPT_TRAINING, speedrun_transformer

ROOT = Path(__file__).resolve().parents[1]


def timed(argv: list[str]) -> tuple[float, str]:
    """Run a command; its wall time and its standard output."""
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, check=True, capture_output=True, text=True)
    return time.perf_counter() - start, done.stdout


def load() -> str:
    """The one-minute load average: what else the shared machine was doing."""
    return Path("/proc/loadavg").read_text().split()[0]


def options(settings: dict) -> list[str]:
    return [a for k, v in settings.items() for a in ("--" + k.replace("_", "-"), str(v))]


def charlm_train(path: Path, out: Path, settings: dict, extra: list[str], device: str = "cpu") -> dict:
    """The whole `train` command, timed from outside; its metrics.json; the whole validation split by
    `charlm eval` on the held-out tenth of the text."""
    argv = [sys.executable, "-m", "charlm", "train", str(path), "--model", "transformer", "--out", str(out)]
    wall, _ = timed(argv + ["--device", device] + options(settings) + extra)
    metrics = json.loads((out / "metrics.json").read_text())
    text = path.read_text()
    val = out.parent / "val.txt"  # charlm's text-mode split: the last tenth of the characters
    val.write_text(text[int(len(text) * 0.9) :])
    _, report = timed([sys.executable, "-m", "charlm", "eval", str(out), str(val), "--json"])
    metrics["eval_val_loss"] = json.loads(report)["model"]["loss"]
    metrics["wall"] = wall
    tokens = metrics["steps"] * settings.get("batch_size", 12) * settings.get("block_size", 64)
    metrics["train_seconds"] = tokens / metrics["tokens_per_second"]
    metrics["eval_share"] = 1 - metrics["train_seconds"] / metrics["elapsed_seconds"]
    return metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="*", default=["plain", "charlm", "speedrun"])
    parser.add_argument("--steps", type=int, default=BABY_GPT_TRAINING["steps"])
    parser.add_argument("--rounds", type=int, default=1, help="plain loop and charlm, alternately")
    parser.add_argument("--device", default="cpu", help="where charlm's speed run trains (cpu, cuda)")
    parser.add_argument(
        "--extra", nargs=argparse.REMAINDER, default=[], help="more options for the speed run"
    )
    args = parser.parse_args()
    path = data_file("tinyshakespeare.txt")
    tmp = Path(tempfile.mkdtemp())
    print(f"tinyshakespeare; {machine()}; load {load()}", flush=True)
    walls: dict[str, list[float]] = {"plain loop": [], "charlm train": []}
    for round_ in range(1, args.rounds + 1):  # alternating, so both meet the same neighbours
        rows = {}
        if "plain" in args.only:
            plain = [sys.executable, "bench/plain_gpt.py", "--steps", str(args.steps), "--lr", "3e-3"]
            wall, out = timed(plain)
            result = json.loads(out.strip().splitlines()[-1])
            rows["plain loop"] = (wall, result["tokens_per_second"], None, result["val_loss"])
        if "charlm" in args.only:
            baby = {**BABY_GPT, **BABY_GPT_TRAINING, "steps": args.steps}
            m = charlm_train(path, tmp / "baby", baby, [])
            rows["charlm train"] = (m["wall"], m["tokens_per_second"], m["eval_share"], m["val_loss"])
        for name, (wall, tps, share, val) in rows.items():
            walls[name].append(wall)
            evals = "" if share is None else f"  evaluating {100 * share:.1f}% of the loop"
            print(
                f"{name:14} {wall:7.1f} s  {tps:8,.0f} tok/s  val {val:.4f}{evals}  (load {load()})",
                flush=True,
            )
        if len(rows) == 2:
            print(
                f"round {round_}: charlm is {rows['plain loop'][0] / rows['charlm train'][0]:.2f}x "
                "the plain loop's speed (wall)",
                flush=True,
            )
    if args.rounds > 1 and all(walls.values()):
        # each round's two runs are neighbours in time, so the ratio within a round is what the
        # machine's drift (one round here ran 10% faster than the others) leaves least changed
        ratios = [p / c for p, c in zip(walls["plain loop"], walls["charlm train"])]
        plain, charlm = (statistics.median(w) for w in walls.values())
        print(
            f"median of the {args.rounds} rounds' ratios {statistics.median(ratios):.2f}x "
            f"(median walls {plain:.1f} s against {charlm:.1f} s)"
        )
    if "speedrun" in args.only:
        model, training = speedrun_transformer(len(path.read_text()))
        m = charlm_train(
            path, tmp / "speedrun", {**model, **training}, ["--target-loss", "1.88"] + args.extra, args.device
        )
        print(
            f"speed run: {m['wall']:.1f} s for the whole command, target reached at step "
            f"{m.get('target_step')} after {m.get('target_seconds', 0):.1f} s of training; "
            f"val {m['val_loss']:.4f} (charlm eval: {m['eval_val_loss']:.4f}); {json.dumps({**model, **training})} {args.extra}"
        )
    print(f"load {load()}")


if __name__ == "__main__":
    main()
