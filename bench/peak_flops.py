"""This machine's float32 matmul peak in GFLOP/s: the yardstick for model FLOPs utilisation (MFU).

python bench/peak_flops.py
"""

import time

import torch


def matmul_peak(n: int = 1024, repeats: int = 20) -> float:
    """The best of `repeats` timed n x n float32 matmuls, in GFLOP/s."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


if __name__ == "__main__":
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for n in (256, 512, 1024, 2048):
        print(f"float32 matmul {n:>4} x {n:<4}: {matmul_peak(n):8.1f} GFLOP/s")
