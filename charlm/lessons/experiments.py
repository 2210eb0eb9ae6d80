"""The experiment of each lesson: it trains or counts on a text the project ships, and returns the
numbers the lesson's text quotes and the figures it shows. `scale` below 1 shortens every run (tests)."""

import math
from dataclasses import dataclass, field
from pathlib import Path

import plotly.graph_objects as go
import torch

from charlm import inside, viz
from charlm.data import BOUNDARY, Corpus, read_text
from charlm.graph import loss_graph, tiny_value_mlp
from charlm.models import MODELS, TEACHING_LADDER
from charlm.models.numpy_models import gradient_check
from charlm.runs import ladder as runs_ladder
from charlm.sampling import next_distribution, stream
from charlm.train import Progress, TrainConfig, Trainer, evaluate, fresh_trainer, loss_metrics

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@dataclass
class Result:
    """What a lesson's run produced: the numbers its text quotes (by name), its figures and HTML, and
    the model it leaves in the session (to go further with in another tab)."""

    numbers: dict[str, str]
    figures: list[go.Figure] = field(default_factory=list)
    html: str = ""
    model: object = None  # a trained CharLM, or None
    trainer: Trainer | None = None


def names_corpus(seed: int = 1337) -> Corpus:
    return Corpus.from_text(read_text(EXAMPLES / "names.txt"), "lines", seed=seed)


def verses_corpus(seed: int = 1337) -> Corpus:
    return Corpus.from_text(read_text(EXAMPLES / "verses.txt"), "text", seed=seed)


