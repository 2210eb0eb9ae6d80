"""What the "Look inside" views cost: the time each takes on a 2,000-character text for the default
transformer and LSTM (trained briefly), and how much recording snapshots and dynamics adds to training.

OMP_NUM_THREADS=1 python bench/inside.py
"""

import time

from common import data_file, machine

from charlm.inside import (
    Dynamics,
    Snapshots,
    attention,
    attention_grid,
    attention_heatmap,
    dynamics_figure,
    embedding_history,
    embeddings,
    embeddings_figure,
    neuron_html,
    neurons,
    ranking_figure,
    surprisal,
    surprisal_html,
)
from charlm.train import TrainConfig, new_trainer

STEPS = 200
PAIRS = 4  # plain and recorded runs, alternated
TRAIN_CHARS = 200_000  # enough for 200 steps of batch 32 without repeating much, quick to encode


def best_ms(f, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return 1e3 * min(times)


def train(text: str, name: str, record: bool):
    """Train `name` for STEPS steps; with `record`, feed Snapshots and Dynamics (every 10 steps).
    Returns the model, the training seconds, the recorders and the seconds spent in their calls."""
    config = TrainConfig(steps=STEPS, eval_interval=50, eval_tokens=4096, device="cpu")
    trainer = new_trainer(text, "text", name, config)
    snapshots = Snapshots(trainer.model) if record else None
    dynamics = Dynamics(trainer.model, every=10) if record else None
    in_calls = 0.0
    start = time.perf_counter()
    for event in trainer.run():
        if record:
            t0 = time.perf_counter()
            snapshots(event)
            dynamics(event)
            in_calls += time.perf_counter() - t0
    seconds = time.perf_counter() - start
    if record:
        dynamics.close()
    return trainer.model, seconds, snapshots, dynamics, in_calls


def main() -> None:
    corpus = data_file("tinyshakespeare.txt").read_text()
    text, training_text = corpus[:2000], corpus[:TRAIN_CHARS]
    print(f"a 2,000-character text; models trained {STEPS} steps on {TRAIN_CHARS:,} characters; {machine()}")
    for name in ("transformer", "lstm"):
        bench(name, training_text, text)


def bench(name: str, training_text: str, text: str) -> None:
    """Print the training overhead of the recorders and the time of each view for model `name`."""
    # alternate plain and recorded runs and keep the best of each: the machine is shared
    plain, recorded, in_calls = [], [], []
    for _ in range(PAIRS):
        plain.append(train(training_text, name, record=False)[1])
        model, seconds, snapshots, dynamics, calls = train(training_text, name, record=True)
        recorded.append(seconds)
        in_calls.append(calls)
    c = model.config
    shape = f"n_layer={c.n_layer}, n_embd={c.n_embd}, block_size={c.block_size}"
    print(f"\n{name} ({shape}, {model.num_params():,} parameters)")
    best, median = min(plain), sorted(plain)[PAIRS // 2]
    print(
        f"  training {STEPS} steps, best of {PAIRS}: {best:.2f} s plain, {min(recorded):.2f} s with snapshots "
        f"and dynamics: {100 * (min(recorded) / best - 1):+.1f}% (medians {median:.2f} s and "
        f"{sorted(recorded)[PAIRS // 2]:.2f} s: {100 * (sorted(recorded)[PAIRS // 2] / median - 1):+.1f}%)"
    )
    print(
        f"  time inside the recorders' calls: {min(in_calls) * 1e3:.1f} ms ({100 * min(in_calls) / best:.1f}%)"
    )
    rows = []
    if name == "transformer":
        att = attention(model, text)
        rows.append(("attention", best_ms(lambda: attention(model, text))))
        rows.append(
            ("  heatmap + grid figures", best_ms(lambda: (attention_heatmap(att), attention_grid(att))))
        )
    rows.append(("embeddings", best_ms(lambda: embeddings(model))))
    history = embedding_history(snapshots)
    rows.append(
        (f"  history figure ({len(history.steps)} frames)", best_ms(lambda: embeddings_figure(history)))
    )
    n = neurons(model, text)
    rows.append(("neurons", best_ms(lambda: neurons(model, text))))
    layer = next(iter(n.layers))
    rows.append(
        (
            "  html + ranking figure",
            best_ms(lambda: (neuron_html(n, layer, 0), ranking_figure(n, "vowel"))),
        )
    )
    s = surprisal(model, text)
    rows.append(("surprisal", best_ms(lambda: surprisal(model, text))))
    rows.append(("  html", best_ms(lambda: surprisal_html(s))))
    rows.append(
        (f"dynamics figure ({len(dynamics.steps)} records)", best_ms(lambda: dynamics_figure(dynamics)))
    )
    for label, ms in rows:
        print(f"  {label:34s} {ms:8.1f} ms")


if __name__ == "__main__":
    main()
