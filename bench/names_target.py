"""How long charlm's transformer takes to reach validation 1.95 and then 1.92 on names.txt (lines mode,
charlm's 90/10 split; makemore's transformer figure is 1.92). The validation split is small (about
25,000 predictions), so every evaluation reads all of it and the times are exact to an evaluation.

    python bench/names_target.py [--optimizer adamw] [--lr 3e-3] [--steps 16000]

The defaults are the fastest found here: AdamW reached 1.95 and 1.92 sooner than Muon (whose
Newton-Schulz steps are slow on a CPU); stopping at 1.92 ends the run early.
"""

import argparse
import json
import time

from common import data_file, machine

from charlm.train import TrainConfig, new_trainer

MODEL = dict(n_layer=4, n_head=4, n_embd=128, block_size=16, dropout=0.3)  # bench/names_ladder.py's shape
TARGETS = (1.95, 1.92)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--optimizer", default="adamw")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--steps", type=int, default=16000, help="the schedule's length (it stops at 1.92)")
    parser.add_argument("--eval-interval", type=int, default=250)
    args = parser.parse_args()
    config = TrainConfig(
        steps=args.steps,
        batch_size=128,
        lr=args.lr,
        weight_decay=0.1,
        ema_decay=0.999,
        optimizer=args.optimizer,
        eval_interval=args.eval_interval,
        eval_tokens=10**7,  # the whole validation split at every evaluation
        target_loss=TARGETS[-1],
        device="cpu",
    )
    print(f"names.txt, transformer {MODEL}, {json.dumps(vars(args))}; {machine()}", flush=True)
    start = time.perf_counter()
    trainer = new_trainer(data_file("names.txt").read_text(), "lines", "transformer", config, **MODEL)
    reached = {}
    for event in trainer.run():
        if event.val_loss is None:
            continue
        for target in TARGETS:
            if target not in reached and event.val_loss <= target:
                reached[target] = (event.step, time.perf_counter() - start)
        load = open("/proc/loadavg").read().split()[0]  # noqa: SIM115
        print(
            f"step {event.step:>6}  val {event.val_loss:.4f}  {time.perf_counter() - start:7.1f} s  load {load}",
            flush=True,
        )
    for target in TARGETS:
        step, seconds = reached.get(target, (None, float("nan")))
        print(f"val <= {target}: step {step}, {seconds:.0f} s from start (data, model and all)")


if __name__ == "__main__":
    main()
