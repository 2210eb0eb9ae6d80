"""Auto settings: a model's size, dropout, batch, learning rate and steps chosen from the text and a
time budget, measured on this machine. One rule for every rung, read from the settings each declares.

The rule, in order:
1. Size. Walk up a ladder of sizes (`LEVELS`: embedding and hidden width, layers, a context factor),
   each rung taking the settings it has, and keep the largest whose parameter count is at most
   `PARAMS_PER_CHAR` times the training characters: a model never has far more parameters than the
   text can support, and a larger text gets a larger model.
2. Time. Time a few training steps of that size here; if the budget would show each parameter fewer
   than `TOKENS_PER_PARAM` training tokens, step down a size (a model that cannot be trained in time
   loses to a smaller one that can) and time again.
3. Training. Steps fill the budget at the measured speed (the budget also stops training, and the
   learning-rate schedule follows the time spent); dropout and patience grow with the number of passes
   over the text; the learning rate is AdamW's 3e-3 for small widths, lower for wider models (never
   below the rung's own default: the neural bigram and the NumPy rungs want far more).
Anything the person sets explicitly (`given`) is kept as it is; auto fills in the rest.
"""

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields

import torch

from charlm.data import Corpus, get_batch
from charlm.models import CharLM, build_model, model_class, model_config
from charlm.models.base import private_rng
from charlm.train import TrainConfig, sequence_length

# sizes from small to large: each rung takes the keys it has (context multiplies its own default)
LEVELS = [
    dict(n_embd=8, n_hidden=32, n_layer=1, context=1),
    dict(n_embd=16, n_hidden=64, n_layer=1, context=1),
    dict(n_embd=24, n_hidden=96, n_layer=1, context=1),
    dict(n_embd=32, n_hidden=128, n_layer=2, context=1),
    dict(n_embd=48, n_hidden=192, n_layer=2, context=2),
    dict(n_embd=64, n_hidden=256, n_layer=3, context=2),
    dict(n_embd=96, n_hidden=384, n_layer=4, context=2),
    dict(n_embd=128, n_hidden=512, n_layer=4, context=2),
    dict(n_embd=192, n_hidden=768, n_layer=6, context=4),
]
PARAMS_PER_CHAR = 2.0  # at most this many parameters per training character
TOKENS_PER_PARAM = 3.0  # at least this many training tokens per parameter within the budget
TRAIN_SHARE = 0.9  # of the budget left after timing: the rest goes to evaluations
BATCH_SIZE = 32
EVALUATIONS = 25  # per run


@dataclass
class Auto:
    """What auto picked: the model's settings, the training settings, and a one-line summary."""

    settings: dict
    train: dict
    summary: str
    num_params: int = 0
    tokens_per_second: float = 0.0
    picked: set[str] = field(default_factory=set)  # the names auto chose (the rest were given)


