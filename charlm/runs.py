"""Runs to compare: a finished training's record (model, settings, curve, final metrics, a sample), the
table of several runs with the best marked, and the ladder: one rung after another on one text, each
with its auto settings and a share of a time budget. The app's history and `charlm ladder` use these."""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from charlm.auto import auto_settings
from charlm.data import Corpus
from charlm.models import MODELS, TEACHING_LADDER, CharLM
from charlm.sampling import sample
from charlm.train import Progress, TrainConfig, Trainer, fresh_trainer, loss_metrics

LADDER = TEACHING_LADDER  # `charlm ladder`'s and the app's default rungs (declared with the models)


@dataclass
class Run:
    """One finished training, as the history keeps it."""

    name: str  # what the person calls it (the model and a number, until renamed)
    model_type: str
    settings: dict
    train: dict  # the TrainConfig's fields
    history: list[Progress]
    metrics: dict  # Trainer.metrics()
    sample: str = ""
    model: CharLM | None = field(default=None, repr=False)  # kept so the run can be saved or used again

    @property
    def best_val_loss(self) -> float:
        """The lowest validation loss of the run: the whole split's at the end, or an evaluation's."""
        evals = [e.val_loss for e in self.history if e.val_loss is not None]
        return min([self.metrics["val_loss"], *evals])


def record(trainer: Trainer, name: str, settings: dict, history: Sequence[Progress]) -> Run:
    """A Run of a trainer that has finished (or stopped): its metrics on the whole split and a sample."""
    model = trainer.model
    lines = model.config.mode == "lines"
    shown = sample(model, num_samples=4 if lines else 1, length=30 if lines else 120, seed=0)
    text = ", ".join(shown) if lines else shown[0]
    train = {k: v for k, v in vars(trainer.config).items()}
    return Run(
        name, model.config.model_type, dict(settings), train, list(history), trainer.metrics(), text, model
    )


def run_row(run: Run) -> dict:
    """One row of the runs table: what a person compares runs by."""
    m, final = run.metrics, loss_metrics(run.metrics["val_loss"])
    return {
        "run": run.name,
        "model": run.model_type,
        "parameters": m["num_params"],
        "seconds": m.get("elapsed_seconds", 0.0),
        "tokens_per_second": m.get("tokens_per_second", 0.0),
        "best_val_loss": run.best_val_loss,
        "val_loss": final["loss"],
        "val_bpc": final["bpc"],
        "val_perplexity": final["perplexity"],
    }


def runs_table(runs: Sequence[Run]) -> list[dict]:
    """The rows of `runs`, the one with the lowest final validation loss marked `"best": True`."""
    rows = [run_row(r) for r in runs]
    if rows:
        best = min(range(len(rows)), key=lambda i: rows[i]["val_loss"])
        for i, row in enumerate(rows):
            row["best"] = i == best
    return rows


def runs_markdown(rows: Sequence[dict], refs: dict[str, float] | None = None) -> str:
    """The runs table as Markdown (the CLI prints it; the app shows it), best run in bold with ★."""
    head = "| run | model | parameters | time | tokens/s | best val | final val (nats) | bits/char | perplexity |"
    lines = [head, "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        star = " ★" if r.get("best") else ""
        final = f"**{r['val_loss']:.4f}**" if r.get("best") else f"{r['val_loss']:.4f}"
        lines.append(
            f"| {r['run']}{star} | {r['model']} | {r['parameters']:,} | {r['seconds']:.1f} s | "
            f"{r['tokens_per_second']:,.0f} | {r['best_val_loss']:.4f} | {final} | {r['val_bpc']:.4f} | "
            f"{r['val_perplexity']:.2f} |"
        )
    for name, loss in (refs or {}).items():
        m = loss_metrics(loss)
        lines.append(f"| *{name}* | | | | | | {loss:.4f} | {m['bpc']:.4f} | {m['perplexity']:.2f} |")
    return "\n".join(lines)


def shares(models: Sequence[str], seconds: float) -> dict[str, float]:
    """Each rung's share of a ladder's time: counting takes none, the others split it equally."""
    trained = [m for m in models if not MODELS[m].trained_by_counting]
    return {m: 0.0 if MODELS[m].trained_by_counting else seconds / len(trained) for m in models}


def ladder_trainer(
    corpus: Corpus, model: str, seconds: float, given: dict | None = None
) -> tuple[Trainer, dict, str]:
    """A fresh trainer of rung `model` with auto settings for `seconds` (what is `given` wins), keeping
    its best weights; the model's settings; and auto's one-line summary."""
    given = given or {}
    auto = auto_settings(corpus, model, seconds, given)
    base = TrainConfig(keep_best=True)
    config = TrainConfig(
        **{**vars(base), **auto.train, **{k: v for k, v in given.items() if k in vars(base)}}
    )
    own = {s.name for s in MODELS[model].settings()}
    settings = {**auto.settings, **{k: v for k, v in given.items() if k in own}}
    return fresh_trainer(corpus, model, config, **settings), settings, auto.summary


def ladder(
    corpus: Corpus, models: Sequence[str] = LADDER, seconds: float = 120.0
) -> Iterator[tuple[str, object]]:
    """Train each rung in turn on `corpus`, each with auto settings and its share of `seconds`.
    Yields ("auto", summary) before a rung trains, ("progress", Progress) as it trains, and
    ("run", Run) when it is done."""
    for model, share in shares(models, seconds).items():
        trainer, settings, line = ladder_trainer(corpus, model, max(share, 1e-3))
        yield "auto", f"{model}: {line}"
        history = []
        for event in trainer.run():
            history.append(event)
            yield "progress", event
        trainer.restore_best()
        yield "run", record(trainer, model, settings, history)
