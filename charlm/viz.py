"""What the playground shows, as plain functions of models and text: plotly figures (bigram tables,
loss curves, next-character distributions) and HTML or Markdown strings in which every character that
came from a text or a model is escaped. Nothing here imports gradio."""

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from charlm.data import Corpus, Split, Vocab, make_split, split_lines
from charlm.errors import CharlmError
from charlm.models import CharLM, build_model, model_config
from charlm.sampling import Token, next_distribution, unchanged
from charlm.train import Progress, evaluate, loss_metrics

OTHER = "(other)"  # the row and column that gathers every character left out of a top-N table
FONT = "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace"


def escape(s: str) -> str:
    """Text for HTML and for plotly labels, which are HTML-like too: <, >, & and quotes become entities."""
    return html.escape(s, quote=True)


def labels(vocab: Vocab) -> list[str]:
    """Visible, unique names for every token id: space is ␣, newline ⏎, the lines-mode boundary •.

    A text that itself contains '␣' or '•' would collide with a symbol; the second one gets a prime.
    """
    out, seen = [], set()
    for i in range(vocab.size):
        name = vocab.label(i)
        while name in seen:
            name += "′"
        seen.add(name)
        out.append(name)
    return out


def context_tail(vocab: Vocab, text: str, n: int = 24) -> str:
    """The last n characters of `text` with whitespace drawn visibly, for titles."""
    ids = vocab.encode(text[-n:])
    return ("…" if len(text) > n else "") + "".join(vocab.label(i) for i in ids)


# ---------------------------------------------------------------------------------------------------
# The corpus


def corpus_summary(corpus: Corpus) -> str:
    """Markdown: characters, vocabulary and lines of the text, and how it splits for training."""
    s = corpus.summary()
    boundary = " (with • marking where a line starts and ends)" if corpus.mode == "lines" else ""
    return (
        f"**{s['characters']:,}** characters · vocabulary of **{s['vocab_size']}**{boundary} · "
        f"**{s['lines']:,}** lines · trains on {s['train_tokens']:,} tokens, validates on {s['val_tokens']:,}"
    )


def bigram_model(text_or_split: str | Split, vocab: Vocab) -> CharLM:
    """The count bigram of a text (or split): every (current, next) pair counted, as the ladder's first rung."""
    split = make_split(text_or_split, vocab) if isinstance(text_or_split, str) else text_or_split
    model = build_model(model_config("bigram", chars=vocab.chars, mode="lines" if vocab.boundary else "text"))
    model.fit(split)
    return model


def text_bigram(text: str, mode: str) -> tuple[Vocab, torch.Tensor]:
    """The vocabulary of `text` and its (V, V) table of pair counts: row = current, column = next."""
    if not text.strip():
        raise CharlmError("the text is empty (or only whitespace). Paste or load some text first.")
    if mode == "lines" and not split_lines(text):
        raise CharlmError("lines mode needs at least one non-blank line.")
    vocab = Vocab.from_text(text, mode)
    return vocab, bigram_model(text, vocab).counts


def baselines(corpus: Corpus) -> dict[str, float]:
    """Validation losses any model should beat: guessing uniformly (ln V) and counting pairs."""
    counted = bigram_model(corpus.train, corpus.vocab)
    return {"uniform guess": math.log(corpus.vocab.size), "count bigram": evaluate(counted, corpus.val)}


# ---------------------------------------------------------------------------------------------------
# Bigram tables


def top_ids(counts: torch.Tensor, n: int | None) -> list[int]:
    """The n most frequent tokens (as current or next character), in vocabulary order; all if n is None."""
    V = counts.size(0)
    if n is None or n >= V:
        return list(range(V))
    freq = counts.sum(0) + counts.sum(1)
    return sorted(torch.topk(freq, n).indices.tolist())


def reduce_table(probs: torch.Tensor, weights: torch.Tensor, keep: list[int]) -> torch.Tensor:
    """Shrink a (V, V) table of row probabilities to the `keep` ids plus one "other" row and column.

    The other column sums the probability of the characters left out; the other row averages their
    rows, weighted by how often each occurs. Rows therefore still sum to 1.
    """
    V = probs.size(0)
    if len(keep) == V:
        return probs
    kept = set(keep)
    rest = [i for i in range(V) if i not in kept]
    cols = torch.cat([probs[:, keep], probs[:, rest].sum(1, keepdim=True)], dim=1)  # (V, n+1)
    w = weights[rest]
    other = (w[:, None] * cols[rest]).sum(0) / w.sum() if w.sum() > 0 else torch.zeros(cols.size(1))
    return torch.cat([cols[keep], other[None]], dim=0)  # (n+1, n+1)


