"""The command line: `python -m charlm train | sample | eval | push | pull | search | models | list`.
Errors print one line and exit 2."""

import argparse
import json
import math
import sys
from pathlib import Path

from charlm.checkpoint import is_checkpoint, list_checkpoints, load_checkpoint, resume, save_checkpoint
from charlm.cli_runs import add_budget_options, add_ladder_command, auto_config, budget_settings
from charlm.corpora import source_file
from charlm.data import MODES, make_split, read_text
from charlm.distributed import BACKENDS, Run, finish, setup
from charlm.errors import CharlmError
from charlm.models import (
    DEFAULT_MODEL,
    MODELS,
    SETTINGS,
    build_model,
    ladder_table,
    model_config,
    shown_default,
)
from charlm.sampling import sample, stream
from charlm.tokens import open_corpus
from charlm.train import OPTIMIZERS, PRECISIONS, TrainConfig, Trainer, evaluate, fresh_trainer, loss_metrics


def model_options() -> dict[str, tuple]:
    """option -> (type, help) or, for a choice, (type, help, choices), generated from the settings the
    models declare: each option's help names the models that have it, with each one's default."""
    options = {}
    for name in SETTINGS:
        having = [(model, s) for model, cls in MODELS.items() for s in cls.settings() if s.name == name]
        if having:
            defaults = ", ".join(f"{model} {shown_default(s)}" for model, s in having)
            first = having[0][1]
            option = (first.kind, f"{SETTINGS[name][1]} Default: {defaults}")
            options[name] = (*option, first.choices) if first.choices else option
    return options


def per_model(attribute: str) -> str:
    return ", ".join(f"{name} {getattr(cls, attribute):g}" for name, cls in MODELS.items())


MODEL_OPTIONS = model_options()
TRAIN_OPTIONS = {
    "steps": (int, f"total optimisation steps. Default: the model's own: {per_model('default_steps')}"),
    "batch_size": (int, "windows per step"),
    "lr": (float, f"peak learning rate. Default: the model's own: {per_model('default_lr')}"),
    "weight_decay": (float, "AdamW weight decay on matrices"),
    "warmup_steps": (int, "steps of linear learning-rate warmup"),
    "grad_clip": (float, "clip the gradient norm (0: off)"),
    "ema_decay": (
        float,
        "keep a moving average of the weights, e.g. 0.999; it is what gets evaluated and saved (0: off)",
    ),
    "optimizer": (
        str,
        "adamw, or muon: Muon for the hidden matrices and AdamW for the rest, at the same lr",
        OPTIMIZERS,
    ),
    "eval_interval": (int, "evaluate every this many steps"),
    "eval_tokens": (int, "predictions per split in each evaluation's fixed random sample"),
    "target_loss": (
        float,
        "stop at the first evaluation whose validation loss (whole split) is at or under this, e.g. 1.88 (0: off)",
    ),
    "seed": (int, "random seed: the same seed gives the same numbers"),
    "device": (str, "auto, cpu, cuda or mps"),
    "precision": (
        str,
        "bf16: the training forward pass under autocast in bfloat16, for GPUs with fast bf16 (weights "
        "and evaluation stay float32)",
        PRECISIONS,
    ),
    "compile": (bool, "compile the training forward pass with torch.compile (the first step waits for it)"),
}


def add_options(
    parser: argparse.ArgumentParser, options: dict, title: str, defaults: object | None = None
) -> None:
    group = parser.add_argument_group(title)
    for name, (kind, text, *choices) in options.items():
        default = None if name in ("lr", "steps") else getattr(defaults, name, None)  # each model's own
        if kind is bool:  # --compile / --no-compile
            group.add_argument("--" + name, action=argparse.BooleanOptionalAction, default=None, help=text)
            continue
        group.add_argument(
            "--" + name.replace("_", "-"),
            type=kind,
            choices=choices[0] if choices else None,
            default=None,
            help=text + (f" (default {default})" if default is not None else ""),
        )


def cmd_train(args: argparse.Namespace) -> None:
    run = setup(args.backend, args.device)  # one process, or one rank of a torchrun
    try:
        train_command(args, run)
    finally:
        finish(run)


