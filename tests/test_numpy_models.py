"""The NumPy rung: hand-written gradients against PyTorch autograd and finite differences, training
through the one Trainer, the one sampler, checkpoints, and bad input."""

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import own

from charlm.__main__ import main
from charlm.checkpoint import load_checkpoint, resume, save_checkpoint
from charlm.data import Corpus, get_batch
from charlm.errors import CharlmError
from charlm.models import MODELS, build_model, model_config, model_settings
from charlm.models.numpy_models import (
    NumpyMLP,
    bigram_backward,
    bigram_forward,
    cross_entropy,
    gradient_check,
    mlp_backward,
    mlp_forward,
)
from charlm.sampling import stream
from charlm.train import TrainConfig, Trainer, evaluate, new_trainer

TEXT = """emma olivia ava isabella sophia charlotte mia amelia harper evelyn abigail emily elizabeth
mila ella avery sofia camila aria scarlett victoria madison luna grace chloe penelope layla riley zoey
nora lily eleanor hannah lillian addison aubrey ellie stella natalie zoe leah hazel violet aurora
savannah audrey brooklyn bella claire skylar lucy paisley everly anna caroline nova genesis emilia
kennedy samantha maya willow kinsley naomi aaliyah elena sarah ariana allison gabriella alice madelyn
cora ruby eva serenity autumn adeline hailey gianna valentina isla eliana quinn nevaeh ivy sadie piper
lydia alexa josephine emery julia delilah arianna vivian kaylee sophie brielle madeline
""".replace(" ", "\n")  # one name per line
TINY = dict(block_size=3, n_embd=8, n_hidden=32)  # small enough that every test runs in a blink
NUMPY_MODELS = ["numpy-bigram", "numpy-mlp"]


def fresh(name: str, seed: int = 0, **settings):
    torch.manual_seed(seed)
    corpus = Corpus.from_text(TEXT, "lines", seed=seed)
    return build_model(
        model_config(name, chars=corpus.vocab.chars, mode="lines", **own(name, {**TINY, **settings}))
    ), corpus


def quick_trainer(name: str, steps: int, settings: dict = TINY, **train) -> Trainer:
    defaults = dict(batch_size=16, eval_interval=10**6, device="cpu", lr=MODELS[name].default_lr)
    return new_trainer(
        TEXT, "lines", name, TrainConfig(steps=steps, **{**defaults, **train}), **own(name, settings)
    )


def torch_loss(name: str, p: dict, ctx: np.ndarray, targets: np.ndarray) -> torch.Tensor:
    """The same models written with torch operations: the oracle autograd differentiates."""
    ctx, targets = torch.from_numpy(ctx), torch.from_numpy(targets)
    if name == "numpy-bigram":
        logits = p["W"][ctx[:, -1]]
    else:
        h = torch.tanh(p["C"][ctx].reshape(len(ctx), -1) @ p["W1"] + p["b1"])
        logits = h @ p["W2"] + p["b2"]
    return F.cross_entropy(logits, targets, ignore_index=-1)


MATHS = {"numpy-bigram": (bigram_forward, bigram_backward), "numpy-mlp": (mlp_forward, mlp_backward)}


def test_registered_with_their_settings_and_no_autograd_parameters():
    assert model_settings("numpy-bigram") == []  # a table: its context is one character, fixed
    assert model_settings("numpy-mlp") == ["block_size", "n_embd", "n_hidden"]
    model, _ = fresh("numpy-mlp")
    assert list(model.parameters()) == []  # every weight is a buffer: nothing for autograd to track
    assert set(model.state_dict()) == {"C", "W1", "b1", "W2", "b2"}
    assert model.num_params() == 27 * 8 + 24 * 32 + 32 + 32 * 27 + 27
    assert all(t.dtype == torch.float32 for t in model.state_dict().values())