def measure_speed(model: CharLM, corpus: Corpus, batch_size: int, steps: int = 3) -> float:
    """Training steps per second of `model` here: a copy takes one untimed step, then `steps` timed
    ones (forward, backward, AdamW), so the model itself is untouched."""
    model = copy.deepcopy(model)
    T = sequence_length(model, corpus.train)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    generator = torch.Generator().manual_seed(0)
    model.train()
    start = 0.0
    with private_rng():  # timing draws dropout masks: the global stream is left as it was
        for i in range(steps + 1):
            if i == 1:
                start = time.perf_counter()
            x, y = get_batch(corpus.train, batch_size, T, generator)
            _, loss = model(x, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return steps / max(time.perf_counter() - start, 1e-9)


Speed = Callable[[CharLM, Corpus, int], float]  # (model, corpus, batch size) -> steps per second


def level_settings(name: str, level: dict, corpus: Corpus) -> dict:
    """A size level as the settings rung `name` has, each within its declared range."""
    own = {s.name: s for s in model_class(name).settings()}
    out = {k: v for k, v in level.items() if k in own}
    if "block_size" in own:
        block = own["block_size"].default * level["context"]
        if corpus.mode == "lines" and not model_class(name).windowed:
            block = min(block, corpus.train.longest)  # a line (and its end) never needs more context
        out["block_size"] = block
    if "n_head" in own:
        width = out.get("n_embd", own["n_embd"].default if "n_embd" in own else 32)
        out["n_head"] = next(h for h in (4, 2, 1) if width % h == 0 and width // h >= 8 or h == 1)
    return {k: min(max(v, own[k].low), own[k].high) for k, v in out.items()}


def count_params(name: str, corpus: Corpus, settings: dict) -> int:
    return build_model(
        model_config(name, chars=corpus.vocab.chars, mode=corpus.mode, **settings)
    ).num_params()


def choose_size(name: str, corpus: Corpus, given: dict) -> int:
    """The largest level whose model has at most PARAMS_PER_CHAR parameters per training character."""
    limit = PARAMS_PER_CHAR * len(corpus.train.tokens)
    best = 0
    for i, level in enumerate(LEVELS):
        if count_params(name, corpus, {**level_settings(name, level, corpus), **given}) <= limit:
            best = i
    return best


def auto_settings(
    corpus: Corpus, name: str, seconds: float, given: dict | None = None, speed: Speed | None = None
) -> Auto:
    """Settings for rung `name` on `corpus` within `seconds` of training (see the module's rule).

    `given` holds what the person set (model or training settings; None means unset) and is kept.
    `speed(model, corpus, batch_size)` gives steps per second: by default a few timed steps here.
    """
    given = {k: v for k, v in (given or {}).items() if v is not None}
    cls = model_class(name)
    if cls.trained_by_counting:
        return Auto({}, {"steps": 1}, "auto: counting pairs, one pass", count_params(name, corpus, {}))
    if cls.trains_itself:  # the rungs from scratch keep their teaching sizes (tiny for the slowest)
        own = {s.name for s in cls.settings()}
        sizes = {k: v for k, v in cls.playground_settings.items() if k not in given}
        train = {"steps": cls.default_steps, "lr": cls.default_lr, "time_budget": float(seconds)}
        if cls.playground_batch_size:
            train["batch_size"] = cls.playground_batch_size
        train.update({k: v for k, v in given.items() if k not in own})
        line = f"auto: the course's sizes, lr {cls.default_lr:g}, up to {train['steps']:,} steps in {seconds:g} s"
        picked = (set(train) | set(sizes)) - set(given)
        mine = {**sizes, **{k: v for k, v in given.items() if k in own}}
        return Auto(sizes, train, line, count_params(name, corpus, mine), picked=picked)
    started = time.perf_counter()
    speed = speed or measure_speed
    own = {s.name for s in cls.settings()}
    fixed = {k: v for k, v in given.items() if k in own}
    if (
        cls.large_text_recipe is not None
        and corpus.mode == "text"
        and len(corpus.train.tokens) >= RECIPE_CHARS
    ):
        return from_recipe(cls, corpus, seconds, given, speed, started)
    batch = given.get("batch_size", BATCH_SIZE)
    level = choose_size(name, corpus, fixed)
    while True:
        settings = {**level_settings(name, LEVELS[level], corpus), **fixed}
        model = build_model(model_config(name, chars=corpus.vocab.chars, mode=corpus.mode, **settings))
        steps_per_second = speed(model, corpus, batch)
        left = max(seconds - (time.perf_counter() - started), 0.2 * seconds)
        tokens = steps_per_second * left * TRAIN_SHARE * batch * sequence_length(model, corpus.train)
        if level == 0 or tokens >= TOKENS_PER_PARAM * model.num_params():
            break
        level -= 1
    train = training_settings(cls, model, corpus, seconds, left, steps_per_second, tokens, batch)
    train = {**train, **{k: v for k, v in given.items() if k in TRAIN_KEYS}}
    settings = {**settings, **({"dropout": train.pop("dropout")} if "dropout" in own else {})}
    settings.update(fixed)
    train.pop("dropout", None)
    picked = (set(settings) | set(train)) - set(given)
    auto = Auto(settings, train, "", model.num_params(), tokens / (left * TRAIN_SHARE), picked)
    auto.summary = summary(auto, seconds)
    return auto


TRAIN_KEYS = {f.name for f in fields(TrainConfig)}
RECIPE_CHARS = 800_000  # training characters from which a rung's measured large-text recipe applies


def from_recipe(cls, corpus: Corpus, seconds: float, given: dict, speed: Speed, started: float) -> Auto:
    """A rung's measured recipe for a large text (the transformer's speed run), its steps filling the
    budget at the speed measured here; what the person set is kept."""
    settings, train = cls.large_text_recipe(len(corpus.text))
    settings = {**settings, **{k: v for k, v in given.items() if k in settings}}
    train = {**train, **{k: v for k, v in given.items() if k in TRAIN_KEYS}}
    model = build_model(
        model_config(cls.config_class.model_type, chars=corpus.vocab.chars, mode="text", **settings)
    )
    steps_per_second = speed(model, corpus, train["batch_size"])
    left = max(seconds - (time.perf_counter() - started), 0.2 * seconds)
    if "steps" not in given:
        train["steps"] = max(10, int(steps_per_second * left * TRAIN_SHARE))
        train["eval_interval"] = max(1, train["steps"] // 10)
    train["time_budget"] = float(seconds)
    tokens = train["steps"] * train["batch_size"] * settings["block_size"]
    picked = (set(settings) | set(train)) - set(given)
    auto = Auto(settings, train, "", model.num_params(), tokens / max(left * TRAIN_SHARE, 1e-9), picked)
    auto.summary = summary(auto, seconds) + f", {train['optimizer']} (the speed-run recipe)"
    return auto


def training_settings(
    cls: type[CharLM], model: CharLM, corpus: Corpus, seconds, left, steps_per_second, tokens, batch
) -> dict:
    """Steps, learning rate, dropout, evaluation and patience for a model of the size chosen."""
    steps = max(10, int(steps_per_second * left * TRAIN_SHARE))
    passes = tokens / max(len(corpus.train.tokens), 1)  # how often the budget reads the text
    width = max(getattr(model.config, "n_embd", 0), getattr(model.config, "n_hidden", 0) // 4, 1)
    lr = max(cls.default_lr, 3e-3 * min(1.0, math.sqrt(128 / width)))
    tokens_per_eval = max(1024, min(32768, int(tokens / 300)))  # evaluations cost ~5% of the run
    if model.bigram_logits() is not None:  # a learned table: weight decay pulls it to uniform, as smoothing
        return table_settings(model, corpus, seconds, steps, tokens_per_eval)
    return dict(
        steps=steps,
        batch_size=batch,
        lr=float(f"{lr:.2g}"),
        warmup_steps=min(100, steps // 10),
        eval_interval=max(1, steps // EVALUATIONS),
        eval_tokens=tokens_per_eval,
        time_budget=float(seconds),
        patience=4 if passes >= 10 else 0,  # many passes over a small text: it will overfit
        dropout=0.0 if passes < 2 else 0.1 if passes < 10 else 0.2,
    )


def table_settings(model: CharLM, corpus: Corpus, seconds: float, steps: int, tokens_per_eval: int) -> dict:
    """A learned bigram table has one logit per pair: it overfits rare pairs as counting without smoothing
    does. Weight decay pulls its logits toward 0 (uniform), as add-one smoothing pulls the counts: as
    strong as the table is large for its text (2.2 x V² cells per training character: 0.31 on the default
    example, where it ends at 2.315 against the count bigram's 2.323), with large batches to keep it steady."""
    cells = model.config.vocab_size**2
    decay = min(1.0, max(0.01, 2.2 * cells / max(len(corpus.train.tokens), 1)))
    return dict(
        steps=steps,
        batch_size=512,
        lr=model.default_lr,
        weight_decay=float(f"{decay:.2g}"),
        warmup_steps=min(100, steps // 10),
        eval_interval=max(1, steps // EVALUATIONS),
        eval_tokens=tokens_per_eval,
        time_budget=float(seconds),
        patience=0,
    )


def describe_size(settings: dict) -> str:
    """A model's size in words: "4 layers × 128, context 64"."""
    parts = []
    width = settings.get("n_embd") if "n_hidden" not in settings else settings["n_hidden"]
    if "n_layer" in settings:
        layers = settings["n_layer"]
        parts.append(f"{layers} layer{'s' * (layers != 1)} × {width}" if width else f"{layers} layers")
    elif width:
        parts.append(f"width {width}")
    if "block_size" in settings:
        parts.append(f"context {settings['block_size']}")
    if settings.get("dropout"):
        parts.append(f"dropout {settings['dropout']:g}")
    return ", ".join(parts)


def summary(auto: Auto, seconds: float) -> str:
    """The line the app and the CLI show: 'auto: 4 layers × 128, lr 3e-3, ~1,800 steps in 60 s'."""
    size = describe_size(auto.settings)
    lr, steps = auto.train.get("lr"), auto.train.get("steps", 0)
    parts = [size] if size else []
    parts += [
        f"{auto.num_params:,} parameters",
        f"lr {lr:.0e}".replace("e-0", "e-"),
        f"~{steps:,} steps in {seconds:g} s",
    ]
    return "auto: " + ", ".join(parts)
