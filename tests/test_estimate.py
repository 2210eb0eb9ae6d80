"""The estimates during training: a fixed random sample of windows gives an unbiased loss with an
honest standard error (oracle: the whole-split loss over many seeds), where the first N tokens do not."""

import math

import pytest
import torch
from conftest import NAMES, TEXT, tiny_model, tiny_train_config

from charlm.checkpoint import load_checkpoint, resume, save_checkpoint
from charlm.data import Split, Vocab, eval_spans, make_split, sample_windows
from charlm.models import build_model, model_config
from charlm.train import Trainer, estimate, evaluate, new_trainer, ratio_estimate, window_losses

SEEDS = 200


def easy_then_hard(mode: str) -> str:
    """A text whose opening is far easier to predict than the rest: a repeated pair, then random letters."""
    g = torch.Generator().manual_seed(0)
    letters = "abcdefghij"
    if mode == "text":
        hard = "".join(letters[i] for i in torch.randint(10, (6000,), generator=g).tolist())
        return "ab" * 1000 + hard
    lines = ["ab"] * 300
    for length in torch.randint(1, 30, (700,), generator=g).tolist():
        lines.append("".join(letters[i] for i in torch.randint(10, (length,), generator=g).tolist()))
    return "\n".join(lines)


def honest(estimates: list[float], errors: list[float], truth: float) -> tuple[bool, bool]:
    """Whether estimates (one per seed) are unbiased, their mean within 4 standard errors of the mean
    of `truth`, and whether the errors they state match their spread within 25%."""
    spread = torch.tensor(estimates, dtype=torch.float64).std().item()
    mean = sum(estimates) / len(estimates)
    unbiased = abs(mean - truth) < 4 * spread / math.sqrt(len(estimates))
    calibrated = abs(sum(errors) / len(errors) - spread) < 0.25 * spread
    return unbiased, calibrated


@pytest.mark.parametrize("mode, T, tokens", [("text", 16, 3200), ("lines", 8, 5000)])
def test_the_sample_estimate_is_unbiased_and_states_its_spread_where_the_first_tokens_are_not(
    mode, T, tokens
):
    text = easy_then_hard(mode)
    vocab = Vocab.from_text(text, mode)
    split = make_split(text, vocab)
    model = build_model(model_config("bigram", chars=vocab.chars, mode=mode))
    model.fit(split)  # a fixed model; the count bigram is fast
    truth = evaluate(model, split, T)
    windows = len(eval_spans(split, T)[0])

    estimates, errors = [], []
    for seed in range(SEEDS):
        sample = sample_windows(split, T, tokens, torch.Generator().manual_seed(seed))
        assert (
            0.2 * windows < len(sample) < 0.6 * windows
        )  # a large share: the finite-population correction matters
        mean, err = estimate(model, split, sample, T)
        estimates.append(mean)
        errors.append(err)
    assert honest(estimates, errors, truth) == (True, True)

    # the old estimate: the first windows, the same whatever the seed, with the error they would state
    first = evaluate(model, split, T, max_tokens=tokens)
    losses, counts = window_losses(model, split, T, max_tokens=tokens)
    _, first_err = ratio_estimate(losses, counts, windows)
    assert honest([first] * SEEDS, [first_err] * SEEDS, truth) == (False, False)
    assert truth - first > 10 * first_err  # the easy opening makes it far too optimistic


def test_ratio_estimate_matches_the_textbook_formulas():
    # equal counts: the mean of a simple random sample, its error sqrt((1 - n/N) s^2 / n) per prediction
    losses = torch.tensor([3.0, 5.0, 4.0, 8.0], dtype=torch.float64)
    counts = torch.full((4,), 2.0, dtype=torch.float64)
    mean, err = ratio_estimate(losses, counts, population=10)
    per_window = losses / 2
    assert mean == pytest.approx(per_window.mean().item())
    assert err == pytest.approx(math.sqrt((1 - 4 / 10) * per_window.var().item() / 4))
    # unequal counts: the ratio, and the delta method's residuals about it
    counts = torch.tensor([1.0, 2.0, 3.0, 6.0], dtype=torch.float64)
    mean, err = ratio_estimate(losses, counts, population=7)
    r = 20 / 12
    residuals = [l - r * c for l, c in zip(losses.tolist(), counts.tolist())]
    s2 = sum(e * e for e in residuals) / 3
    assert mean == pytest.approx(r)
    assert err == pytest.approx(math.sqrt((1 - 4 / 7) * s2 / (4 * 3.0**2)))
    assert ratio_estimate(losses, counts, population=4)[1] == 0.0  # the whole population: no error