def row_probs(counts: torch.Tensor) -> torch.Tensor:
    """Counts to P(next | current); a character never followed by anything gets a row of zeros."""
    totals = counts.sum(1, keepdim=True)
    return torch.where(totals > 0, counts / totals.clamp(min=1), torch.zeros_like(counts))


@dataclass
class Table:
    """A bigram table ready to draw: labels, counts and probabilities, possibly cut to the top N."""

    labels: list[str]
    counts: torch.Tensor  # (n, n)
    probs: torch.Tensor  # (n, n), rows sum to 1 where the character occurs


def bigram_table(vocab: Vocab, counts: torch.Tensor, top_n: int | None = None) -> Table:
    keep = top_ids(counts, top_n)
    every = labels(vocab)
    names = [every[i] for i in keep]
    if len(keep) < counts.size(0):
        names.append(OTHER)
        kept = set(keep)
        rest = [i for i in range(counts.size(0)) if i not in kept]
        cols = torch.cat([counts[:, keep], counts[:, rest].sum(1, keepdim=True)], dim=1)
        counts = torch.cat([cols[keep], cols[rest].sum(0, keepdim=True)], dim=0)
    return Table(names, counts, row_probs(counts))


def table_height(n: int) -> int:
    return int(min(1400, max(380, 16 * n + 140)))


def label_size(n: int) -> int:
    """The tick labels' font size for an n-by-n table: 11 up to 30 characters, down to 6 at 105 and
    beyond, so every label keeps its own row (the height stops growing at 1,400 px)."""
    return int(max(6, min(11, 11 - (n - 30) / 15)))


def log_scale(z: torch.Tensor, low: float) -> tuple[list, dict]:
    """log10 of a table for its colours, with empty cells (never seen) left blank, and a colour bar
    labelled in the table's own numbers: pairs a hundred times rarer still show, and the pattern with them."""
    logs = [[math.log10(v) if v > 0 else None for v in row] for row in z.tolist()]
    high = max(1.0, float(z.max())) if z.numel() else 1.0
    ticks = list(range(int(math.floor(math.log10(low))), int(math.ceil(math.log10(high))) + 1))
    names = [f"{10.0**k:g}" if k < 0 else f"{10**k:,}" for k in ticks]
    colorbar = dict(tickvals=ticks, ticktext=names, thickness=12)
    return logs, dict(zmin=math.log10(low), zmax=math.log10(high), colorbar=colorbar)


def cell_text(count: float, value: float, show: str) -> str:
    """A small table's cell: empty where the pair never occurs, and never a 0.00 for one that does."""
    if count == 0:
        return ""
    if show == "counts":
        return f"{count:.0f}"
    return f"{value:.2f}" if value >= 0.005 else "<.01"


def bigram_heatmap(table: Table, show: str = "probabilities", title: str | None = None) -> go.Figure:
    """The table as a heatmap: rows the current character, columns the next; hover gives pair, count, P.
    Colours are on a log scale (a pair seen once still shows); hover and cells give the plain numbers,
    the same as the follower bars'."""
    if show not in ("probabilities", "counts"):
        raise CharlmError(f"show must be 'probabilities' or 'counts', not {show!r}.")
    names = [escape(n) for n in table.labels]
    z = table.probs if show == "probabilities" else table.counts
    logs, scale = log_scale(z, 1e-3 if show == "probabilities" else 1.0)
    which = "P (log scale)" if show == "probabilities" else "count (log scale)"
    scale["colorbar"]["title"] = dict(text=which, side="right")
    custom = torch.stack([table.counts, table.probs], dim=-1).tolist()  # (n, n, 2)
    fig = go.Figure(
        go.Heatmap(
            z=logs,
            x=names,
            y=names,
            customdata=custom,
            colorscale="Blues",
            **scale,
            hovertemplate="<b>%{y} → %{x}</b><br>count: %{customdata[0]:,.0f}"
            "<br>P(next = %{x} | current = %{y}) = %{customdata[1]:.3f}<extra></extra>",
            xgap=1 if len(names) <= 60 else 0,
            ygap=1 if len(names) <= 60 else 0,
        )
    )
    n = len(names)
    if n <= 30:  # small tables carry their numbers in the cells
        fig.data[0].text = [
            [cell_text(c, v, show) for c, v in zip(cr, vr)]
            for cr, vr in zip(table.counts.tolist(), z.tolist())
        ]
        fig.data[0].texttemplate = "%{text}"
        fig.data[0].textfont = dict(size=9)
    fig.update_layout(
        title=dict(text=title or f"Bigram {show}: which character follows which", x=0.01),
        height=table_height(n),
        margin=dict(l=60, r=20, t=60, b=50),
        template="plotly_white",
    )
    axis = dict(type="category", tickfont=dict(family=FONT, size=label_size(n)), dtick=1)
    fig.update_xaxes(title="next character", side="top", **axis)
    fig.update_yaxes(title="current character", autorange="reversed", **axis)
    return fig


