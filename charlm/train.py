"""One training loop for every model: `Trainer.run()` yields progress events that the command line
prints and the app plots; `evaluate` measures loss in nats on a whole split, `estimate` on a random
sample of its windows, with a standard error."""

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from charlm.data import Corpus, Split, eval_spans, eval_windows, get_batch, sample_windows
from charlm.errors import CharlmError
from charlm.models import GLOBAL_RNG, CharLM, build_model, model_config

OPTIMIZERS = ("adamw", "muon")  # what TrainConfig.optimizer may name
PRECISIONS = ("fp32", "bf16")  # what TrainConfig.precision may name


@dataclass
class TrainConfig:
    steps: int = 2000  # total optimisation steps (a resumed run continues up to this number)
    batch_size: int = 32
    lr: float = 1e-3  # peak learning rate, reached after warmup, then cosine decay to lr / 10
    weight_decay: float = 0.01  # AdamW decay, applied to matrices only
    warmup_steps: int = 100
    # 0: off. Else the model's weights are an exponential moving average of the trained weights, with
    # this decay per step (0.999 averages about the last 1,000 steps; bias-corrected as Adam's moments
    # are, so the first weights do not linger in short runs); the average is what is evaluated, sampled
    # and saved, while the optimizer moves the raw weights underneath
    ema_decay: float = 0.0
    grad_clip: float = 1.0  # clip the gradient norm to this (0 turns clipping off)
    # "adamw", or "muon": Muon (momentum orthogonalised by Newton-Schulz iterations) for the hidden
    # matrices and AdamW for the rest; Muon's steps are scaled to AdamW's size (Moonshot's rule), so
    # both share lr and weight_decay
    optimizer: str = "adamw"
    eval_interval: int = 200  # evaluate on the validation split every this many steps
    # predictions per evaluation during training: a random sample of windows spread over the split,
    # drawn once from the seed (the final evaluation uses the whole split)
    eval_tokens: int = 8192
    # 0: off. Else training stops at the first evaluation whose validation loss is at or under this.
    # The run's sample says when to look (an estimate within one standard error of it); the whole
    # validation split decides, so the model kept is at the target by `charlm eval`'s measure
    target_loss: float = 0.0
    seed: int = 1337
    val_fraction: float = 0.1  # the share of the text held out for validation
    device: str = "auto"  # "auto" picks cuda, then mps, then cpu
    # "fp32", or "bf16": each training step's forward pass under torch.autocast in bfloat16, for GPUs
    # with fast bf16 (weights, gradients, optimizer state and every evaluation stay float32)
    precision: str = "fp32"
    # compile the training step's forward pass with torch.compile: the first step waits for it (about
    # 20 s on two CPU cores); evaluation and sampling run the model as it is
    compile: bool = False
    # 0: no limit. Else training stops cleanly once this many seconds have passed (evaluating at the
    # step it stops on), and the learning-rate schedule follows whichever of steps and time is further
    time_budget: float = 0.0
    # restore, when training ends, the weights of the evaluation with the lowest validation estimate
    keep_best: bool = False
    patience: int = 0  # 0: off. Else stop after this many evaluations without a new best validation loss

    def check(self) -> None:
        rules = [
            (isinstance(self.steps, int) and self.steps >= 1, "steps must be a whole number of at least 1"),
            (self.steps <= 10_000_000, "steps above 10,000,000 would not finish here; use fewer steps"),
            (
                isinstance(self.batch_size, int) and 1 <= self.batch_size <= 65536,
                "batch_size must be 1 to 65536",
            ),
            (math.isfinite(self.lr) and 0 < self.lr <= 10, "lr must be above 0 and at most 10 (try 1e-3)"),
            (math.isfinite(self.weight_decay) and self.weight_decay >= 0, "weight_decay must be 0 or more"),
            (self.warmup_steps >= 0, "warmup_steps must be 0 or more"),
            (
                0 <= self.ema_decay < 1,
                "ema_decay must be at least 0 (0 turns it off) and below 1 (try 0.999)",
            ),
            (self.grad_clip >= 0, "grad_clip must be 0 (off) or more"),
            (
                isinstance(self.eval_interval, int) and self.eval_interval >= 1,
                "eval_interval must be at least 1",
            ),
            (self.eval_tokens >= 1, "eval_tokens must be at least 1"),
            (
                math.isfinite(self.target_loss) and self.target_loss >= 0,
                "target_loss must be 0 (off) or a loss in nats, e.g. 1.88",
            ),
            (self.optimizer in OPTIMIZERS, f"optimizer must be one of {', '.join(OPTIMIZERS)}"),
            (self.precision in PRECISIONS, f"precision must be one of {', '.join(PRECISIONS)}"),
            (isinstance(self.compile, bool), "compile must be true or false"),
            (0 < self.val_fraction < 1, "val_fraction must be between 0 and 1 (0.1 holds out a tenth)"),
            (
                math.isfinite(self.time_budget) and self.time_budget >= 0,
                "time_budget must be 0 (no limit) or a number of seconds",
            ),
            (isinstance(self.patience, int) and self.patience >= 0, "patience must be 0 (off) or more"),
        ]
        for ok, message in rules:
            if not ok:
                raise CharlmError(f"{message}.")