def estimates(events) -> dict[int, tuple]:
    """Each evaluation's estimates, by step."""
    return {
        e.step: (e.val_loss, e.val_loss_err, e.train_eval_loss, e.train_eval_loss_err)
        for e in events
        if e.val_loss is not None
    }


def test_training_estimates_read_a_fixed_sample_drawn_from_the_seed():
    config = dict(steps=12, eval_interval=4, eval_tokens=32)
    model, corpus = tiny_model("transformer", dropout=0.2)
    trainer = Trainer(model, corpus, tiny_train_config(**config))
    T = trainer.T
    val = trainer.eval_sample["val"]
    assert 2 <= len(val) < len(eval_spans(corpus.val, T)[0])  # a sample, not the whole split
    assert val.tolist() == sorted(set(val.tolist()))
    events = list(trainer.run())
    assert all(e.val_loss_err > 0 and e.train_eval_loss_err > 0 for e in events if e.val_loss is not None)
    assert estimates(events)[12] == (*estimate(model, corpus.val, val, T), *trainer.estimate("train"))

    again_model, _ = tiny_model("transformer", dropout=0.2)
    again = Trainer(again_model, corpus, tiny_train_config(**config))
    assert all(torch.equal(again.eval_sample[k], trainer.eval_sample[k]) for k in ("val", "train"))
    assert estimates(again.run()) == estimates(events)  # the same seed: the same estimates
    other = Trainer(tiny_model("transformer", dropout=0.2)[0], corpus, tiny_train_config(**config, seed=8))
    assert not torch.equal(other.eval_sample["train"], trainer.eval_sample["train"])

    metrics = trainer.metrics()
    assert metrics["val_loss"] == pytest.approx(evaluate(model, corpus.val, T))  # the whole split
    last = events[-1]
    assert (metrics["val_loss_estimate"], metrics["val_loss_estimate_err"]) == (
        last.val_loss,
        last.val_loss_err,
    )
    assert (metrics["train_loss"], metrics["train_loss_err"]) == (
        last.train_eval_loss,
        last.train_eval_loss_err,
    )


def test_a_sample_of_the_whole_split_has_no_error():
    model, corpus = tiny_model("mlp")
    trainer = Trainer(model, corpus, tiny_train_config(eval_tokens=10**6))
    mean, err = trainer.estimate("val")
    assert mean == pytest.approx(evaluate(model, corpus.val, trainer.T)) and err == 0.0


@pytest.mark.parametrize(
    "text, mode", [pytest.param(TEXT, "text", id="text"), pytest.param(NAMES, "lines", id="lines")]
)
def test_resume_keeps_the_evaluation_sample_and_its_estimates(tmp_path, text, mode):
    config = tiny_train_config(steps=16, eval_interval=8, eval_tokens=48)
    gru = dict(block_size=8, n_embd=16, n_hidden=32, n_layer=2, dropout=0.2)
    straight = new_trainer(text, mode, "gru", config, **gru)
    expected = estimates(straight.run())

    first = new_trainer(text, mode, "gru", config, **gru)  # the split follows the seed, as resume's does
    first_events = []
    for event in first.run():
        first_events.append(event)
        if event.step == 8:
            break
    save_checkpoint(tmp_path / "ckpt", first.model, trainer=first, metrics=first.metrics())
    second = resume(load_checkpoint(tmp_path / "ckpt"), text)
    for name in ("val", "train"):
        assert torch.equal(second.eval_sample[name], first.eval_sample[name])
    resumed = estimates(first_events) | estimates(
        second.run()
    )  # the resumed run also evaluates its first step
    assert {step: resumed[step] for step in expected} == expected
    assert all(value[3] > 0 for value in expected.values())  # the train split is sampled, not whole


def test_a_split_without_predictions_evaluates_to_zero_not_an_error():
    model, _ = tiny_model("mlp")
    empty = Split(torch.tensor([3]))  # one token: nothing to predict
    assert evaluate(model, empty) == 0.0
    assert estimate(model, empty, sample_windows(empty, 8, 64, torch.Generator().manual_seed(0)), 8) == (
        0.0,
        0.0,
    )
