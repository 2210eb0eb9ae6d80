"""The model card a checkpoint carries to the Hub: YAML the Hub reads (tags, the corpus as a dataset,
`model-index` evaluation results), the loss curve as a PNG, the settings and samples at a few
temperatures. Pure functions of config.json and metrics.json; checkpoint.py and hub.py write them."""

import io
import re
from collections.abc import Sequence
from dataclasses import fields

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from charlm.models import MODELS, CharLM
from charlm.sampling import sample
from charlm.train import Progress, loss_metrics

CURVE = "loss_curve.png"  # pushed beside the weights; the card shows it
TEMPERATURES = (0.5, 0.8, 1.0)
DESCRIPTION = (
    "A character-level language model trained with charlm, a playground for learning how language "
    "models work by building one."
)
METRICS = {  # metric_type -> (its name on the Hub, the key of loss_metrics)
    "loss": ("validation loss (nats per character)", "loss"),
    "bpc": ("bits per character", "bpc"),
    "perplexity": ("perplexity", "perplexity"),
}


def history_rows(history: Sequence[Progress], max_points: int = 300) -> list[dict]:
    """What metrics.json keeps of a run for the card's curve: every evaluation, and the batch losses
    thinned to about `max_points`."""
    every = max(1, len(history) // max_points)
    return [
        {
            "step": e.step,
            "train_loss": round(e.train_loss, 5),
            "val_loss": None if e.val_loss is None else round(e.val_loss, 5),
            "train_eval_loss": None if e.train_eval_loss is None else round(e.train_eval_loss, 5),
        }
        for i, e in enumerate(history)
        if e.val_loss is not None or i % every == 0 or i == len(history) - 1
    ]


def loss_curve_png(rows: Sequence[dict]) -> bytes:
    """The app's loss chart drawn by matplotlib (a Space may have no browser for plotly's export)."""
    import matplotlib

    matplotlib.use("Agg")  # no display, whatever the machine has
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3.6), dpi=100)
    ax = fig.add_subplot()
    ax.plot([r["step"] for r in rows], [r["train_loss"] for r in rows], color="#9ab8dd", lw=1)
    ax.lines[-1].set_label("train (each batch)")
    for key, name, color in (("train_eval_loss", "train", "#1f5fa8"), ("val_loss", "validation", "#e8590c")):
        evals = [r for r in rows if r.get(key) is not None]
        ax.plot([r["step"] for r in evals], [r[key] for r in evals], "o-", color=color, label=name, ms=3)
    ax.set(xlabel="step", ylabel="loss (nats per character)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()


def card_samples(model: CharLM, temperatures: Sequence[float] = TEMPERATURES) -> dict[float, list[str]]:
    """Samples at a few temperatures (seeded, so a card is the same each time it is made)."""
    n = 5 if model.config.mode == "lines" else 1
    return {t: sample(model, num_samples=n, seed=0, temperature=t, length=200) for t in temperatures}


def eval_results(config: dict, metrics: dict, corpus: dict) -> list[EvalResult]:
    """The validation loss in nats, bits per character and perplexity, in the Hub's model-index form."""
    val = metrics.get("val_loss")
    if not isinstance(val, (int, float)):
        return []
    measured = loss_metrics(val)
    dataset = dict(
        task_type="text-generation",
        task_name="character-level language modelling",
        dataset_type=corpus.get("dataset") or "text",
        dataset_name=corpus.get("name") or corpus.get("dataset") or "training text",
        dataset_config=corpus.get("dataset_config"),
        dataset_split="validation",
    )
    return [
        EvalResult(**dataset, metric_type=kind, metric_name=name, metric_value=round(measured[key], 4))
        for kind, (name, key) in METRICS.items()
    ]


def card_data(config: dict, metrics: dict, repo_id: str | None = None) -> ModelCardData:
    """The YAML: the Hub's fields, the corpus as a dataset when it came from the Hub, the evaluation
    results, and a `charlm` block (type, size, corpus) that search shows without downloading weights."""
    corpus = config.get("corpus") or {}
    results = eval_results(config, metrics, corpus)
    return ModelCardData(
        library_name="charlm",
        license="mit",
        pipeline_tag="text-generation",
        tags=["character-level", "charlm", config["model_type"]],
        datasets=[corpus["dataset"]] if corpus.get("dataset") else None,
        model_name=(repo_id or f"charlm-{config['model_type']}").split("/")[-1] if results else None,
        eval_results=results or None,
        charlm={
            "model_type": config["model_type"],
            "parameters": metrics.get("num_params"),
            "steps": metrics.get("steps"),
            "corpus": {k: corpus[k] for k in ("characters", "lines", "vocab_size", "mode") if k in corpus},
        },
    )


def fenced(lines: Sequence[str]) -> str:
    """Samples in a code block whose fence is longer than any run of backticks they hold."""
    longest = max((len(run) for s in lines for run in re.findall(r"`+", s)), default=0)
    fence = "`" * max(3, 1 + longest)
    return f"{fence}text\n" + "\n".join(lines) + f"\n{fence}"


def samples_section(metrics: dict, samples: dict[float, list[str]] | None) -> str:
    if samples:
        return "\n\n".join(f"At temperature {t:g}:\n\n{fenced(s)}" for t, s in samples.items())
    saved = metrics.get("samples") or []
    return fenced(saved) if saved else "No samples were saved."


def model_card(
    config: dict,
    metrics: dict,
    repo_id: str | None = None,
    *,
    description: str | None = None,
    samples: dict[float, list[str]] | None = None,
    curve: bool = False,
) -> str:
    """README.md for the Hub: the YAML, then what the model is, how training went, samples, settings.
    `curve`: a loss_curve.png goes with it; `samples`: {temperature: samples} (else metrics.json's)."""
    corpus, train = config.get("corpus", {}), config.get("train", {})
    model_type = config["model_type"]
    known = {f.name for f in fields(MODELS[model_type].config_class)} if model_type in MODELS else set()
    settings = {k: v for k, v in config.items() if k in known and k != "chars"}
    rows = "\n".join(f"| {k} | {v} |" for k, v in {**settings, **train}.items())
    val = metrics.get("val_loss")
    quality = "Not evaluated."
    if isinstance(val, (int, float)):
        m = loss_metrics(val)
        quality = (
            f"Validation loss **{val:.4f} nats** per character ({m['bpc']:.4f} bits per character, "
            f"perplexity {m['perplexity']:.2f}), after {metrics.get('steps', 0)} steps."
        )
    boundary = "boundary + " if config.get("mode") == "lines" else ""
    training = f"![Training and validation loss]({CURVE})" if curve else "No training history was saved."
    if metrics.get("world_size", 1) > 1:  # a torchrun run: the batch each step saw was all ranks' together
        training += (
            f"\n\nTrained on {metrics['world_size']} processes (DistributedDataParallel), global batch "
            f"{metrics.get('global_batch_size', '?')} windows per step."
        )
    body = f"""
# charlm {model_type}

{(description or DESCRIPTION).strip()}

- **Model**: `{model_type}`, {metrics.get("num_params", "?")} parameters
- **Corpus**: {corpus.get("characters", "?")} characters, vocabulary of {boundary}{len(config["chars"])} characters, `{config.get("mode", "text")}` mode
- **Quality**: {quality}

## Training

{training}

## Samples

{samples_section(metrics, samples)}

## Use it

```python
import charlm
model = charlm.load("{repo_id or "path/to/this/checkpoint"}")
print(charlm.sample(model, num_samples=5))
```

## Settings

| setting | value |
| --- | --- |
{rows}
"""
    data = card_data(config, metrics, repo_id)
    return ModelCard.from_template(data, template_str="---\n{{ card_data }}\n---\n" + body).content
