"""Texts bigger than memory: peak memory and time to the first training step for a synthetic text (500 MB
by default, made by repeating a seed text this script writes), through its token file (encoded cold, then
reused) against reading it whole (at a smaller size: whole reading holds every character as a Python int).

    OMP_NUM_THREADS=1 python bench/big_text.py [--mb 500] [--whole-mb 50] [--dir /tmp/charlm-big]

Each case runs in its own process; peak memory is VmHWM (peak resident set) from /proc, and RssAnon the
process's own (not file-backed) memory at the first step.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SEED = (
    "It was a bright cold day in April, and the clocks were striking thirteen. The hallway smelt of boiled\n"
    "cabbage and old rag mats; at one end of it a coloured poster, too large for indoor display, had been\n"
    "tacked to the wall. Über alles: café, naïve, façade — and 42 other words, 3.14 and 2,718!\n"
)


def status() -> dict[str, float]:
    """VmHWM and RssAnon of this process in MB."""
    lines = Path("/proc/self/status").read_text().splitlines()
    kb = {line.split(":")[0]: int(line.split()[1]) for line in lines if line.startswith(("VmHWM", "RssAnon"))}
    return {"peak_mb": kb["VmHWM"] / 1024, "anon_mb": kb["RssAnon"] / 1024}


def first_step(case: str, path: Path) -> dict:
    """Time from nothing to the end of one training step of a small transformer, in this process."""
    import torch

    from charlm.data import Corpus, decode_text
    from charlm.tokens import encode_file, token_corpus
    from charlm.train import TrainConfig, fresh_trainer

    torch.set_num_threads(1)
    start = time.perf_counter()
    if case == "whole":  # what read_text does, without its 20 MB cap
        corpus = Corpus.from_text(decode_text(path.read_bytes()))
    else:
        corpus = token_corpus(encode_file(path))
    prepared = time.perf_counter() - start
    config = TrainConfig(steps=10, batch_size=32, eval_tokens=4096, device="cpu")
    trainer = fresh_trainer(corpus, "transformer", config, n_layer=2, n_embd=64, n_head=4, block_size=128)
    next(iter(trainer.run()))
    return {"case": case, "prepare_s": prepared, "first_step_s": time.perf_counter() - start, **status()}


def write_text(path: Path, mb: int) -> None:
    if path.is_file() and path.stat().st_size >= mb * 10**6:
        return
    block = (SEED * (2**20 // len(SEED.encode()) + 1)).encode()  # whole seeds: no character cut in two
    with open(path, "wb") as f:
        while f.tell() < mb * 10**6:
            f.write(block)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mb", type=int, default=500)
    parser.add_argument("--whole-mb", type=int, default=50)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/charlm-big"))
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(first_step(args.case, args.file)))
        return
    shutil.rmtree(args.dir / "cache", ignore_errors=True)  # "encoded now" means now
    args.dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "CHARLM_CACHE": str(args.dir / "cache"), "OMP_NUM_THREADS": "1"}
    runs = [("token file, encoded now", "stream", args.mb), ("token file, reused", "stream", args.mb)]
    runs += [("token file, encoded now", "stream", args.whole_mb), ("read whole", "whole", args.whole_mb)]
    print(f"load {Path('/proc/loadavg').read_text().split()[:3]}, {os.cpu_count()} cores")
    print(f"{'text':>7}  {'how':26} {'prepare s':>10} {'1st step s':>11} {'peak MB':>8} {'anon MB':>8}")
    for name, case, mb in runs:
        path = args.dir / f"text-{mb}mb.txt"
        write_text(path, mb)
        command = [sys.executable, __file__, "--case", case, "--file", str(path)]
        r = json.loads(subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout)
        print(
            f"{mb:>5} MB  {name:26} {r['prepare_s']:>10.1f} {r['first_step_s']:>11.1f} "
            f"{r['peak_mb']:>8.0f} {r['anon_mb']:>8.0f}"
        )
    print(f"load {Path('/proc/loadavg').read_text().split()[:3]}")


if __name__ == "__main__":
    main()