def follower_bars(
    vocab: Vocab,
    counts: torch.Tensor,
    current: int,
    learned: torch.Tensor | None = None,
    n: int = 30,
    counted_in: str = "the text",
) -> go.Figure:
    """What follows token `current`: its row of the counted table as bars (and a learned row beside it).
    `counted_in` names where `counts` come from, in the title: a page showing two counts says which."""
    names = labels(vocab)
    row = counts[current]
    total = float(row.sum())
    probs = row / total if total > 0 else torch.zeros_like(row)
    order = [i for i in torch.argsort(probs, descending=True)[:n].tolist() if row[i] > 0]
    x = [escape(names[i]) for i in order]
    fig = go.Figure(
        go.Bar(
            x=x,
            y=[float(probs[i]) for i in order],
            customdata=[float(row[i]) for i in order],
            name=f"counted in {counted_in}",
            marker_color="#3b6fb6",
            hovertemplate="%{x}: P = %{y:.3f} (%{customdata:,.0f} times)<extra></extra>",
        )
    )
    if learned is not None:
        fig.add_bar(
            x=x,
            y=[float(learned[current, i]) for i in order],
            name="learned by the neural bigram",
            marker_color="#e8871e",
            hovertemplate="%{x}: P = %{y:.3f}<extra></extra>",
        )
    who = escape(names[current])
    character_bars_layout(
        fig, f"What follows {who} ({total:,.0f} times in {counted_in})", 340, "P(next | current)"
    )
    return fig


def character_bars_layout(fig: go.Figure, title: str, height: int, y_title: str) -> None:
    """Grouped bars over characters: what the followers chart and the distribution chart share."""
    fig.update_layout(
        title=dict(text=title, x=0.01),
        barmode="group",
        height=height,
        margin=dict(l=50, r=20, t=50, b=40),
        template="plotly_white",
        yaxis=dict(title=y_title, rangemode="tozero"),
        xaxis=dict(type="category", tickfont=dict(family=FONT)),
        legend=dict(orientation="h", y=1.02, x=1, xanchor="right", yanchor="bottom"),
    )


def learned_table(model: CharLM) -> torch.Tensor:
    """The next-character probabilities of a bigram model, (V, V): softmax of the neural bigram's logits."""
    V = model.config.vocab_size
    with torch.no_grad():
        logits, _ = model.decode(torch.arange(V, device=model.device)[:, None], None)  # (V, 1, V)
    return torch.softmax(logits[:, 0].float(), dim=-1).cpu()


def compare_bigrams(counts: torch.Tensor, learned: torch.Tensor) -> dict[str, float]:
    """How far a learned table is from the counted one, on the text the counts came from.

    `kl`: the extra nats per character the learned table costs over the counted table (the KL divergence
    of each row, weighted by how often the row's character occurs); `max_diff`: the largest gap between
    two probabilities of a row that occurs.
    """
    totals = counts.sum(1)
    p = row_probs(counts)
    seen = totals > 0
    logs = torch.where(p > 0, p * (p.clamp(min=1e-30).log() - learned.clamp(min=1e-30).log()), 0.0)
    kl = float((logs.sum(1) * totals).sum() / totals.sum())
    max_diff = float((p - learned).abs()[seen].max()) if seen.any() else 0.0
    return {"kl": kl, "max_diff": max_diff}


def bigram_comparison(vocab: Vocab, counts: torch.Tensor, learned: torch.Tensor, top_n: int | None = None):
    """Counted and learned tables side by side on the same characters, and a Markdown line on the gap."""
    keep = top_ids(counts, top_n)
    every = labels(vocab)
    names = [escape(every[i]) for i in keep] + ([OTHER] if len(keep) < counts.size(0) else [])
    weights = counts.sum(1)
    tables = [reduce_table(row_probs(counts), weights, keep), reduce_table(learned, weights, keep)]
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=("counted", "learned by gradient descent"), horizontal_spacing=0.06
    )
    for col, table in enumerate(tables, start=1):
        fig.add_trace(
            go.Heatmap(
                z=table.tolist(),
                x=names,
                y=names,
                coloraxis="coloraxis",
                hovertemplate="<b>%{y} → %{x}</b><br>P = %{z:.3f}<extra></extra>",
                xgap=1,
                ygap=1,
            ),
            row=1,
            col=col,
        )
    n = len(names)
    axis = dict(type="category", tickfont=dict(family=FONT, size=label_size(n)), dtick=1)
    fig.update_xaxes(**axis)
    fig.update_yaxes(autorange="reversed", **axis)
    fig.update_layout(
        coloraxis=dict(colorscale="Blues", cmin=0, cmax=1, colorbar=dict(title=dict(text="P"), thickness=12)),
        height=table_height(n) * 0.8,
        margin=dict(l=60, r=20, t=60, b=40),
        template="plotly_white",
    )
    gap = compare_bigrams(counts, learned)
    summary = (
        f"On the training text the learned table costs **{gap['kl']:.4f} nats per character** more than "
        f"the counted one (their KL divergence), and its biggest difference in one probability is "
        f"**{gap['max_diff']:.3f}**. Gradient descent on the neural bigram is heading for the counted "
        "table: the closer to 0, the closer it got."
    )
    return fig, summary


