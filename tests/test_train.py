"""charlm.train: the training loop's events, determinism, divergence, stopping, resuming and schedule."""

import math
import threading

import pytest
import torch
from conftest import NAMES, TEXT, TINY, own, tiny_model, tiny_train_config, train_tiny

from charlm.checkpoint import load_checkpoint, resume, save_checkpoint
from charlm.data import Corpus
from charlm.errors import CharlmError
from charlm.models import MODELS, build_model, model_config
from charlm.sampling import sample
from charlm.train import Trainer, evaluate, loss_metrics, new_trainer


def weights(model) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_events_count_the_steps_and_evaluate_on_schedule():
    model, corpus = tiny_model("mlp")
    events = list(Trainer(model, corpus, tiny_train_config(steps=25, eval_interval=10)).run())
    assert [e.step for e in events] == list(range(1, 26))
    assert all(e.steps == 25 for e in events)
    evaluated = [e.step for e in events if e.val_loss is not None]
    assert evaluated == [1, 10, 20, 25]  # the first step, every eval_interval, and the last
    assert all(e.train_eval_loss is not None for e in events if e.val_loss is not None)
    assert [e.done for e in events] == [False] * 24 + [True]
    assert all(e.tokens_per_second > 0 and e.elapsed >= 0 and e.remaining >= 0 for e in events)
    assert events[-1].remaining == 0


def test_same_seed_gives_the_same_losses():
    config = dict(dropout=0.2)
    _, a = train_tiny("transformer", **config)
    _, b = train_tiny("transformer", **config)
    assert a == b
    _, c = train_tiny("transformer", config=tiny_train_config(seed=8), **config)
    assert a != c


def test_a_training_repeats_exactly_while_other_threads_draw_from_the_global_generator():
    # the playground trains one session's model while others build models (a parameter count as
    # someone types) or time steps for auto settings: all of it from torch's one global generator
    def run() -> dict:
        trainer = new_trainer(
            TEXT, "text", "transformer", tiny_train_config(steps=30), n_embd=16, dropout=0.3
        )
        for _ in trainer.run():
            pass
        return weights(trainer.model)

    alone, stop = run(), threading.Event()

    def others():
        while not stop.is_set():
            build_model(model_config("mlp", chars="abc", n_hidden=64))

    thread = threading.Thread(target=others)
    thread.start()
    try:
        disturbed = run()
    finally:
        stop.set()
        thread.join()
    assert same_weights(alone, disturbed)


def test_new_trainer_seeds_the_initial_weights():
    a = new_trainer(TEXT, "text", "lstm", tiny_train_config(), n_hidden=16)
    b = new_trainer(TEXT, "text", "lstm", tiny_train_config(), n_hidden=16)
    c = new_trainer(TEXT, "text", "lstm", tiny_train_config(seed=1), n_hidden=16)
    assert same_weights(weights(a.model), weights(b.model))
    assert not same_weights(weights(a.model), weights(c.model))
    assert a.model.config.n_hidden == 16 and a.corpus.vocab.chars == "".join(sorted(set(TEXT)))


def test_a_diverging_learning_rate_raises_and_names_it():
    model, corpus = tiny_model("transformer")
    trainer = Trainer(model, corpus, tiny_train_config(lr=10.0, warmup_steps=0))
    with pytest.raises(CharlmError, match=r"diverged.*learning rate \(now 10\)"):
        for _ in trainer.run():
            pass
    assert all(torch.isfinite(p).all() for p in model.parameters())  # the last good weights are kept


def test_stopping_early_keeps_the_trained_model_and_can_go_on():
    model, corpus = tiny_model("gru")
    initial = weights(model)
    trainer = Trainer(model, corpus, tiny_train_config(steps=20))
    for event in trainer.run():
        if event.step == 5:
            break
    at_stop = weights(model)
    assert trainer.step == 5 and not same_weights(initial, at_stop)
    assert evaluate(model, corpus.train) < math.log(corpus.vocab.size)
    rest = [e.step for e in trainer.run()]  # a new run() goes on from where the last one stopped
    assert rest == list(range(6, 21))
    with pytest.raises(CharlmError, match="already trained 20 steps"):
        next(trainer.run())


