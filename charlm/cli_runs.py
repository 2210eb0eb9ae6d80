"""The command line's time budget and runs: `train --time/--keep-best/--patience` with auto settings,
and `python -m charlm ladder FILE`, which trains the ladder's rungs in turn and prints the runs table."""

import argparse
import json
import sys

from charlm.auto import auto_settings
from charlm.data import MODES, Corpus, read_text
from charlm.errors import CharlmError
from charlm.models import MODELS
from charlm.runs import LADDER, ladder, run_row, runs_markdown, runs_table
from charlm.train import TrainConfig


def add_budget_options(parser: argparse.ArgumentParser) -> None:
    """--time, --keep-best and --patience for `train`."""
    group = parser.add_argument_group("time budget and stopping")
    group.add_argument(
        "--time",
        type=float,
        dest="time_budget",
        metavar="SECONDS",
        help="train for this many seconds; the settings you do not give are chosen for the text and the "
        "budget by auto settings (printed before training)",
    )
    group.add_argument(
        "--keep-best",
        action="store_true",
        default=None,
        help="keep the weights of the evaluation with the lowest validation loss (default: the last ones)",
    )
    group.add_argument(
        "--patience",
        type=int,
        metavar="N",
        help="stop when validation has not improved for N evaluations (default: off)",
    )


def budget_settings(args: argparse.Namespace) -> dict:
    """The training settings of --time, --keep-best and --patience that were given."""
    return {k: getattr(args, k, None) for k in ("time_budget", "keep_best", "patience")}


def auto_config(corpus: Corpus, model: str, given: dict, settings: dict) -> tuple[TrainConfig, dict]:
    """With --time: auto settings for the text and the budget, under the options given explicitly
    (`given`: training settings, `settings`: the model's; None means not given). Prints auto's line."""
    chosen = {k: v for k, v in settings.items() if v is not None}
    auto = auto_settings(corpus, model, given["time_budget"], {**given, **chosen})
    print(auto.summary, file=sys.stderr)
    return TrainConfig(**{**auto.train, **given}), {**settings, **auto.settings, **chosen}


def cmd_ladder(args: argparse.Namespace) -> None:
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in MODELS]
    if unknown or not models:
        raise CharlmError(
            f"unknown model(s) {', '.join(unknown) or '(none)'}; choose from: {', '.join(MODELS)}."
        )
    if not args.time > 0:
        raise CharlmError("--time must be a number of seconds above 0.")
    from charlm.viz import baselines, bigram_warning  # plotly: only for this command

    corpus = Corpus.from_text(read_text(args.file), args.mode)
    refs = baselines(corpus)
    runs = []
    for kind, item in ladder(corpus, models, args.time):
        if kind == "auto":
            print(item, file=sys.stderr)
        elif kind == "run":
            runs.append(item)
            m = item.metrics
            print(f"{item.name}: val {m['val_loss']:.4f} after {m['elapsed_seconds']:.1f} s", file=sys.stderr)
    rows = runs_table(runs)
    if args.json:
        print(json.dumps({"runs": rows, "references": refs}))
        return
    print(runs_markdown(rows, refs))
    for run in runs:
        warning = bigram_warning(run_row(run)["val_loss"], 0.0, refs)
        if warning and not MODELS[run.model_type].trained_by_counting:
            print(f"\n{run.name}: {warning}")


def add_ladder_command(commands) -> None:
    p = commands.add_parser(
        "ladder",
        help="train the ladder's rungs on a text, each for a share of the time, and compare them",
        description="Train each model in turn with auto settings and a share of --time, then print the "
        "runs table (best run marked).",
    )
    p.add_argument("file", help="a UTF-8 text file")
    p.add_argument(
        "--models", default=",".join(LADDER), help=f"comma-separated rungs (default {','.join(LADDER)})"
    )
    p.add_argument("--time", type=float, default=120.0, help="seconds for the whole ladder (default 120)")
    p.add_argument("--mode", choices=MODES, default="text", help="text: one stream; lines: one item per line")
    p.add_argument("--json", action="store_true", help="print the table as JSON")
    p.set_defaults(run=cmd_ladder)