# ---------------------------------------------------------------------------------------------------
# Training


def downsample(xs: Sequence[float], ys: Sequence[float], max_points: int) -> tuple[list[float], list[float]]:
    """At most `max_points` points: consecutive points averaged in equal buckets, so the shape survives."""
    n = len(xs)
    if n <= max_points:
        return list(xs), list(ys)
    out_x, out_y = [], []
    for b in range(max_points):
        lo, hi = b * n // max_points, (b + 1) * n // max_points
        out_x.append(sum(xs[lo:hi]) / (hi - lo))
        out_y.append(sum(ys[lo:hi]) / (hi - lo))
    return out_x, out_y


def loss_axes(fig: go.Figure, refs: dict[str, float] | None, title: str, height: int, revision: str) -> None:
    """What every loss chart shares: the reference lines (uniform guess, count bigram) and its axes."""
    for (name, value), dash in zip((refs or {}).items(), ("dot", "dash", "dashdot")):
        fig.add_hline(
            y=value,
            line=dict(color="#666", dash=dash, width=1),
            annotation_text=f"{escape(name)}: {value:.3f}",
            annotation_position="top right",
            annotation_font=dict(size=11, color="#555"),
        )
    fig.update_layout(
        title=dict(text=title, x=0.01),
        height=height,
        margin=dict(l=50, r=20, t=50, b=40),
        template="plotly_white",
        xaxis=dict(title="step", rangemode="tozero"),
        yaxis=dict(title="loss"),
        uirevision=revision,  # keep the user's zoom while the curves grow
    )


def loss_figure(history: Sequence[Progress], refs: dict[str, float] | None = None, max_points: int = 300):
    """Train and validation loss against steps, with reference lines (uniform guess, count bigram).
    Evaluations are estimates from samples of windows: a band of two standard errors shows their noise."""
    fig = go.Figure()
    steps = [e.step for e in history]
    if history:
        x, y = downsample(steps, [e.train_loss for e in history], max_points)
        fig.add_scatter(
            x=x, y=y, name="train (each batch)", mode="lines", line=dict(color="#9ab8dd", width=1)
        )
    evals = [e for e in history if e.val_loss is not None]
    at = [e.step for e in evals]
    for name, get, err, color, band in (
        ("train", lambda e: e.train_eval_loss, lambda e: e.train_eval_loss_err, "#1f5fa8", "31,95,168"),
        ("validation", lambda e: e.val_loss, lambda e: e.val_loss_err, "#e8590c", "232,89,12"),
    ):
        x, y = downsample(at, [get(e) for e in evals], max_points)
        if any(err(e) for e in evals):  # histories from before estimates had errors have no band
            _, upper = downsample(at, [get(e) + 2 * (err(e) or 0) for e in evals], max_points)
            _, lower = downsample(at, [get(e) - 2 * (err(e) or 0) for e in evals], max_points)
            fig.add_scatter(
                x=x + x[::-1],
                y=upper + lower[::-1],
                name=f"{name} ± 2 standard errors",
                fill="toself",
                fillcolor=f"rgba({band},0.2)",
                line=dict(width=0),
                hoverinfo="skip",
                showlegend=False,
            )
        fig.add_scatter(x=x, y=y, name=name, mode="lines+markers", line=dict(color=color, width=2))
    loss_axes(fig, refs, "Loss (nats per character): lower is better", 360, "loss")
    fig.update_layout(legend=dict(orientation="h", y=1.02, x=1, xanchor="right", yanchor="bottom"))
    return fig


def duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def progress_html(event: Progress | None, note: str = "") -> str:
    """A progress bar with the step, tokens per second and the time left (or `note` instead)."""
    if event is None:
        fraction, text = 0.0, note or "not started"
    else:
        fraction = event.step / max(event.steps, 1)
        left = note or ("done" if event.done else f"about {duration(event.remaining)} left")
        text = (
            f"step {event.step:,} / {event.steps:,} · {event.tokens_per_second:,.0f} tokens/s · "
            f"{duration(event.elapsed)} elapsed · {left}"
        )
    return (
        '<div class="charlm-progress" style="border:1px solid #ccd;border-radius:6px;overflow:hidden;'
        'position:relative;height:28px;background:#f4f6fa">'
        f'<div style="width:{100 * min(max(fraction, 0), 1):.1f}%;height:100%;background:#9cc3ee"></div>'
        '<div style="position:absolute;inset:0;display:flex;align-items:center;padding:0 10px;'
        f'font-size:13px;color:#123">{escape(text)}</div></div>'
    )