def train_command(args: argparse.Namespace, run: Run) -> None:
    train_settings = {k: getattr(args, k) for k in TRAIN_OPTIONS} | budget_settings(args)
    train_settings["device"] = run.device(train_settings["device"])
    trainer, out, origin = run.rank0_first(lambda: make_trainer(args, train_settings))
    if out.exists() and not is_checkpoint(out):  # refuse now rather than after training
        raise CharlmError(
            f"{out} exists and is not a charlm checkpoint; choose another --out so nothing is overwritten."
        )
    run.wrap(trainer)
    model, summary = trainer.model, {**trainer.corpus.summary(), **origin}
    processes = (
        f", {run.world_size} processes of batch {trainer.config.batch_size}" if run.distributed else ""
    )
    print(
        f"training {model.config.model_type} ({model.num_params():,} parameters) on {args.file}: "
        f"{summary['characters']:,} characters, vocabulary {model.config.vocab_size}, {trainer.corpus.mode} mode, "
        f"device {trainer.device}{processes}; saving to {out}",
        file=sys.stderr,
    )
    history: list = []
    stopped = run_with_progress(trainer, history)
    if not run.main:  # rank 0 evaluates and saves for the run
        return
    metrics = {**trainer.metrics(), **run.metrics(trainer.config.batch_size)}
    samples = sample(model, num_samples=5 if model.config.mode == "lines" else 2, length=200, seed=0)
    save_checkpoint(
        out, model, trainer=trainer, metrics=metrics, corpus_summary=summary, samples=samples, history=history
    )
    m = loss_metrics(metrics["val_loss"])
    print(
        f"{'stopped' if stopped else 'done'} at step {metrics['steps']}: val loss {m['loss']:.4f} nats, "
        f"{m['bpc']:.4f} bits/char, perplexity {m['perplexity']:.2f}; saved {out}",
        file=sys.stderr,
    )


def make_trainer(args: argparse.Namespace, train_settings: dict) -> tuple[Trainer, Path, dict]:
    """The trainer of `charlm train` (new, or resuming a checkpoint) on its corpus (a file, read whole
    or through a token file, a Hub dataset or a URL), where it saves, and where the corpus came from."""
    file, origin = source_file(args.file, column=args.column, revision=args.revision, token=args.token)
    if args.resume:
        checkpoint = load_checkpoint(args.resume)
        return resume(checkpoint, file, **train_settings), Path(args.out or args.resume), origin
    given = {k: v for k, v in train_settings.items() if v is not None}
    cls = MODELS[args.model]
    config = TrainConfig(**{"lr": cls.default_lr, "steps": cls.default_steps, **given})
    config.check()
    settings = {k: getattr(args, k) for k in MODEL_OPTIONS}
    corpus = open_corpus(file, args.mode, val_fraction=config.val_fraction, seed=config.seed)
    if config.time_budget:  # auto settings for the text and the budget; options given explicitly win
        config, settings = auto_config(corpus, args.model, given, settings)
    out = Path(args.out or f"checkpoints/{Path(args.file).stem}-{args.model}")
    return fresh_trainer(corpus, args.model, config, **settings), out, origin


def run_with_progress(trainer: Trainer, history: list | None = None) -> bool:
    """Train with a progress bar; Ctrl-C stops and keeps the model. Returns whether it was stopped.
    Every event is appended to `history` when one is given (the model card draws its curve)."""
    from tqdm import tqdm

    bar = tqdm(
        total=trainer.config.steps, initial=trainer.step, unit="step", file=sys.stderr, dynamic_ncols=True
    )
    try:
        for event in trainer.run():
            if history is not None:
                history.append(event)
            bar.update(event.step - bar.n)
            bar.set_postfix(
                loss=f"{event.train_loss:.3f}", tok_s=f"{event.tokens_per_second:,.0f}", refresh=False
            )
            if event.val_loss is not None:
                bar.write(
                    f"step {event.step:>6}: train {event.train_eval_loss:.4f} ± {event.train_eval_loss_err:.4f}  "
                    f"val {event.val_loss:.4f} ± {event.val_loss_err:.4f}  "
                    f"lr {event.lr:.2e}  {event.tokens_per_second:,.0f} tok/s",
                    file=sys.stderr,  # stdout is for results (samples, evaluations) only
                )
    except KeyboardInterrupt:
        kept = "the best weights" if trainer.restore_best() or trainer.holds_best() else "the model as it is"
        bar.write(f"stopped at step {trainer.step}; keeping {kept}", file=sys.stderr)
        return True
    finally:
        bar.close()
    return False