@pytest.mark.parametrize("name", NUMPY_MODELS)
def test_hand_written_gradients_equal_autograd_and_finite_differences(name):
    """Random float64 weights (not the initial ones, so no term vanishes) and a batch with padding."""
    model, corpus = fresh(name)
    x, y = get_batch(corpus.train, 6, 12, torch.Generator().manual_seed(1))
    assert (y == -1).any()  # padded targets must be skipped by both sides
    ctx, targets = model.contexts(x)[0], y.reshape(-1).numpy()
    rng = np.random.default_rng(0)
    p = {k: rng.normal(0, 0.5, w.shape) for k, w in model.weights().items()}
    forward, backward = MATHS[name]

    logits, cache = forward(p, ctx)
    loss, dlogits = cross_entropy(logits, targets)
    grads = backward(p, cache, dlogits)

    tp = {k: torch.tensor(v, requires_grad=True) for k, v in p.items()}
    expected = torch_loss(name, tp, ctx, targets)
    expected.backward()
    assert loss == pytest.approx(expected.item(), rel=1e-12)
    assert set(grads) == set(p)
    for k in p:
        assert grads[k].shape == p[k].shape
        np.testing.assert_allclose(grads[k], tp[k].grad.numpy(), rtol=1e-5, atol=1e-12, err_msg=k)
        flat, g = p[k].reshape(-1), grads[k].reshape(-1)  # flat is a view: nudging it nudges p[k]
        for i in rng.choice(flat.size, min(10, flat.size), replace=False):
            old = flat[i]
            flat[i] = old + 1e-6
            up = cross_entropy(forward(p, ctx)[0], targets)[0]
            flat[i] = old - 1e-6
            down = cross_entropy(forward(p, ctx)[0], targets)[0]
            flat[i] = old
            assert (up - down) / 2e-6 == pytest.approx(g[i], abs=1e-7), (k, i)


@pytest.mark.parametrize("name", NUMPY_MODELS)
def test_gradient_check_rows_for_the_app(name):
    rows = gradient_check(name, TEXT, mode="lines", batch_size=4, seed=3, **own(name, TINY))
    model, _ = fresh(name)
    assert [r["weight"] for r in rows] == list(model.weights())
    for r in rows:
        assert r["shape"] == list(model.weights()[r["weight"]].shape)
        assert r["formula"].startswith("d" + r["weight"])
        assert r["max_abs_grad"] > 0
        assert r["max_abs_diff_autograd"] <= 1e-5 * r["max_abs_grad"]
        assert r["max_abs_diff_numeric"] <= 1e-6


def test_gradient_check_takes_a_trained_model_and_leaves_it_alone():
    trainer = quick_trainer("numpy-mlp", 20)
    for _ in trainer.run():
        pass
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    rows = gradient_check(trainer.model, TEXT, mode="lines", seed=5)
    assert max(r["max_abs_diff_autograd"] for r in rows) < 1e-9
    assert all(torch.equal(before[k], v) for k, v in trainer.model.state_dict().items())


def test_gradient_check_finds_a_wrong_backward(monkeypatch):
    """The check must be able to fail: forget tanh's derivative and the layers below it disagree."""

    def no_tanh_derivative(p, cache, dlogits):
        ctx, emb, h = cache
        grads = mlp_backward(p, (ctx, emb, np.zeros_like(h)), dlogits)  # so 1 - h**2 is 1 everywhere
        grads["W2"] = h.T @ dlogits  # keep the layer above right
        return grads

    monkeypatch.setattr(NumpyMLP, "numpy_backward", staticmethod(no_tanh_derivative))
    rows = {r["weight"]: r for r in gradient_check("numpy-mlp", TEXT, mode="lines", **TINY)}
    assert rows["W2"]["max_abs_diff_autograd"] < 1e-12 and rows["b2"]["max_abs_diff_autograd"] < 1e-12
    for k in ("C", "W1", "b1"):
        assert rows[k]["max_abs_diff_autograd"] > 1e-4
        assert rows[k]["max_abs_diff_numeric"] > 1e-4