def metrics_markdown(losses: dict[str, float], refs: dict[str, float] | None = None) -> str:
    """A Markdown table of losses in nats, bits per character and perplexity, references included."""
    rows = ["| | nats | bits per character | perplexity |", "|---|---:|---:|---:|"]
    for name, loss in {**losses, **{f"*{k}*": v for k, v in (refs or {}).items()}}.items():
        m = loss_metrics(loss)
        rows.append(f"| {name} | {m['loss']:.4f} | {m['bpc']:.4f} | {m['perplexity']:.2f} |")
    return "\n".join(rows)


def training_warnings(
    num_params: int, num_chars: int, history: Sequence[Progress] = (), kept_step: int | None = None
) -> list[str]:
    """Plain-language warnings: a model far bigger than its text, and validation loss rising (overfitting).
    `kept_step`: the step whose weights were kept (keep-best); a rise after it is no warning then, since
    the model kept is the one from before the rise."""
    warnings = []
    if num_params > 10 * num_chars:
        warnings.append(
            f"The model has {num_params:,} parameters, {num_params / max(num_chars, 1):,.0f} times the "
            f"{num_chars:,} characters it trains on: it can memorise the text instead of learning its "
            "patterns. Watch the validation loss, or try a smaller model or a longer text."
        )
    evals = [e for e in history if e.val_loss is not None and e.train_eval_loss is not None]
    if len(evals) >= 3:
        best = min(evals, key=lambda e: e.val_loss)
        last = evals[-1]
        # the estimates are noisy: a rise counts only beyond two standard errors of the difference
        # (independent errors assumed; the run's fixed sample makes the true one smaller, so this is cautious)
        noise = 2 * math.hypot(best.val_loss_err or 0.0, last.val_loss_err or 0.0)
        rise = last.val_loss - best.val_loss
        kept_best = kept_step is not None and kept_step == best.step
        if (
            rise > max(0.02, 0.01 * best.val_loss, noise)
            and last.train_eval_loss < best.train_eval_loss
            and not kept_best
        ):
            warnings.append(
                f"Overfitting: the validation loss rose from {best.val_loss:.3f} (step {best.step:,}) to "
                f"{last.val_loss:.3f} while the training loss kept falling. The model is memorising the "
                "training text. Stop here, or use fewer steps, dropout, a smaller model or more text."
            )
    return warnings


# ---------------------------------------------------------------------------------------------------
# Sampling


def distribution_figure(
    vocab: Vocab,
    logits: torch.Tensor,
    context: str,
    temperature: float,
    top_k: int | None = None,
    top_p: float | None = None,
    chosen: int | None = None,
    n: int = 20,
) -> go.Figure:
    """The next-character distribution at temperature 1 beside the one sampled from (temperature, then
    top-k and top-p): the effect of the sliders, drawn from the `logits` (V,) the sampler saw after
    `context` (a Token's). When the sliders change nothing (temperature 1, no top-k or top-p), one
    series says so instead of two identical ones."""
    raw = next_distribution(logits, 1.0)
    used = next_distribution(logits, temperature, top_k or None, top_p)
    order = torch.argsort(raw, descending=True)[: min(n, raw.numel())].tolist()
    if chosen is not None and chosen not in order:
        order.append(chosen)
    names = labels(vocab)
    x = [escape(names[i]) for i in order]
    filters = [f"temperature {temperature:g}"]
    if top_k:
        filters.append(f"top-k {top_k}")
    if top_p is not None and top_p < 1:
        filters.append(f"top-p {top_p:g}")
    fig = go.Figure()
    same = unchanged(temperature, top_k, top_p)  # the sliders change nothing
    model = "the model, sampled from as it is (temperature 1)" if same else "the model (temperature 1)"
    fig.add_bar(x=x, y=[float(raw[i]) for i in order], name=model, marker_color="#9ab8dd")
    if not same:
        fig.add_bar(
            x=x,
            y=[float(used[i]) for i in order],
            name="sampled from (" + ", ".join(filters) + ")",
            marker_color="#e8590c",
        )
    if chosen is not None:
        fig.add_annotation(
            x=escape(names[chosen]), y=float(max(raw[chosen], used[chosen])), text="written", showarrow=True
        )
    where = f"after “{escape(context_tail(vocab, context))}”" if context else "at the start"
    character_bars_layout(fig, f"Next character {where}", 330, "probability")
    fig.update_layout(showlegend=True)  # also for one series: its name says it is what was sampled
    return fig