def trainer_for(
    corpus: Corpus, model: str, steps: int, lr: float, keep_best: bool = True, **settings
) -> Trainer:
    """A fresh trainer for `model` on `corpus`: `steps` steps, about 20 evaluations, keeping the weights
    of the best one (as the playground does)."""
    steps = max(2, steps)
    config = TrainConfig(
        steps=steps,
        batch_size=32,
        lr=lr,
        eval_interval=max(1, steps // 20),
        eval_tokens=4096,
        keep_best=keep_best,
    )
    config.warmup_steps = min(50, steps // 10)
    return fresh_trainer(corpus, model, config, **settings)


def run(trainer: Trainer, *recorders) -> list[Progress]:
    """Train to the end; every recorder sees every event. Returns the events."""
    history = []
    for event in trainer.run():
        history.append(event)
        for record in recorders:
            record(event)
    return history


def counting(scale: float = 1.0) -> Result:
    """Lesson 1: the bigram table of the names, and one name's probability worked out from it."""
    corpus = names_corpus()
    counts_model = viz.bigram_model(corpus.train, corpus.vocab)
    counts = counts_model.counts
    name = (
        "mila"
        if all(c in corpus.vocab.stoi for c in "mila")
        else corpus.vocab.decode(corpus.train.tokens[1:5].tolist())
    )
    ids = [BOUNDARY, *corpus.vocab.encode(name), BOUNDARY]
    probs = viz.row_probs(counts + 1.0)  # smoothing 1, as the count bigram does by default
    steps, nll = [], 0.0
    for a, b in zip(ids, ids[1:]):
        p = float(probs[a, b])
        nll -= math.log(p)
        steps.append(f"P({corpus.vocab.label(b)} | {corpus.vocab.label(a)}) = {p:.4f}")
    unseen = [(a, b) for a in range(corpus.vocab.size) for b in range(corpus.vocab.size) if counts[a, b] == 0]
    a, b = unseen[len(unseen) // 2]
    table = viz.bigram_table(corpus.vocab, counts, 30)
    numbers = {
        "pairs": f"{int(counts.sum()):,}",
        "name": name,
        "steps": " × ".join(steps),
        "probability": f"{math.exp(-nll):.3g}",
        "nll": f"{nll:.3f}",
        "per_char": f"{nll / (len(ids) - 1):.3f}",
        "unseen": f"{len(unseen):,}",
        "unseen_pair": f"{corpus.vocab.label(a)}{corpus.vocab.label(b)}",
        "unseen_smoothed": f"{float(probs[a, b]):.4f}",
        "val_loss": f"{evaluate(counts_model, corpus.val):.3f}",
    }
    return Result(numbers, [viz.bigram_heatmap(table, "counts")], model=counts_model)


def learned(scale: float = 1.0) -> Result:
    """Lesson 2: the neural bigram learns the counted table by gradient descent."""
    corpus = names_corpus()
    counted = evaluate(viz.bigram_model(corpus.train, corpus.vocab), corpus.val)
    trainer = trainer_for(corpus, "neural-bigram", int(400 * scale), 0.1)
    history = run(trainer)
    val = evaluate(trainer.model, corpus.val)
    counts = viz.bigram_model(corpus.train, corpus.vocab).counts
    fig, _ = viz.bigram_comparison(corpus.vocab, counts, viz.learned_table(trainer.model), 25)
    numbers = {
        "steps": f"{trainer.step:,}",
        "start": f"{history[0].val_loss:.3f}",
        "learned": f"{val:.3f}",
        "counted": f"{counted:.3f}",
        "gap": f"{abs(val - counted):.3f}",
    }
    refs = {"count bigram": counted}
    return Result(numbers, [viz.loss_figure(history, refs), fig], model=trainer.model, trainer=trainer)


def gradients(scale: float = 1.0) -> Result:
    """Lesson 3: one prediction of a tiny MLP as a graph of scalar Values, and the hand-written NumPy
    gradients agreeing with autograd."""
    graph = loss_graph(
        tiny_value_mlp(block_size=2, n_embd=2, n_hidden=4, chars="abcde"), "ab", "c", render=True
    )
    text = read_text(EXAMPLES / "names.txt")
    rows = gradient_check("numpy-mlp", text, "lines", 4, 0, block_size=3, n_embd=8, n_hidden=16)
    worst = max(r["max_abs_diff_autograd"] for r in rows)
    numbers = {
        "nodes": f"{graph.nodes:,}",
        "loss": f"{graph.loss:.4f}",
        "ops": ", ".join(f"{n} {op}" for op, n in sorted(graph.counts.items(), key=lambda kv: -kv[1])[:4]),
        "weights": f"{len(rows)}",
        "worst": f"{worst:.1e}",
    }
    return Result(
        numbers, html=graph.svg + viz.gradient_check_html(rows, "NumPy MLP, one batch of 4 windows")
    )


def context(scale: float = 1.0) -> Result:
    """Lesson 4: the MLP reads several characters; its embeddings move into groups as it trains."""
    corpus = names_corpus()
    trainer = trainer_for(corpus, "mlp", int(1500 * scale), 3e-3, block_size=4, n_embd=8, n_hidden=64)
    snapshots = inside.Snapshots(trainer.model)
    history = run(trainer, snapshots)
    bigram = evaluate(viz.bigram_model(corpus.train, corpus.vocab), corpus.val)
    numbers = {
        "context": f"{trainer.model.config.block_size}",
        "val": f"{evaluate(trainer.model, corpus.val):.3f}",
        "bigram": f"{bigram:.3f}",
        "frames": f"{len(snapshots.steps)}",
    }
    figures = [
        inside.embeddings_figure(inside.embedding_history(snapshots)),
        viz.loss_figure(history, {"count bigram": bigram}),
    ]
    return Result(numbers, figures, model=trainer.model, trainer=trainer)


def memory(scale: float = 1.0) -> Result:
    """Lesson 5: an LSTM on the verses, and the unit that best tracks a feature you can name."""
    corpus = verses_corpus()
    trainer = trainer_for(
        corpus, "lstm", int(600 * scale), 1e-2, block_size=64, n_embd=16, n_hidden=64, dropout=0.0
    )
    run(trainer)
    text = corpus.text[:600]
    found = inside.neurons(trainer.model, text)
    feature, best = max(
        ((f, ranked[0]) for f, ranked in found.ranking.items() if ranked),
        key=lambda fb: abs(fb[1].correlation),
    )
    numbers = {
        "val": f"{evaluate(trainer.model, corpus.val):.3f}",
        "units": f"{trainer.model.config.n_hidden}",
        "feature": feature,
        "layer": best.layer,
        "unit": f"{best.unit}",
        "correlation": f"{best.correlation:+.2f}",
    }
    html = inside.neuron_html(found, best.layer, best.unit)
    return Result(
        numbers, [inside.ranking_figure(found, feature)], html=html, model=trainer.model, trainer=trainer
    )


def attention(scale: float = 1.0) -> Result:
    """Lesson 6: a small transformer on the names, and its attention on one name."""
    corpus = names_corpus()
    trainer = trainer_for(
        corpus,
        "transformer",
        int(1500 * scale),
        3e-3,
        block_size=16,
        n_layer=2,
        n_head=4,
        n_embd=16,
        dropout=0.2,
    )
    run(trainer)
    name = corpus.vocab.decode(corpus.val.tokens[1 : int(corpus.val.lengths[0])].tolist()) or "mila"
    att = inside.attention(trainer.model, name)
    last = att.weights[:, :, -1, :]  # what the last character attends to, per layer and head
    layer, head = divmod(int(last.max(axis=-1).argmax()), att.weights.shape[1])
    numbers = {
        "val": f"{evaluate(trainer.model, corpus.val):.3f}",
        "name": name,
        "layers": f"{att.weights.shape[0]}",
        "heads": f"{att.weights.shape[1]}",
        "layer": f"{layer + 1}",  # counted from 1, as the figures count them
        "head": f"{head + 1}",
        "peak": f"{float(last[layer, head].max()):.2f}",
    }
    figures = [inside.attention_heatmap(att, layer, head), inside.attention_grid(att)]
    return Result(numbers, figures, model=trainer.model, trainer=trainer)


def measuring(scale: float = 1.0) -> Result:
    """Lesson 7: nats, bits and perplexity; a model too big for its text overfits, a smaller one with
    dropout does not."""
    corpus = names_corpus()
    big = trainer_for(  # left to overfit (no keep-best), so that it can be seen
        corpus, "mlp", int(3000 * scale), 3e-3, False, block_size=4, n_embd=32, n_hidden=512, dropout=0.0
    )
    big_history = run(big)
    small = trainer_for(
        corpus, "mlp", int(3000 * scale), 3e-3, block_size=4, n_embd=8, n_hidden=64, dropout=0.1
    )
    small_history = run(small)
    best = min((e for e in big_history if e.val_loss is not None), key=lambda e: e.val_loss)
    final = evaluate(big.model, corpus.val)
    cured = evaluate(small.model, corpus.val)
    m = loss_metrics(cured)
    numbers = {
        "big_params": f"{big.model.num_params():,}",
        "train_chars": f"{len(corpus.train.tokens):,}",
        "best": f"{best.val_loss:.3f}",
        "best_step": f"{best.step:,}",
        "final": f"{final:.3f}",
        "train": f"{evaluate(big.model, corpus.train):.3f}",
        "small_params": f"{small.model.num_params():,}",
        "cured": f"{cured:.3f}",
        "bits": f"{m['bpc']:.3f}",
        "perplexity": f"{m['perplexity']:.2f}",
    }
    figures = [viz.loss_figure(big_history), viz.loss_figure(small_history)]
    return Result(numbers, figures, model=small.model, trainer=small)


def sampling(scale: float = 1.0) -> Result:
    """Lesson 8: temperature, top-k and top-p on one distribution, and samples at three temperatures."""
    corpus = names_corpus()
    trainer = trainer_for(corpus, "mlp", int(1500 * scale), 3e-3, block_size=4, n_embd=16, n_hidden=128)
    run(trainer)
    model, vocab = trainer.model, corpus.vocab
    first = next(stream(model, "", temperature=0, length=1))
    cold, hot = next_distribution(first.logits, 0.5), next_distribution(first.logits, 1.5)
    top = torch.softmax(first.logits, -1)
    samples = {
        t: [
            ("".join(tok.char for tok in stream(model, "", temperature=t, length=20, seed=s)))
            for s in range(4)
        ]
        for t in (0.5, 1.0, 1.5)
    }
    numbers = {
        "top_char": vocab.label(first.id),
        "p1": f"{float(top.max()):.3f}",
        "p_cold": f"{float(cold.max()):.3f}",
        "p_hot": f"{float(hot.max()):.3f}",
        "cold": ", ".join(samples[0.5]),
        "warm": ", ".join(samples[1.0]),
        "hot": ", ".join(samples[1.5]),
    }
    figures = [
        viz.distribution_figure(vocab, first.logits, "", 0.5),
        viz.distribution_figure(vocab, first.logits, "", 1.0, top_k=5),
        viz.distribution_figure(vocab, first.logits, "", 1.0, top_p=0.5),
    ]
    return Result(numbers, figures, model=model, trainer=trainer)


def ladder(scale: float = 1.0, seconds: float = 40.0) -> Result:
    """Lesson 9: the teaching ladder on the names, one rung after another with auto settings, keep-best
    and a share of `seconds` each (as `charlm ladder` and the Train tab's "Train the ladder" do), and
    validation loss against seconds on one chart (the runs chart)."""
    corpus = names_corpus()
    runs = [item for kind, item in runs_ladder(corpus, TEACHING_LADDER, seconds * scale) if kind == "run"]
    rows = [(r.model_type, r.metrics["num_params"], r.metrics["steps"], r.metrics["val_loss"]) for r in runs]
    counted = next(v for m, _, _, v in rows if MODELS[m].trained_by_counting)
    best = min(rows, key=lambda r: r[3])
    numbers = {
        "text_chars": f"{len(corpus.text):,}",
        "table": "\n".join(
            f"| {m} | {p:,} | {'counted' if MODELS[m].trained_by_counting else f'{s:,}'} | {v:.3f} |"
            for m, p, s, v in rows
        ),
        "bigram": f"{counted:.3f}",
        "best": best[0],
        "best_val": f"{best[3]:.3f}",
        "gain": f"{counted - best[3]:.3f}",
    }
    figure = viz.runs_figure({r.model_type: r.history for r in runs}, "seconds", {"count bigram": counted})
    return Result(numbers, [figure], model=runs[-1].model)