@pytest.mark.parametrize("name", ["transformer", "lstm", "mlp"])
def test_stopping_and_going_on_equals_a_straight_run(name):
    """Whatever happens between two runs (sampling without a seed, other random draws) leaves the
    training numbers alone: dropout draws from the trainer's own random state."""
    straight, losses = train_tiny(name, dropout=0.2)
    model, corpus = tiny_model(name, dropout=0.2)
    trainer = Trainer(model, corpus, tiny_train_config())
    stopped = []
    for event in trainer.run():
        stopped.append(event.train_loss)
        if event.step == 10:
            break
    sample(model, length=20)  # no seed
    torch.rand(100)
    stopped += [e.train_loss for e in trainer.run()]
    assert stopped == losses
    assert same_weights(weights(model), weights(straight.model))


@pytest.mark.parametrize("name", [name for name, cls in MODELS.items() if not cls.trained_by_counting])
@pytest.mark.parametrize(
    "text, mode", [pytest.param(TEXT, "text", id="text"), pytest.param(NAMES, "lines", id="lines")]
)
def test_resume_from_a_checkpoint_equals_training_straight(tmp_path, name, text, mode):
    def config():
        return tiny_train_config(steps=16, eval_interval=8, lr=max(1e-2, MODELS[name].default_lr))

    straight = new_trainer(text, mode, name, config(), **own(name, {**TINY, "dropout": 0.2}))
    losses = [e.train_loss for e in straight.run()]

    first = new_trainer(
        text, mode, name, config(), **own(name, {**TINY, "dropout": 0.2})
    )  # the split follows the seed
    model = first.model
    resumed = []
    for event in first.run():
        resumed.append(event.train_loss)
        if event.step == 8:
            break
    samples = sample(model, num_samples=2, length=20)  # what the CLI and the app do before saving
    save_checkpoint(tmp_path / "ckpt", model, trainer=first, metrics=first.metrics(), samples=samples)
    torch.manual_seed(12345)  # a different process would start from other random numbers

    checkpoint = load_checkpoint(tmp_path / "ckpt")
    second = resume(checkpoint, text)
    assert second.step == 8 and second.config.steps == 16
    resumed += [e.train_loss for e in second.run()]
    assert resumed == losses
    assert same_weights(weights(second.model), weights(straight.model))


def test_ema_weights_are_the_moving_average_of_the_raw_ones():
    """With ema_decay the optimizer follows the same path as without, and the model holds the average
    of that path's weights, step by step (the oracle: the weighted sum over a plain run's history)."""
    decay = 0.8
    plain_model, corpus = tiny_model("transformer", dropout=0.2)
    plain = Trainer(plain_model, corpus, tiny_train_config())
    ema_model, _ = tiny_model("transformer", dropout=0.2)
    averaged = Trainer(ema_model, corpus, tiny_train_config(ema_decay=decay))
    history = []  # the raw weights after each step
    for a, b in zip(plain.run(), averaged.run()):
        assert a.train_loss == b.train_loss  # the same raw weights make the same step
        history.append([p.detach().clone() for p in plain_model.parameters()])
        # the bias-corrected exponential average: sum of decay**(t-i) * w_i over sum of decay**(t-i)
        t = len(history)
        w = [decay ** (t - i) for i in range(1, t + 1)]
        by_hand = [sum(wi * h[j] for wi, h in zip(w, history)) / sum(w) for j in range(len(history[0]))]
        for average, p in zip(by_hand, ema_model.parameters()):
            torch.testing.assert_close(p.detach(), average)
        if b.val_loss is not None:  # what is evaluated is the average
            assert (b.val_loss, b.val_loss_err) == averaged.estimate("val")
    assert not same_weights(weights(ema_model), weights(plain_model))


def test_resume_with_ema_equals_training_straight(tmp_path):
    config = tiny_train_config(steps=16, eval_interval=8, ema_decay=0.9)
    straight = new_trainer(NAMES, "lines", "transformer", config, **own("transformer", TINY), dropout=0.2)
    losses = [e.train_loss for e in straight.run()]
    first = new_trainer(NAMES, "lines", "transformer", config, **own("transformer", TINY), dropout=0.2)
    resumed = []
    for event in first.run():
        resumed.append(event.train_loss)
        if event.step == 8:
            break
    save_checkpoint(tmp_path / "ckpt", first.model, trainer=first, metrics=first.metrics())
    second = resume(load_checkpoint(tmp_path / "ckpt"), NAMES)
    assert second.config.ema_decay == 0.9
    resumed += [e.train_loss for e in second.run()]
    assert resumed == losses  # the raw weights came back from trainer_state
    assert same_weights(weights(second.model), weights(straight.model))  # and so did the average