def prob_color(p: float) -> str:
    """On a log scale: red for 1% or less (the model was surprised), yellow at 10%, green at 100%."""
    x = (math.log10(min(max(p, 0.01), 1.0)) + 2) / 2
    return f"hsl({120 * x:.0f}, 75%, 80%)"


def sample_html(
    prompt: str,
    tokens: Sequence[Token],
    colour: bool = True,
    highlight: int | None = None,
    memorised: bool = False,
    title: str = "",
    number: int | None = None,
) -> str:
    """One sample as HTML: the prompt, then each generated character, coloured by its probability
    (a token with no character is the end of a line, drawn as •). Each character is a span with its
    position (data-pos) inside a sample with its `number` (data-sample), so a click can name it.

    Every character is escaped: a sample is untrusted text and may contain '<' or '&'.
    """
    parts = [f'<span class="charlm-prompt" style="font-weight:700">{escape(prompt)}</span>'] if prompt else []
    for i, t in enumerate(tokens):
        char = escape(t.char) if t.char else "•"  # "" is the end of a line in lines mode
        style = "cursor:pointer"
        if colour:
            char = char if t.char != "\n" else "⏎\n"
            style += f";background:{prob_color(t.prob)}"
        elif not t.char and i != highlight:
            char = ""  # uncoloured, the end of a line shows only when inspected
        if i == highlight:
            style += ";outline:2px solid #123;outline-offset:1px"
        tip = escape(f"#{i}: {t.char!r}, p = {t.prob:.3f}")
        parts.append(f'<span data-pos="{i}" style="{style}" title="{tip}">{char}</span>')
    badge = (
        ' <span style="background:#ffe3a3;border-radius:4px;padding:1px 6px;font-size:12px">'
        "memorised: it occurs verbatim in the training text</span>"
        if memorised
        else ""
    )
    head = f'<div style="font-size:12px;color:#556;margin-bottom:2px">{escape(title)}{badge}</div>'
    body = (
        f'<div style="white-space:pre-wrap;font-family:{FONT};font-size:15px;line-height:1.6">'
        + "".join(parts)
        + "</div>"
    )
    data = f' data-sample="{number}"' if number is not None else ""
    return f'<div class="charlm-sample"{data} style="margin-bottom:12px">{head}{body}</div>'


def colour_legend() -> str:
    stops = ", ".join(prob_color(10 ** (-2 + k / 5)) for k in range(11))
    return (
        '<div style="display:flex;align-items:center;gap:8px;font-size:12px;color:#445;margin:4px 0 10px">'
        "<span>how probable the model found each character:</span><span>1% or less</span>"
        f'<span style="display:inline-block;width:160px;height:12px;background:linear-gradient(90deg, {stops})">'
        "</span><span>100%</span></div>"
    )


def alternatives_html(token: Token, position: int) -> str:
    """What the model wrote at one position, and the characters it considered most likely there."""
    cell = "border:none;padding:1px 8px"
    vocab_items = "".join(
        f'<tr><td style="{cell};font-family:{FONT}">{escape(label)}</td>'
        f'<td style="{cell};text-align:right">{p:.3f}</td>'
        f'<td style="{cell}"><div style="width:{160 * p:.0f}px;height:10px;background:#9ab8dd"></div></td></tr>'
        for label, p in token.alternatives
    )
    shown = {"\n": "⏎ (newline)", " ": "␣ (space)", "\t": "⇥ (tab)", "": "• (the end of the line)"}.get(
        token.char, token.char
    )
    return (
        f'<div style="font-size:14px">At position {position} the model wrote '
        f'<b style="font-family:{FONT}">{escape(shown)}</b>, which it gave probability '
        f"<b>{token.prob:.3f}</b> (and {token.sampled_prob:.3f} after temperature, top-k and top-p).<br>"
        f'Its top choices there:<table style="margin-top:4px;border:none;width:auto">{vocab_items}</table></div>'
    )


def is_memorised(sample: str, text: str, mode: str) -> bool:
    """Whether a sample occurs verbatim in the training text: a whole line in lines mode; in text mode,
    a stretch of at least 20 characters (shorter ones occur by chance)."""
    if mode == "lines":
        return bool(sample.strip()) and sample.strip() in {line.strip() for line in split_lines(text)}
    return len(sample.strip()) >= 20 and sample in text


# ---------------------------------------------------------------------------------------------------
# Checkpoints