@dataclass
class Best:
    """The lowest validation estimate of a run so far: its step, loss, the evaluations since, and
    (with `keep_best`) a copy of the weights that reached it."""

    step: int | None = None
    val_loss: float | None = None
    since: int = 0
    weights: dict[str, torch.Tensor] | None = None


@dataclass
class Progress:
    """One step of training. `val_loss` and `train_eval_loss` are set on evaluation steps only: estimates
    from a fixed random sample of each split's windows, with their standard errors in `..._err`."""

    step: int
    steps: int
    lr: float
    train_loss: float  # the loss of this step's batch
    tokens_per_second: float
    elapsed: float  # seconds since training started
    remaining: float  # estimated seconds left
    val_loss: float | None = None
    train_eval_loss: float | None = None
    done: bool = False
    val_loss_err: float | None = None
    train_eval_loss_err: float | None = None


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise CharlmError(f"unknown device {name!r}; use auto, cpu, cuda or mps.") from None
    available = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available()}
    if not available.get(device.type, False):
        raise CharlmError(f"device {name!r} is not available on this machine; use --device cpu or auto.")
    return device


@torch.no_grad()
def window_losses(
    model: CharLM,
    split: Split,
    T: int | None = None,
    max_tokens: int | None = None,
    windows: torch.Tensor | None = None,
    batch_size: int = 64,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each evaluation window's summed loss in nats and its number of predictions, both (W,) float64:
    every window of the split, or those numbered in `windows`, or the first `max_tokens` predictions."""
    T = T or sequence_length(model, split)
    device = model.device
    losses, counts = [torch.zeros(0, dtype=torch.float64)], [torch.zeros(0, dtype=torch.float64)]
    with model.evaluation():
        for x, y in eval_windows(split, T, batch_size, max_tokens, windows):
            x, y = x.to(device), y.to(device)
            logits, _ = model(x)  # (B, T, V)
            loss = F.cross_entropy(logits.transpose(1, 2), y, ignore_index=-1, reduction="none")  # (B, T)
            losses.append(loss.sum(1).double().cpu())
            counts.append((y != -1).sum(1).double().cpu())
    return torch.cat(losses), torch.cat(counts)


def evaluate(
    model: CharLM, split: Split, T: int | None = None, max_tokens: int | None = None, batch_size: int = 64
) -> float:
    """Mean loss in nats over every prediction of the split (or its first `max_tokens` of them)."""
    losses, counts = window_losses(model, split, T, max_tokens, batch_size=batch_size)
    return float(losses.sum() / counts.sum().clamp(min=1))


def estimate(model: CharLM, split: Split, windows: torch.Tensor, T: int | None = None) -> tuple[float, float]:
    """The mean loss over the split estimated from a random sample of its windows (`sample_windows`),
    and the estimate's standard error."""
    T = T or sequence_length(model, split)
    losses, counts = window_losses(model, split, T, windows=windows)
    return ratio_estimate(losses, counts, population=len(eval_spans(split, T)[0]))


def ratio_estimate(losses: torch.Tensor, counts: torch.Tensor, population: int) -> tuple[float, float]:
    """Loss per prediction from n windows drawn without replacement out of `population`, and its
    standard error. Windows hold different numbers of predictions, so the mean is the ratio
    sum(losses) / sum(counts), its error the delta method's, shrunk by the finite-population
    correction: a sample of every window has no error."""
    n = len(losses)
    mean = losses.sum() / counts.sum().clamp(min=1)
    if n < 2:
        return float(mean), 0.0 if n >= population else math.nan
    residuals = losses - mean * counts  # what each window adds to the ratio's error
    variance = (1 - n / population) * residuals.var() / (n * counts.mean() ** 2)
    return float(mean), float(variance.clamp(min=0).sqrt())


def loss_metrics(loss: float) -> dict[str, float]:
    """A loss in nats, as bits per character and perplexity too."""
    return {"loss": loss, "bpc": loss / math.log(2), "perplexity": math.exp(min(loss, 700))}


def sequence_length(model: CharLM, split: Split) -> int:
    """Characters per training window. Windowed models see their context inside longer windows."""
    block = model.config.block_size
    T = max(64, 4 * block) if model.windowed else block
    return max(1, min(T, split.longest))


class Trainer:
    """Trains a model on a corpus. Iterate `run()`; stop iterating at any step to stop training.

    The model is trained in place, so stopping early keeps it as it is. `state_dict()` holds what a
    resumed run needs: the step, the optimizer's moments and the random number generators (and, with
    `ema_decay`, the raw weights behind the model's averaged ones).
    """

    def __init__(self, model: CharLM, corpus: Corpus, config: TrainConfig):
        config.check()
        self.model, self.corpus, self.config = model, corpus, config
        if model.config.chars != corpus.vocab.chars or model.config.mode != corpus.mode:
            raise CharlmError(
                "the model's vocabulary or corpus mode differs from this text's; train a new model."
            )
        # the NumPy models compute on the CPU, whatever the device setting
        self.device = torch.device("cpu") if model.trains_itself else resolve_device(config.device)
        self.T = sequence_length(model, corpus.train)
        model.check_budget(config.steps, config.batch_size * self.T)  # the scalar-autograd rung's refusal
        if (
            corpus.mode == "text"
            and not model.windowed
            and len(corpus.train.tokens) <= model.config.block_size
        ):
            raise CharlmError(
                f"the training part of the text has {len(corpus.train.tokens)} characters, not more than the "
                f"block size ({model.config.block_size}). Give a longer text or a smaller block size."
            )
        self.model.to(self.device)
        # every estimate during training reads the same windows, drawn once from the seed and spread over
        # each split: evaluations of a run compare like with like, and a resumed run draws them again
        sampler = torch.Generator().manual_seed(config.seed)
        self.eval_sample = {
            name: sample_windows(getattr(corpus, name), self.T, config.eval_tokens, sampler)
            for name in ("val", "train")
        }
        self.step = 0
        self.generator = torch.Generator().manual_seed(config.seed)
        # dropout's own stream: restored before each step, so whatever draws random numbers between
        # steps (sampling, other models) changes nothing, and a resumed run repeats a straight one
        with GLOBAL_RNG:  # dropout and initialisation draw from the global generator
            torch.manual_seed(config.seed)
            self.torch_rng = torch.get_rng_state()
        self.params = [p for p in model.parameters() if p.requires_grad]  # what the optimizer moves
        self.optimizer, self.muon = self._make_optimizers()
        # with ema_decay the model holds the average; the raw weights wait here between steps
        self.raw: list[torch.Tensor] | None = None
        if self.optimizer is not None and config.ema_decay > 0:
            self.raw = [p.detach().clone() for p in self.params]
        self.last: Progress | None = None
        self.best = Best()
        # what a step's forward pass goes through: the model, or its DistributedDataParallel wrapper
        # (charlm.distributed), whose backward averages the gradients of every rank
        self.forward = model
        self._compiled: tuple | None = None  # (forward, its compiled version), with `compile`
        self.evaluates = True  # False on ranks above 0 of a distributed run: rank 0 evaluates for all
        self.reached: dict = {}  # with target_loss: the step and seconds at which it was reached
        self._measured: dict = {}  # what was measured on the weights as they are (see _once)
        self.stopped_by = ""  # why the last run ended before its steps: "time budget", "patience" or ""

    def _make_optimizers(self) -> tuple[torch.optim.Optimizer | None, torch.optim.Optimizer | None]:
        """AdamW (weight decay on matrices only), and with optimizer "muon" Muon for the model's hidden
        matrices, AdamW keeping the embeddings, the output layer, biases and norms. None for models that
        are counted or update themselves, which refuse any optimizer but the default."""
        c, model = self.config, self.model
        if model.trained_by_counting or model.trains_itself:
            how = (
                "counted in one pass" if model.trained_by_counting else "trained by its own hand-written SGD"
            )
            for option, value, default in [
                ("optimizer", c.optimizer, "adamw"),
                ("precision", c.precision, "fp32"),
                ("compile", c.compile, False),
            ]:
                if value != default:
                    shown = option if option == "compile" else f"{option} {value}"
                    raise CharlmError(f"{shown} does not apply to {model.config.model_type}: it is {how}.")
            return None, None
        hidden = model.hidden_matrices() if c.optimizer == "muon" else []
        taken = {id(p) for p in hidden}
        rest = [p for p in self.params if id(p) not in taken]
        groups = [
            {"params": [p for p in rest if p.dim() >= 2], "weight_decay": c.weight_decay},
            {"params": [p for p in rest if p.dim() < 2], "weight_decay": 0.0},
        ]
        # fused: one kernel for every parameter instead of a loop of small ones (4x faster on 2 CPU
        # cores for the baby GPT, bench/speedrun.py); the same numbers run to run
        fused = self.device.type in ("cpu", "cuda")
        adamw = torch.optim.AdamW(groups, lr=c.lr, betas=(0.9, 0.99), fused=fused)
        if not hidden:
            return adamw, None
        muon = torch.optim.Muon(hidden, lr=c.lr, weight_decay=c.weight_decay, adjust_lr_fn="match_rms_adamw")
        return adamw, muon

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """The optimizers in use, by the prefix their state is saved under."""
        named = {"optimizer": self.optimizer, "muon": self.muon}
        return {name: opt for name, opt in named.items() if opt is not None}

    def lr_at(self, step: int) -> float:
        """Linear warmup, then cosine decay to a tenth of the peak."""
        c = self.config
        warmup = min(c.warmup_steps, c.steps // 10)
        if step < warmup:
            return c.lr * (step + 1) / warmup
        progress = (step - warmup) / max(1, c.steps - warmup)
        return c.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))

    def run(self) -> Iterator[Progress]:
        if self.model.trained_by_counting:
            yield from self._count()
            return
        c, model = self.config, self.model
        if self.step >= c.steps:
            raise CharlmError(
                f"this model has already trained {self.step} steps; ask for more than {self.step} steps."
            )
        start, train_time, tokens = time.perf_counter(), 0.0, 0
        first_step = self.step
        self.stopped_by = ""
        model.train()
        while self.step < c.steps:
            t0 = time.perf_counter()
            lr = self.lr_at(self._schedule_step(time.perf_counter() - start))
            x, y = get_batch(self.corpus.train, c.batch_size, self.T, self.generator)
            x, y = x.to(self.device), y.to(self.device)
            with GLOBAL_RNG:  # no other thread draws during the step: see GLOBAL_RNG
                torch.set_rng_state(self.torch_rng)
                loss_value = self._update(x, y, lr)
                self.torch_rng = torch.get_rng_state()
            self.step += 1
            train_time += time.perf_counter() - t0
            tokens += int((y != -1).sum())
            done_steps = self.step - first_step
            event = Progress(
                step=self.step,
                steps=c.steps,
                lr=lr,
                train_loss=loss_value,
                tokens_per_second=tokens / max(train_time, 1e-9),
                elapsed=time.perf_counter() - start,
                remaining=(time.perf_counter() - start) / done_steps * (c.steps - self.step),
            )
            out_of_time = 0 < c.time_budget <= time.perf_counter() - start
            due = self.step % c.eval_interval == 0 or self.step == c.steps or done_steps == 1 or out_of_time
            if due and self.evaluates:
                event.val_loss, event.val_loss_err = self._validate()
                event.train_eval_loss, event.train_eval_loss_err = self.estimate("train")
                model.train()
                self._track_best(event)
            self.stopped_by = (
                "time budget" if out_of_time else self._patience_spent() or self._at_target(event)
            )
            event.done = self.step == c.steps or bool(self.stopped_by)
            if self.stopped_by:
                event.steps, event.remaining = self.step, 0.0
            elif c.time_budget > 0:
                event.remaining = min(event.remaining, c.time_budget - event.elapsed)
            if event.done:
                self.restore_best()
            self.last = event
            yield event
            if self.stopped_by:
                return

    def _validate(self) -> tuple[float, float]:
        """The validation loss and its standard error: the estimate on the run's sample, or, with a
        target loss that the estimate is within one standard error of, the whole split (no error): a
        whole split costs dozens of training steps, so it is read only when the target is likely."""
        loss, err = self.estimate("val")
        target = self.config.target_loss
        if target > 0 and err > 0 and loss - err <= target:
            return self.whole_val(), 0.0
        return loss, err

    def _at_target(self, event: Progress) -> str:
        """ "target loss" when this evaluation measured the whole split at or under the target (and
        notes when), else ""."""
        target = self.config.target_loss
        if target <= 0 or event.val_loss is None or event.val_loss_err != 0 or event.val_loss > target:
            return ""
        self.reached = {"target_step": event.step, "target_seconds": event.elapsed}
        return "target loss"

    def _schedule_step(self, elapsed: float) -> int:
        """The step the learning-rate schedule is at: with a time budget, the further of the step and
        the share of the budget spent, so the rate has decayed when time runs out on a slow machine."""
        c = self.config
        if c.time_budget <= 0:
            return self.step
        return max(self.step, min(c.steps - 1, int(elapsed / c.time_budget * c.steps)))

    def _track_best(self, event: Progress) -> None:
        """Note an evaluation: a new lowest validation estimate (on the run's fixed sample, so evaluations
        compare like with like) is remembered, with a copy of the weights when `keep_best`."""
        best = self.best
        if best.val_loss is None or event.val_loss < best.val_loss:
            best.step, best.val_loss, best.since = event.step, event.val_loss, 0
            if self.config.keep_best:
                best.weights = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        else:
            best.since += 1

    def _patience_spent(self) -> str:
        c = self.config
        return "patience" if c.patience and self.best.since >= c.patience else ""

    def restore_best(self) -> bool:
        """With `keep_best`, put back the best weights seen at an evaluation (the averaged ones with
        EMA; the optimizer's raw weights go on from where they were). Whether the weights changed."""
        best = self.best
        if not self.config.keep_best or best.weights is None or best.step == self.step:
            return False
        self.model.load_state_dict(best.weights)
        return True

    def estimate(self, name: str) -> tuple[float, float]:
        """The loss on split `name` ("val" or "train") from the run's sample, and its standard error."""
        return self._once(
            name, lambda: estimate(self.model, getattr(self.corpus, name), self.eval_sample[name], self.T)
        )

    def whole_val(self) -> float:
        """The loss on the whole validation split."""
        return self._once("whole val", lambda: evaluate(self.model, self.corpus.val, self.T))

    def _once(self, name: str, measure):
        """`measure()` once per state of the weights: `metrics()` right after the last evaluation reuses
        what it read (the whole split costs dozens of training steps) instead of reading it again."""
        with torch.no_grad():
            weights = float(sum(p.double().sum() for p in self.model.parameters()))
        state = (self.step, weights)
        if self._measured.get("state") != state:
            self._measured = {"state": state}
        if name not in self._measured:
            self._measured[name] = measure()
        return self._measured[name]

    def _update(self, x: torch.Tensor, y: torch.Tensor, lr: float) -> float:
        """One step of gradient descent on batch (x, y); returns its loss. A diverged loss raises
        before the update, so the model keeps its last good weights."""
        model, c = self.model, self.config
        if model.trains_itself:  # the NumPy models: forward, backward and update by hand
            loss_value, grads = model.loss_and_grads(x, y)
            self._check_loss(loss_value)
            model.sgd_step(grads, lr, c.grad_clip)
            return loss_value
        optimizers = self.optimizers().values()
        for optimizer in optimizers:
            for group in optimizer.param_groups:
                group["lr"] = lr
        self._swap_raw()  # with ema_decay: the step moves the raw weights, not the average
        try:
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=c.precision == "bf16"):
                _, loss = self._step_forward()(x, y)
            loss_value = loss.item()
            self._check_loss(loss_value)
            model.zero_grad(set_to_none=True)
            loss.backward()
            if c.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), c.grad_clip)
            for optimizer in optimizers:
                optimizer.step()
        finally:
            self._swap_raw()
        if self.raw is not None:
            # the bias-corrected average of the raw weights after steps 1..t: at t = 1 it is those weights
            t, d = self.step + 1, c.ema_decay
            with torch.no_grad():
                for average, raw in zip(self.params, self.raw):
                    average.lerp_(raw, (1 - d) / (1 - d**t))
        return loss_value

    def _step_forward(self):
        """What a training step calls: `forward` (the model or its DDP wrapper), compiled once with
        `compile`."""
        if not self.config.compile:
            return self.forward
        if self._compiled is None or self._compiled[0] is not self.forward:
            self._compiled = (self.forward, torch.compile(self.forward))
        return self._compiled[1]

    def _swap_raw(self) -> None:
        """Exchange the model's (averaged) weights with the raw ones; no copying, and nothing without EMA."""
        if self.raw is None:
            return
        for i, p in enumerate(self.params):
            p.data, self.raw[i] = self.raw[i], p.data

    def _check_loss(self, loss_value: float) -> None:
        limit = 5 * math.log(self.model.config.vocab_size) + 10  # far above any loss a learning model has
        if not math.isfinite(loss_value) or loss_value > limit:
            lr = self.config.lr
            raise CharlmError(
                f"training diverged at step {self.step}: the loss became {loss_value:.4g}. "
                f"Lower the learning rate (now {lr:g}), e.g. to {lr / 10:g}."
            )

    def _count(self) -> Iterator[Progress]:
        start = time.perf_counter()
        self.model.fit(self.corpus.train)
        self.step = self.config.steps
        elapsed = time.perf_counter() - start
        train_loss = evaluate(self.model, self.corpus.train, self.T)
        self.last = Progress(
            step=self.step,
            steps=self.step,
            lr=0.0,
            train_loss=train_loss,
            tokens_per_second=len(self.corpus.train.tokens) / max(elapsed, 1e-9),
            elapsed=elapsed,
            remaining=0.0,
            val_loss=evaluate(self.model, self.corpus.val, self.T),
            train_eval_loss=train_loss,
            done=True,
            val_loss_err=0.0,  # the whole splits: no sampling error
            train_eval_loss_err=0.0,
        )
        yield self.last

    def metrics(self) -> dict:
        """Where training stands, what metrics.json holds: the validation loss on the whole split (what
        checkpoints and tables report), the estimates from the run's samples with their standard errors
        (the validation one is what training showed last), steps, speed."""
        val = self.whole_val()
        val_estimate, val_err = self.estimate("val")
        train, train_err = self.estimate("train")
        last = self.last
        return {
            "train_loss": train,
            "train_loss_err": train_err,
            "val_loss": val,
            "val_loss_estimate": val_estimate,
            "val_loss_estimate_err": val_err,
            "val_bpc": loss_metrics(val)["bpc"],  # the one place nats become bits and perplexity
            "val_perplexity": loss_metrics(val)["perplexity"],
            "steps": self.step,
            "tokens_per_second": last.tokens_per_second if last else 0.0,
            "elapsed_seconds": last.elapsed if last else 0.0,
            "num_params": self.model.num_params(),
            "device": str(self.device),
            **self.best_metrics(),
            **({"target_loss": self.config.target_loss, **self.reached} if self.config.target_loss else {}),
        }

    def best_metrics(self) -> dict:
        """What metrics.json says of the best evaluation and why training ended."""
        if self.best.step is None:
            return {}
        kept = self.config.keep_best and self.best.weights is not None
        return {
            "best_step": self.best.step,
            "best_val_loss": self.best.val_loss,  # the estimate on the run's sample, as compared
            "kept": "best" if kept else "last",
            "stopped_by": self.stopped_by or "steps",
        }

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Everything a resumed run needs, as tensors (safetensors holds tensors only)."""
        state = {
            "step": torch.tensor(self.step),
            "rng.batches": self.generator.get_state(),
            "rng.torch": self.torch_rng,
        }
        for prefix, optimizer in self.optimizers().items():
            for i, s in optimizer.state_dict()["state"].items():
                for key, value in s.items():
                    state[f"{prefix}.{i}.{key}"] = torch.as_tensor(value).detach().cpu()
        for i, raw in enumerate(self.raw or []):
            state[f"raw.{i}"] = raw.detach().cpu()
        if self.best.step is not None:
            state["best.step"] = torch.tensor(self.best.step)
            state["best.val_loss"] = torch.tensor(self.best.val_loss, dtype=torch.float64)
            state["best.since"] = torch.tensor(self.best.since)
            state["best.in_model"] = torch.tensor(self.holds_best())
        return state

    def holds_best(self) -> bool:
        """Whether the model's weights are the best ones kept (as after `restore_best`)."""
        weights = self.best.weights
        return weights is not None and all(
            torch.equal(v, weights[k]) for k, v in self.model.state_dict().items()
        )

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.step = int(state["step"])
        self.generator.set_state(state["rng.batches"])
        self.torch_rng = state["rng.torch"]
        if "best.step" in state:  # a checkpoint saved with keep_best holds the best weights themselves
            self.best = Best(int(state["best.step"]), float(state["best.val_loss"]), int(state["best.since"]))
            if self.config.keep_best and bool(state.get("best.in_model", False)):
                self.best.weights = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        if self.optimizer is None:
            return
        if self.raw is not None and "raw.0" in state:  # else the average starts from the saved weights
            self.raw = [state[f"raw.{i}"].to(self.device) for i in range(len(self.raw))]
        saved_muon = any(name.startswith("muon.") for name in state)
        if saved_muon != (self.muon is not None) and any(name.startswith("optimizer.") for name in state):
            raise CharlmError(
                f"this checkpoint was trained with optimizer {'muon' if saved_muon else 'adamw'}; "
                "resume it with the same optimizer."
            )
        for prefix, optimizer in self.optimizers().items():
            moments: dict[int, dict[str, torch.Tensor]] = {}
            for name, value in state.items():
                if name.startswith(prefix + "."):
                    _, i, key = name.split(".", 2)
                    moments.setdefault(int(i), {})[key] = value.to(self.device) if key != "step" else value
            full = optimizer.state_dict()
            full["state"] = moments
            optimizer.load_state_dict(full)


def new_trainer(text: str, mode: str, model: str, config: TrainConfig, **settings) -> Trainer:
    """A fresh model of type `model` with `settings`, ready to train on `text`: what both front ends start from."""
    config.check()
    corpus = Corpus.from_text(text, mode, val_fraction=config.val_fraction, seed=config.seed)
    return fresh_trainer(corpus, model, config, **settings)


def fresh_trainer(corpus: Corpus, model: str, config: TrainConfig, **settings) -> Trainer:
    """A fresh model of type `model` with `settings` on a corpus already split. The same seed gives
    the same initial weights, so models built on one corpus start as each would start alone."""
    chars, mode = corpus.vocab.chars, corpus.mode
    with GLOBAL_RNG:
        torch.manual_seed(config.seed)
        return Trainer(build_model(model_config(model, chars=chars, mode=mode, **settings)), corpus, config)