def test_resume_can_extend_the_number_of_steps(tmp_path):
    trainer, _ = train_tiny("mlp", config=tiny_train_config(steps=10))
    save_checkpoint(tmp_path / "c", trainer.model, trainer=trainer)
    more = resume(load_checkpoint(tmp_path / "c"), TEXT, steps=15)
    assert [e.step for e in more.run()] == list(range(11, 16))
    again = resume(load_checkpoint(tmp_path / "c"), TEXT)
    with pytest.raises(CharlmError, match="already trained 10 steps"):
        next(again.run())


def test_warmup_then_cosine_schedule():
    model, corpus = tiny_model("mlp")
    peak = 0.01
    trainer = Trainer(model, corpus, tiny_train_config(steps=100, lr=peak, warmup_steps=10))
    lr = trainer.lr_at
    for step in range(10):  # linear warmup reaching the peak at its last step
        assert lr(step) == pytest.approx(peak * (step + 1) / 10)
    assert lr(10) == pytest.approx(peak)
    assert lr(55) == pytest.approx(peak * (0.1 + 0.9 * 0.5))  # half way through the decay
    assert lr(100) == pytest.approx(peak / 10) and lr(1000) == pytest.approx(peak / 10)  # the floor
    decay = [lr(s) for s in range(10, 101)]
    assert all(a > b for a, b in zip(decay, decay[1:91]))
    # warmup takes at most a tenth of a short run
    short = Trainer(model, corpus, tiny_train_config(steps=20, lr=peak, warmup_steps=100))
    assert short.lr_at(0) == pytest.approx(peak / 2) and short.lr_at(1) == pytest.approx(peak)
    events = list(short.run())
    assert [e.lr for e in events] == [short.lr_at(s) for s in range(20)]


@pytest.mark.parametrize(
    "settings, words",
    [
        (dict(steps=0), "steps must be"),
        (dict(steps=-5), "steps must be"),
        (dict(steps=2.5), "steps must be"),
        (dict(lr=0.0), "lr must be"),
        (dict(lr=11.0), "lr must be"),
        (dict(lr=float("nan")), "lr must be"),
        (dict(batch_size=0), "batch_size"),
        (dict(weight_decay=-1.0), "weight_decay"),
        (dict(eval_interval=0), "eval_interval"),
        (dict(device="tpu"), "device"),
    ],
)
def test_bad_training_settings_are_refused(settings, words):
    model, corpus = tiny_model("mlp")
    with pytest.raises(CharlmError, match=words):
        Trainer(model, corpus, tiny_train_config(**settings))


def test_a_text_shorter_than_the_block_size_is_refused():
    model, corpus = tiny_model("transformer", "0123456789" * 3, block_size=32)
    with pytest.raises(CharlmError, match="block size"):
        Trainer(model, corpus, tiny_train_config())


def test_a_model_for_another_vocabulary_is_refused():
    model, _ = tiny_model("mlp")
    with pytest.raises(CharlmError, match="vocabulary"):
        Trainer(model, Corpus.from_text(NAMES, "lines"), tiny_train_config())


def test_the_count_bigram_trains_in_one_event():
    trainer, losses = train_tiny("bigram")
    assert len(losses) == 1 and trainer.last.done and trainer.last.val_loss is not None
    assert trainer.model.counts.sum() == len(trainer.corpus.train.tokens) - 1


def test_evaluate_and_metrics():
    model, corpus = tiny_model("neural-bigram")  # starts uniform: every prediction costs ln V
    ln_v = math.log(corpus.vocab.size)
    assert evaluate(model, corpus.val) == pytest.approx(ln_v)
    assert evaluate(model, corpus.val, max_tokens=10) == pytest.approx(ln_v)
    trainer = Trainer(model, corpus, tiny_train_config(steps=5))
    list(trainer.run())
    metrics = trainer.metrics()
    assert metrics["val_loss"] == pytest.approx(evaluate(model, corpus.val))
    assert metrics["val_bpc"] == pytest.approx(metrics["val_loss"] / math.log(2))
    assert metrics["steps"] == 5 and metrics["num_params"] == model.num_params()
    assert metrics["tokens_per_second"] > 0 and metrics["elapsed_seconds"] > 0
    m = loss_metrics(math.log(4))
    assert m["bpc"] == pytest.approx(2.0) and m["perplexity"] == pytest.approx(4.0)