def test_gradient_check_refuses_a_model_without_hand_written_gradients():
    with pytest.raises(CharlmError, match="numpy-bigram or numpy-mlp"):
        gradient_check("mlp", TEXT, mode="lines")
    with pytest.raises(CharlmError, match="unknown model"):
        gradient_check("numpy-gpt", TEXT, mode="lines")
    with pytest.raises(CharlmError, match="batch_size must be"):
        gradient_check("numpy-mlp", TEXT, mode="lines", batch_size=0)
    model, _ = fresh("numpy-mlp")
    with pytest.raises(CharlmError, match="not in the model's vocabulary: 'Z'"):
        gradient_check(model, TEXT + "Zoe\n")


@pytest.mark.parametrize("name", NUMPY_MODELS)
def test_same_logits_as_the_pytorch_rung_with_the_same_weights(name):
    model, corpus = fresh(name)
    if name == "numpy-bigram":  # the bigram starts at zero: give it something to show
        model.W.copy_(torch.randn(model.W.shape))
    x = corpus.train.tokens[:40].view(2, 20)
    twin = model.torch_twin()
    torch.testing.assert_close(model(x)[0].double(), twin(x)[0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", NUMPY_MODELS)
def test_loss_at_initialisation_is_near_uniform(name):
    model, corpus = fresh(name)
    V = model.config.vocab_size
    assert evaluate(model, corpus.val) == pytest.approx(math.log(V), abs=0.05)


def test_incremental_decoding_equals_the_full_forward():
    model, corpus = fresh("numpy-mlp", block_size=4)
    idx = corpus.train.tokens[:30].view(1, 30)
    full, _ = model(idx)
    state, parts = model.new_state(), []
    for chunk in (idx[:, :1], idx[:, 1:7], idx[:, 7:8], idx[:, 8:]):
        logits, state = model.decode(chunk, state)
        parts.append(logits)
    torch.testing.assert_close(torch.cat(parts, 1), full)


def test_numpy_bigram_converges_to_the_count_bigram():
    """Gradient descent on the table reaches the loss that counting gives (the maximum likelihood)."""
    trainer = quick_trainer("numpy-bigram", 1500, batch_size=64)
    losses = [event.train_loss for event in trainer.run()]
    counts, _ = fresh("bigram", smoothing=0.0)
    counts.fit(trainer.corpus.train)
    best = evaluate(counts, trainer.corpus.train)
    assert losses[0] == pytest.approx(math.log(trainer.model.config.vocab_size), abs=1e-5)
    assert best <= evaluate(trainer.model, trainer.corpus.train) < best + 0.03


def test_numpy_mlp_trains_through_the_one_trainer():
    trainer = quick_trainer("numpy-mlp", 60)
    trainer.config.eval_interval = 20
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    events = list(trainer.run())
    assert [e.step for e in events] == list(range(1, 61))
    assert [e.step for e in events if e.val_loss is not None] == [1, 20, 40, 60]
    assert events[-1].done and not any(e.done for e in events[:-1])
    assert events[-1].val_loss < events[0].val_loss - 0.3
    assert all(not torch.equal(before[k], v) for k, v in trainer.model.state_dict().items())
    assert all(v.dtype == torch.float32 for v in trainer.model.state_dict().values())
    metrics = trainer.metrics()
    assert metrics["steps"] == 60 and metrics["device"] == "cpu"
    assert metrics["val_loss"] == pytest.approx(evaluate(trainer.model, trainer.corpus.val))


def test_gradient_clipping_bounds_the_step():
    model, corpus = fresh("numpy-mlp")
    x, y = get_batch(corpus.train, 8, 12, torch.Generator().manual_seed(0))
    _, grads = model.loss_and_grads(x, y)
    norm = math.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for g in grads.values()))
    before = {k: v.clone().double() for k, v in model.state_dict().items()}
    model.sgd_step(grads, lr=1.0, grad_clip=norm / 4)
    moved = math.sqrt(
        sum(float(((v.double() - before[k]) ** 2).sum()) for k, v in model.state_dict().items())
    )
    assert moved == pytest.approx(norm / 4, rel=1e-3)


