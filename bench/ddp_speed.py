"""Training throughput across processes: `torchrun --standalone --nproc_per_node=N -m charlm train` on
tinyshakespeare for N = 1 and 2 (more where the machine has the cores), with the same batch per process.

    python bench/ddp_speed.py [--steps 300] [--batch-size 16] [--procs 1 2]

Tokens per second are rank 0's training tokens per second times the number of processes (the ranks step
together); the first steps are included, as a user would see them.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from common import data_file

ROOT = Path(__file__).resolve().parents[1]
MODEL = ["--model", "transformer", "--n-layer", "2", "--n-embd", "64", "--n-head", "4", "--block-size", "64"]


def run(procs: int, text: Path, steps: int, batch_size: int, out: Path) -> dict:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}"]
    command += [
        "-m",
        "charlm",
        "train",
        str(text),
        *MODEL,
        "--steps",
        str(steps),
        "--batch-size",
        str(batch_size),
    ]
    command += ["--eval-interval", str(steps), "--device", "cpu", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    subprocess.run(command, env=env, check=True, capture_output=True)
    return json.loads((out / "metrics.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--procs", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    text = data_file("tinyshakespeare.txt")
    print(f"load {Path('/proc/loadavg').read_text().split()[:3]}, {len(os.sched_getaffinity(0))} cores")
    print(f"{'processes':>9} {'global batch':>12} {'tokens/s':>10} {'val loss':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for procs in args.procs:
            m = run(procs, text, args.steps, args.batch_size, Path(tmp) / f"p{procs}")
            speed = m["tokens_per_second"] * m["world_size"]
            print(f"{procs:>9} {m['global_batch_size']:>12} {speed:>10,.0f} {m['val_loss']:>9.4f}")
    print(f"load {Path('/proc/loadavg').read_text().split()[:3]}")


if __name__ == "__main__":
    main()