def cmd_sample(args: argparse.Namespace) -> None:
    model = load_checkpoint(args.checkpoint, args.device or "cpu").model
    options = dict(temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, length=args.length)
    if args.json:
        print(
            json.dumps(sample(model, args.prompt, args.num_samples, args.seed, **options), ensure_ascii=False)
        )
        return
    end = "\n" if model.config.mode == "lines" else "\n\n"
    if args.num_samples > 1:  # one batch, printed when done (the same texts as one at a time)
        for text in sample(model, args.prompt, args.num_samples, args.seed, **options):
            sys.stdout.write(text + end)
        return
    sys.stdout.write(args.prompt)
    for token in stream(model, args.prompt, seed=args.seed, **options):  # one sample: streamed as made
        sys.stdout.write(token.char)
        sys.stdout.flush()
    sys.stdout.write(end)


def cmd_eval(args: argparse.Namespace) -> None:
    model = load_checkpoint(args.checkpoint).model
    vocab = model.config.vocab
    split = make_split(read_text(args.file), vocab)
    if len(split.tokens) < 2:
        raise CharlmError(f"{args.file} has nothing to evaluate on; give a longer text.")
    counts = build_model(model_config("bigram", chars=vocab.chars, mode=model.config.mode))
    counts.fit(split)
    rows = {
        "model": evaluate(model, split),
        "uniform (ln V)": math.log(vocab.size),
        "count bigram (fitted on this file)": evaluate(counts, split),
    }
    if args.json:
        print(json.dumps({name: loss_metrics(loss) for name, loss in rows.items()}))
        return
    print(f"{'':36} {'nats':>8} {'bits/char':>10} {'perplexity':>11}")
    for name, loss in rows.items():
        m = loss_metrics(loss)
        print(f"{name:36} {m['loss']:8.4f} {m['bpc']:10.4f} {m['perplexity']:11.2f}")


def cmd_list(args: argparse.Namespace) -> None:
    for row in list_checkpoints(args.root):
        val = "-" if row["val_loss"] is None else f"{row['val_loss']:.4f}"
        print(
            f"{row['name']:32} {row['model']:14} {row['params'] or 0:>10,} params  val {val}  {row['saved']}"
        )


def cmd_models(args: argparse.Namespace) -> None:
    print(ladder_table())


def cmd_push(args: argparse.Namespace) -> None:
    from charlm.hub import push

    print(push(args.checkpoint, args.repo_id, token=args.token, private=args.private))


def cmd_pull(args: argparse.Namespace) -> None:
    from charlm.hub import pull

    out = args.out or f"checkpoints/{args.repo_id.strip().replace('/', '--')}"
    print(pull(args.repo_id, revision=args.revision, out=out, token=args.token))