def test_the_one_sampler_with_its_options():
    trainer = quick_trainer("numpy-mlp", 40)
    for _ in trainer.run():
        pass
    model = trainer.model
    context = [0]
    for token in stream(model, temperature=0, length=15):  # greedy: the argmax of the full forward
        logits, _ = model(torch.tensor([context]))
        assert token.id == int(logits[0, -1].argmax())
        context.append(token.id)
    first = [t.id for t in stream(model, "a", top_k=3, top_p=0.9, temperature=0.8, seed=7, length=30)]
    again = [t.id for t in stream(model, "a", top_k=3, top_p=0.9, temperature=0.8, seed=7, length=30)]
    assert first == again
    for token in stream(model, "a", top_k=1, length=10, seed=1):
        assert token.sampled_prob == 1.0 and token.prob == max(p for _, p in token.alternatives)
    with pytest.raises(CharlmError, match="not in the model's vocabulary"):
        list(stream(model, "a#"))


def test_checkpoint_round_trip_and_exact_resume(tmp_path):
    straight = quick_trainer("numpy-mlp", 30)
    for _ in straight.run():
        pass

    trainer = quick_trainer("numpy-mlp", 30)
    for event in trainer.run():
        if event.step == 12:
            break  # stopped by the user: the model stays as it is
    path = save_checkpoint(tmp_path / "np", trainer.model, trainer=trainer, metrics=trainer.metrics())
    config = json.loads((path / "config.json").read_text())
    assert config["model_type"] == "numpy-mlp" and config["n_hidden"] == 32

    loaded = load_checkpoint(path)
    assert type(loaded.model) is NumpyMLP
    x = trainer.corpus.val.tokens[:24].view(2, 12)
    assert torch.equal(loaded.model(x)[0], trainer.model(x)[0])

    resumed = resume(loaded, TEXT)
    assert resumed.step == 12
    for _ in resumed.run():
        pass
    for k, v in straight.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[k], v), k


def test_divergence_is_caught_and_keeps_the_last_good_weights():
    trainer = quick_trainer("numpy-mlp", 200, settings={}, lr=10.0, grad_clip=0.0, warmup_steps=0)
    seen = []
    with pytest.raises(CharlmError, match=r"diverged at step \d+.*Lower the learning rate \(now 10\)"):
        for event in trainer.run():
            seen.append(event.step)
    assert seen and seen[-1] < 200
    assert all(torch.isfinite(v).all() for v in trainer.model.state_dict().values())


def test_command_line_trains_and_samples_with_the_models_own_lr(tmp_path, capsys):
    data = tmp_path / "names.txt"
    data.write_text(TEXT)
    out = tmp_path / "ckpt"
    args = ["--mode", "lines", "--steps", "30", "--n-hidden", "32", "--n-embd", "8", "--seed", "0"]
    assert main(["train", str(data), "--model", "numpy-mlp", "--out", str(out), *args]) == 0
    saved = json.loads((out / "config.json").read_text())
    assert saved["train"]["lr"] == NumpyMLP.default_lr
    capsys.readouterr()
    assert main(["sample", str(out), "--num-samples", "3", "--seed", "0", "--top-k", "5", "--json"]) == 0
    samples = json.loads(capsys.readouterr().out)
    assert len(samples) == 3 and all(set(s) <= set(saved["chars"]) for s in samples)


def test_command_line_reports_divergence_and_writes_nothing(tmp_path, capsys):
    data = tmp_path / "names.txt"
    data.write_text(TEXT)
    out = tmp_path / "ckpt"
    args = ["--mode", "lines", "--steps", "200", "--lr", "10", "--grad-clip", "0", "--warmup-steps", "0"]
    assert main(["train", str(data), "--model", "numpy-mlp", "--out", str(out), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: training diverged")
    assert not out.exists()
