"""The wall time of each lesson's experiment at its full size, as the Learn tab runs it.

python bench/lessons.py [--threads N]

Aim: each under 60 s on a 2-core machine, lesson 1 under 2 s. Prints the load average beside each,
since a shared machine slows every figure."""

import argparse
import time
from pathlib import Path

import torch
from common import machine  # noqa: F401  (puts the checkout on sys.path)

from charlm.lessons import LESSONS, run_lesson


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the app uses cores / 2)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    run_lesson(0)  # warm up the imports (torch's optimizers import their compiler on first use)
    print(f"{'lesson':24} {'seconds':>8}  load average; torch {torch.__version__}, {args.threads} thread(s)")
    for i, lesson in enumerate(LESSONS):
        start = time.perf_counter()
        run_lesson(i)
        seconds = time.perf_counter() - start
        load = Path("/proc/loadavg").read_text().split()[0]
        print(f"{lesson.title:24} {seconds:>8.1f}  {load}", flush=True)


if __name__ == "__main__":
    main()