def cmd_search(args: argparse.Namespace) -> None:
    from dataclasses import asdict

    from charlm.hub import COLUMNS, search

    if args.page < 1:
        raise CharlmError("--page counts from 1.")
    found = search(args.text, sort=args.sort, limit=args.limit, page=args.page - 1)
    if args.json:
        print(
            json.dumps(
                {"page": args.page, "has_more": found.has_more, "models": [asdict(r) for r in found.rows]}
            )
        )
        return
    if not found.rows:
        print(
            "no charlm model on the Hub matches" + (f" {args.text!r}" if args.text else ""), file=sys.stderr
        )
        return
    rows = [COLUMNS] + [["-" if c is None else str(c) for c in r.cells()] for r in found.rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    if found.has_more:
        print(f"more: --page {args.page + 1}", file=sys.stderr)


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m charlm", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    add_model_commands(commands)
    add_ladder_command(commands)
    add_hub_commands(commands)
    return parser


def add_train_command(commands) -> None:
    """train: a text, a model and its options, the training options."""
    p = commands.add_parser(
        "train", help="train a model on a text file", description="Train a model on a text file."
    )
    p.add_argument(
        "file",
        help="a UTF-8 text file, hf://datasets/OWNER/NAME[@REVISION][/PATH] (.txt or .parquet) or a URL",
    )
    p.add_argument("--model", choices=list(MODELS), default=DEFAULT_MODEL, help="which rung of the ladder")
    p.add_argument("--column", help="a Parquet corpus's text column (default: its only string column)")
    p.add_argument("--revision", help="a Hub dataset's branch, tag or commit (default main)")
    p.add_argument("--token", help="a Hub token for private datasets (default: HF_TOKEN or the stored login)")
    p.add_argument(
        "--backend", choices=BACKENDS, default="auto", help="under torchrun: gloo (CPU), nccl (CUDA)"
    )
    p.add_argument("--mode", choices=MODES, default="text", help="text: one stream; lines: one item per line")
    p.add_argument("--out", help="checkpoint directory to write (default checkpoints/FILE-MODEL)")
    p.add_argument("--resume", metavar="CKPT", help="continue training this checkpoint")
    add_options(p, MODEL_OPTIONS, "model options (a model refuses one it does not have)")
    add_options(p, TRAIN_OPTIONS, "training options", TrainConfig())
    add_budget_options(p)
    p.set_defaults(run=cmd_train)


def add_model_commands(commands) -> None:
    """train, sample, eval, models and list."""
    add_train_command(commands)
    p = commands.add_parser(
        "sample", help="generate text from a checkpoint", description="Generate text from a checkpoint."
    )
    p.add_argument("checkpoint", help="a checkpoint directory")
    p.add_argument("--prompt", default="", help="text to continue")
    p.add_argument(
        "--temperature", type=float, default=1.0, help="0 is greedy; higher is more random (default 1)"
    )
    p.add_argument("--top-k", type=int, default=None, help="sample from the k most likely characters only")
    p.add_argument(
        "--top-p", type=float, default=None, help="sample from the smallest set with this much probability"
    )
    p.add_argument("--num-samples", type=int, default=1, help="how many samples (default 1)")
    p.add_argument("--length", type=int, default=500, help="most characters per sample (default 500)")
    p.add_argument("--seed", type=int, default=None, help="random seed for repeatable samples")
    p.add_argument("--device", default=None, help="cpu (default), cuda or mps")
    p.add_argument("--json", action="store_true", help="print a JSON list of the samples")
    p.set_defaults(run=cmd_sample)

    p = commands.add_parser(
        "eval", help="loss of a checkpoint on a text file", description="Measure a checkpoint on a text file."
    )
    p.add_argument("checkpoint", help="a checkpoint directory")
    p.add_argument("file", help="a UTF-8 text file")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=cmd_eval)

    p = commands.add_parser(
        "models",
        help="the ladder: every model, its settings and defaults",
        description="Print the model ladder as a Markdown table (the README's table is this output).",
    )
    p.set_defaults(run=cmd_models)

    p = commands.add_parser(
        "list", help="list saved checkpoints", description="List the checkpoints in a folder."
    )
    p.add_argument(
        "root", nargs="?", default="checkpoints", help="folder of checkpoints (default checkpoints)"
    )
    p.set_defaults(run=cmd_list)


def add_hub_commands(commands) -> None:
    """search, push and pull: sharing on the Hugging Face Hub."""
    p = commands.add_parser(
        "search",
        help="find charlm models on the Hugging Face Hub",
        description="List the charlm models on the Hub, read from their cards (no weights are downloaded).",
    )
    p.add_argument("text", nargs="?", help="part of the repo id to look for")
    p.add_argument(
        "--sort", choices=["downloads", "likes", "recent"], default="downloads", help="(default downloads)"
    )
    p.add_argument("--limit", type=int, default=20, help="models per page, 1 to 100 (default 20)")
    p.add_argument("--page", type=int, default=1, help="which page (default 1)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=cmd_search)

    p = commands.add_parser(
        "push",
        help="upload a checkpoint to the Hugging Face Hub",
        description="Upload a checkpoint to a Hub model repo.",
    )
    p.add_argument("checkpoint", help="a checkpoint directory")
    p.add_argument("repo_id", help="username/model-name (the repo is created if needed)")
    p.add_argument("--private", action="store_true", help="create the repo as private")
    p.add_argument("--token", help="a Hub token with write access (default: HF_TOKEN or the stored login)")
    p.set_defaults(run=cmd_push)

    p = commands.add_parser(
        "pull",
        help="download a checkpoint from the Hugging Face Hub",
        description="Download a charlm model from the Hub.",
    )
    p.add_argument("repo_id", help="username/model-name")
    p.add_argument("--revision", help="a branch, tag or commit (default main)")
    p.add_argument("--out", help="checkpoint directory to write (default checkpoints/USERNAME--MODEL-NAME)")
    p.add_argument("--token", help="a Hub token, for private repos (default: HF_TOKEN or the stored login)")
    p.set_defaults(run=cmd_pull)


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    try:
        args.run(args)
    except CharlmError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