def short_number(n: int | None) -> str:
    if n is None:
        return "?"
    for unit, size in (("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)


def checkpoint_rows(rows: Sequence[dict]) -> list[list]:
    """`list_checkpoints` rows as table rows: name, model, parameters, validation loss, steps, saved."""
    return [
        [
            r["name"],
            r["model"],
            short_number(r["params"]),
            "-" if r["val_loss"] is None else f"{r['val_loss']:.4f}",
            "-" if r["steps"] is None else r["steps"],
            str(r["saved"]).replace("T", " "),
        ]
        for r in rows
    ]


# ---------------------------------------------------------------------------------------------------
# From scratch: models trained side by side, and the gradient check

GRADIENT_TOLERANCE = 1e-6  # float64 gradients that agree differ by far less (autograd ~1e-15, numeric ~1e-9)


def comparison_figure(
    histories: dict[str, Sequence[Progress]], refs: dict[str, float] | None = None, max_points: int = 300
) -> go.Figure:
    """Models trained side by side, on the runs chart (one way to compare runs): validation (solid) and
    train (dotted) per model, against steps, with the reference lines of `loss_figure`."""
    fig = runs_figure(histories, "steps", refs, max_points)
    fig.update_layout(title="Loss side by side (nats per character): same text, batches and steps")
    return fig


def lockstep_progress_html(events: dict[str, Progress], note: str = "") -> str:
    """A progress bar for models trained in lockstep: the shared step and time, and each model's speed."""
    if not events:
        fraction, text = 0.0, note or "not started"
    else:
        slowest = min(events.values(), key=lambda e: e.step / max(e.steps, 1))
        fraction = slowest.step / max(slowest.steps, 1)
        done = all(e.done for e in events.values())
        left = note or (
            "done" if done else f"about {duration(max(e.remaining for e in events.values()))} left"
        )
        speeds = " · ".join(f"{name} {e.tokens_per_second:,.0f} tokens/s" for name, e in events.items())
        elapsed = max(e.elapsed for e in events.values())
        text = f"step {slowest.step:,} / {slowest.steps:,} · {speeds} · {duration(elapsed)} elapsed · {left}"
    return (
        '<div class="charlm-progress" style="border:1px solid #ccd;border-radius:6px;overflow:hidden;'
        'position:relative;min-height:28px;background:#f4f6fa">'
        f'<div style="position:absolute;inset:0 auto 0 0;width:{100 * min(max(fraction, 0), 1):.1f}%;'
        'background:#9cc3ee"></div>'
        '<div style="position:relative;display:flex;align-items:center;min-height:28px;padding:0 10px;'
        f'font-size:13px;color:#123">{escape(text)}</div></div>'
    )


def comparison_markdown(results: dict[str, dict], refs: dict[str, float] | None = None) -> str:
    """Markdown: each model's parameters, learning rate, steps, final losses (and their gap to the count
    bigram) and training speed, then how many times faster the first model trained than the second.

    `results` maps a model's name to `Trainer.metrics()` plus its "lr".
    """
    refs = refs or {}
    counted = refs.get("count bigram")
    gap_head = " | validation − count bigram" if counted is not None else ""
    rows = [
        f"| model | parameters | learning rate | steps | train loss | validation loss{gap_head} "
        "| training tokens/s |",
        "|---|---:|---:|---:|---:|---:|" + ("---:|" if counted is not None else "") + "---:|",
    ]
    for name, m in results.items():
        gap = f" | {m['val_loss'] - counted:+.4f}" if counted is not None else ""
        rows.append(
            f"| {escape(name)} | {m['num_params']:,} | {m['lr']:g} | {m['steps']:,} | {m['train_loss']:.4f} | {m['val_loss']:.4f}"
            f"{gap} | {m['tokens_per_second']:,.0f} |"
        )
    for name, value in refs.items():
        gap = " | " if counted is not None else ""
        rows.append(f"| *{escape(name)}* | | | | | {value:.4f}{gap} | |")
    table = "\n".join(rows)
    if len(results) < 2:
        return table
    (first, a), (second, b) = list(results.items())[:2]
    ratio = a["tokens_per_second"] / max(b["tokens_per_second"], 1e-9)
    return (
        f"{table}\n\n**{escape(first)}** trained at **{ratio:.2f}×** the speed of **{escape(second)}** "
        "(tokens per second during training steps; evaluations left out)."
    )


def gradient_check_html(rows: Sequence[dict], title: str = "") -> str:
    """`gradient_check`'s rows as an HTML table: each weight with its shape, its gradient's formula, the
    largest gradient, and the largest gaps between the hand-written gradient and autograd's and finite
    differences'. A gap within GRADIENT_TOLERANCE of the gradient's scale counts as agreement."""
    cell = "padding:4px 10px;border-bottom:1px solid #e3e6ee;text-align:right;white-space:nowrap"
    left = cell.replace("text-align:right", "text-align:left")
    head = "".join(
        f'<th style="{left if i < 3 else cell};white-space:normal">{escape(h)}</th>'
        for i, h in enumerate(
            (
                "weight",
                "shape",
                "gradient (one line)",
                "max |grad|",
                "max |hand − autograd|",
                "max |hand − finite difference|",
                "agrees",
            )
        )
    )
    body, worst = [], 0.0
    for r in rows:
        scale = max(1.0, r["max_abs_grad"])
        gap = max(r["max_abs_diff_autograd"], r["max_abs_diff_numeric"]) / scale
        worst = max(worst, gap)
        ok = gap <= GRADIENT_TOLERANCE
        body.append(
            "<tr>"
            f'<td style="{left};font-family:{FONT};font-weight:700">{escape(r["weight"])}</td>'
            f'<td style="{left};font-family:{FONT}">{escape(" × ".join(str(n) for n in r["shape"]))}</td>'
            f'<td style="{left};white-space:normal;font-family:{FONT}">{escape(r["formula"])}</td>'
            f'<td style="{cell}">{r["max_abs_grad"]:.3e}</td>'
            f'<td style="{cell}">{r["max_abs_diff_autograd"]:.2e}</td>'
            f'<td style="{cell}">{r["max_abs_diff_numeric"]:.2e}</td>'
            f'<td style="{cell};color:{"#2b8a3e" if ok else "#c92a2a"}">{"✓" if ok else "✗ differs"}</td>'
            "</tr>"
        )
    verdict = (
        f"Every hand-written gradient agrees with autograd and with finite differences "
        f"(largest gap {worst:.1e} of the gradient's scale; the tolerance is {GRADIENT_TOLERANCE:g})."
        if worst <= GRADIENT_TOLERANCE
        else f"A hand-written gradient differs (largest gap {worst:.1e} of the gradient's scale): the "
        "backward pass has a bug."
    )
    caption = (
        f'<div style="font-size:13px;color:#445;margin-bottom:6px">{escape(title)}</div>' if title else ""
    )
    return (
        f'<div class="charlm-gradient-check">{caption}'
        f'<table style="border-collapse:collapse;font-size:13px;width:100%"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
        f'<p style="font-size:13px;margin-top:6px">{escape(verdict)}</p></div>'
    )


# ---------------------------------------------------------------------------------------------------
# Runs compared: the session's history in the Train tab, the side-by-side runs in From scratch

RUN_COLORS = ["#1f5fa8", "#e8590c", "#2b8a3e", "#862e9c", "#c92a2a", "#0b7285", "#5f3dc4", "#d9480f"]


def runs_figure(
    curves: dict[str, Sequence[Progress]],
    x: str = "steps",
    refs: dict[str, float] | None = None,
    max_points: int = 300,
) -> go.Figure:
    """Several runs' validation (solid, with markers) and train (dotted) losses on one chart, one colour
    per run and its name in the legend, against steps or seconds (`x`; seconds is the fair axis across
    models of different speed). A run that counts in one pass is one point."""
    if x not in ("steps", "seconds"):
        raise CharlmError(f"the x-axis is steps or seconds, not {x!r}.")
    fig = go.Figure()
    where = (lambda e: e.step) if x == "steps" else (lambda e: e.elapsed)
    for (name, history), color in zip(curves.items(), RUN_COLORS * (1 + len(curves) // len(RUN_COLORS))):
        evals = [e for e in history if e.val_loss is not None]
        at = [where(e) for e in evals]
        for part, get, line in (
            ("validation", lambda e: e.val_loss, dict(color=color, width=2)),
            ("train", lambda e: e.train_eval_loss, dict(color=color, width=1, dash="dot")),
        ):
            xs, ys = downsample(at, [get(e) for e in evals], max_points)
            mode = "lines+markers" if part == "validation" or len(xs) == 1 else "lines"
            fig.add_scatter(
                x=xs, y=ys, name=f"{escape(name)} {part}", mode=mode, line=line, legendgroup=escape(name)
            )
    loss_axes(
        fig, refs, "Runs compared: validation (solid) and train (dotted), nats per character", 400, "runs"
    )
    fig.update_xaxes(title="step" if x == "steps" else "seconds of training")
    if x == "steps":
        fig.update_xaxes(tickformat=",d")  # steps are whole: no fractional ticks on short runs
    fig.update_layout(legend=dict(orientation="h", y=-0.18, x=0, yanchor="top"))
    return fig


def bigram_warning(val_loss: float, err: float, refs: dict[str, float] | None) -> str:
    """A warning when validation loss is above the count bigram's by more than two standard errors
    `err` (0 for a whole split), with what usually helps; "" otherwise."""
    counted = (refs or {}).get("count bigram")
    if counted is None or not val_loss - 2 * err > counted:
        return ""
    return (
        f"The validation loss ({val_loss:.3f}) is above the count bigram's ({counted:.3f}): the model has not "
        "yet learned more than which character follows which. What usually helps: more steps or time, a "
        "higher learning rate, or a smaller model."
    )
