"""The value-mlp rung against PyTorch's mlp (relu, two layers) holding the same weights; training,
decoding and checkpoints through the shared code; the refusal of hours-long runs; the graph drawing;
and mlp's activation setting."""

import shutil
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import torch
from conftest import TEXT

import charlm.graph
from charlm.__main__ import main
from charlm.autograd import Value, topological_order
from charlm.checkpoint import load_checkpoint, save_checkpoint
from charlm.data import Corpus, get_batch
from charlm.errors import CharlmError
from charlm.models import MODELS, build_model, model_class, model_config, model_settings
from charlm.models.numpy_models import gradient_check
from charlm.models.value_mlp import ValueMLP, value_logits, value_loss, value_weights
from charlm.train import TrainConfig, Trainer, evaluate, new_trainer

SMALL = dict(block_size=3, n_embd=4, n_hidden=6)


def fresh(seed: int = 0, text: str = TEXT, **settings) -> tuple[ValueMLP, Corpus]:
    corpus = Corpus.from_text(text, "text")
    torch.manual_seed(seed)
    model = build_model(model_config("value-mlp", chars=corpus.vocab.chars, **{**SMALL, **settings}))
    return model, corpus


def a_batch(model, corpus, B: int = 2, T: int = 6, seed: int = 0):
    x, y = get_batch(corpus.train, B, T, torch.Generator().manual_seed(seed))
    return x, y, model.contexts(x)[0], y.reshape(-1).numpy()


def differences_from_torch(model: ValueMLP, x, y) -> dict[str, float]:
    """Loss, logits and every weight's gradient: Value engine against autograd on mlp (relu, 2 layers)
    with the same weights in float64; the largest absolute difference of each."""
    p = {k: v.astype(np.float64) for k, v in model.weights().items()}
    ctx, targets = model.contexts(x)[0], y.reshape(-1).numpy()
    loss, grads = model.hand_gradients(p, ctx, targets)
    w = value_weights(p)
    logits = np.array([[v.data for v in value_logits(w, row.tolist())] for row in ctx])
    twin = model.torch_twin()
    twin_logits, twin_loss = twin(x, y)
    twin_loss.backward()
    params = dict(twin.named_parameters())
    out = {
        "loss": abs(loss - twin_loss.item()),
        "logits": float(np.abs(logits - twin_logits.detach().reshape(len(ctx), -1).numpy()).max()),
    }
    for name, (torch_name, _) in model.twin.items():
        out[name] = float(np.abs(grads[name] - params[torch_name].grad.numpy()).max())
    return out


def test_registered_after_numpy_mlp_with_its_settings_and_only_buffers():
    names = list(MODELS)
    assert names.index("value-mlp") == names.index("numpy-mlp") + 1
    assert model_settings("value-mlp") == ["block_size", "n_embd", "n_hidden"]
    defaults = {s.name: s.default for s in model_class("value-mlp").settings()}
    assert defaults == {"block_size": 8, "n_embd": 32, "n_hidden": 128}
    model, _ = fresh()
    assert list(model.parameters()) == [] and model.trains_itself and model.windowed
    assert set(model.state_dict()) == {"C", "W1", "b1", "W2", "b2", "W3", "b3"}
    assert all(t.dtype == torch.float32 for t in model.state_dict().values())


@pytest.mark.parametrize("seed", [0, 1])
def test_logits_loss_and_every_gradient_equal_torch_mlp_with_the_same_weights(seed):
    model, corpus = fresh(seed)
    x, y, _, _ = a_batch(model, corpus, seed=seed)
    diffs = differences_from_torch(model, x, y)
    assert set(diffs) == {"loss", "logits", "C", "W1", "b1", "W2", "b2", "W3", "b3"}
    assert max(diffs.values()) < 1e-6, diffs
    grads = model.hand_gradients(model.weights(), *a_batch(model, corpus, seed=seed)[2:])[1]
    assert all(np.abs(g).max() > 0 for g in grads.values())  # every weight was reached


def test_a_broken_local_derivative_is_caught(monkeypatch):
    """relu passing its gradient on where its input is negative: the comparison must notice."""
    model, corpus = fresh()
    x, y, _, _ = a_batch(model, corpus)
    assert max(differences_from_torch(model, x, y).values()) < 1e-6
    monkeypatch.setattr(Value, "relu", lambda a: Value(max(a.data, 0.0), (a,), "relu", (1.0,)))
    diffs = differences_from_torch(model, x, y)
    assert diffs["loss"] < 1e-9 and diffs["W1"] > 1e-4, diffs  # the forward pass is right, backward not
    rows = {r["weight"]: r for r in gradient_check(model, TEXT, batch_size=2)}
    assert rows["W1"]["max_abs_diff_autograd"] > 1e-4 and rows["W1"]["max_abs_diff_numeric"] > 1e-4


def test_the_gradient_check_offers_value_mlp_with_the_same_rows():
    # wide enough that no example has a whole layer at relu's kink (every unit of layer 1 off puts
    # layer 2 at exactly 0, where finite differences see half the slope)
    rows = gradient_check("value-mlp", TEXT, batch_size=2, probes=5, **{**SMALL, "n_hidden": 24})
    numpy_rows = gradient_check("numpy-mlp", TEXT, batch_size=2, probes=5)
    assert [r["weight"] for r in rows] == ["C", "W1", "b1", "W2", "b2", "W3", "b3"]
    assert all(set(r) == set(numpy_rows[0]) for r in rows)
    for r in rows:
        assert r["max_abs_grad"] > 0 and r["formula"], r
        assert r["max_abs_diff_autograd"] < 1e-9 and r["max_abs_diff_numeric"] < 1e-6, r


def test_decode_gives_the_value_forward_logits():
    model, corpus = fresh()
    x = get_batch(corpus.train, 2, 7, torch.Generator().manual_seed(3))[0]
    logits, _ = model.decode(x)  # NumPy on the float32 weights, as evaluation and sampling use it
    w = value_weights(model.weights())
    by_values = [[v.data for v in value_logits(w, row.tolist())] for row in model.contexts(x)[0]]
    np.testing.assert_allclose(logits.reshape(-1, logits.size(-1)).numpy(), by_values, atol=1e-5, rtol=0)


def test_the_node_count_behind_the_time_estimate_is_the_graph_size():
    model, corpus = fresh()
    w = value_weights(model.weights())
    root = value_loss(w, [1, 2, 3], 4, scale=0.5)  # three different characters, as the count assumes
    assert len(topological_order(root)) == ValueMLP.nodes_per_example(model.config)


def test_training_through_the_trainer_lowers_the_loss():
    model, corpus = fresh(block_size=2, n_embd=2, n_hidden=4)
    before = evaluate(model, corpus.train)
    config = TrainConfig(steps=8, batch_size=2, lr=0.3, warmup_steps=0, eval_interval=8, eval_tokens=256)
    trainer = Trainer(model, corpus, config)
    losses = [event.train_loss for event in trainer.run()]
    assert len(losses) == 8 and evaluate(model, corpus.train) < before - 0.1


def test_a_diverging_learning_rate_is_caught_before_the_update():
    model, corpus = fresh()
    with torch.no_grad():
        model.W3.mul_(1e4)  # logits in the thousands: the loss is far above anything a learning model has
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = Trainer(model, corpus, TrainConfig(steps=2, batch_size=1, lr=0.3))
    with pytest.raises(CharlmError, match="diverged"):
        next(trainer.run())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # nothing was moved


def test_checkpoint_round_trip_gives_identical_logits(tmp_path):
    model, corpus = fresh()
    Trainer(model, corpus, TrainConfig(steps=2, batch_size=1, lr=0.3, eval_interval=2, eval_tokens=64))
    x = get_batch(corpus.train, 2, 8, torch.Generator().manual_seed(1))[0]
    save_checkpoint(tmp_path / "c", model)
    loaded = load_checkpoint(tmp_path / "c").model
    assert type(loaded) is ValueMLP and loaded.config == model.config
    assert torch.equal(loaded(x)[0], model(x)[0])


def test_a_run_that_would_take_hours_is_refused_with_the_time(text_file, capsys):
    with pytest.raises(CharlmError, match=r"about [\d.]+ hours.*numpy-mlp.*mlp --activation relu") as e:
        new_trainer(TEXT, "text", "value-mlp", TrainConfig(steps=200))  # the course's sizes, batch 32
    assert "\n" not in str(e.value)
    new_trainer(TEXT, "text", "value-mlp", TrainConfig(steps=2, batch_size=1), **SMALL)  # small: allowed
    assert main(["train", str(text_file), "--model", "value-mlp", "--out", str(text_file.parent / "o")]) == 2
    err = capsys.readouterr().err
    assert "hours" in err and "numpy-mlp" in err and not (text_file.parent / "o").exists()


def test_the_graph_of_a_tiny_model_is_drawn_node_by_node():
    model = charlm.graph.tiny_value_mlp(block_size=2, n_embd=2, n_hidden=4, chars="abcde")
    graph = charlm.graph.loss_graph(model, "ab", "c", render=False)
    # leaves: 2 characters x 2 embedding numbers, W1 4x4 + 4, W2 4x4 + 4, W3 5x4 + 5 and the max; per
    # hidden unit 4 products, a sum and a relu (2 layers), per logit 4 products and a sum; the loss:
    # 5 subtractions and exps, a sum, a log, + max, - the target's logit
    leaves = 4 + (16 + 4) + (16 + 4) + (20 + 5) + 1
    assert graph.nodes == leaves + 2 * 4 * 6 + 5 * 5 + (5 + 5 + 1 + 1 + 1 + 1) == 157
    assert graph.counts["relu"] == 8 and graph.counts["weight"] == 69 and sum(graph.counts.values()) == 157
    # an edge from each input of each operation: products 2, sums 5 (a bias and 4 products; the loss's
    # sum 5 exps), relu and exp and log 1, subtractions and the addition 2
    edges = 52 * 2 + 13 * 5 + 5 + 8 + 5 + 1 + 6 * 2 + 2
    assert graph.dot.count("[label=") == 157 and graph.dot.count(" -> ") == edges
    assert "out = max(a, 0);  ∂out/∂a = 1 if a &gt; 0, else 0" in graph.dot and "W1[0,1]" in graph.dot
    assert graph.loss == pytest.approx(value_loss(value_weights(model.weights()), [0, 1], 2).data)
    assert graph.svg is None


def test_the_graph_renders_to_svg_with_tooltips_and_escaped_labels():
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed here (CI installs it)")
    model = charlm.graph.tiny_value_mlp(chars='a"<&>\\')
    graph = charlm.graph.loss_graph(model, '"<', "&")
    svg = ET.fromstring(graph.svg)  # well-formed despite quotes, <, & and backslashes in the labels
    text = "".join(svg.itertext())
    assert "C['\"'][0]" in text and "C['<'][1]" in text
    # each node's tooltip, which the browser shows on hover: its local derivative rule
    tooltips = [
        a.get("{http://www.w3.org/1999/xlink}title") for a in svg.iter("{http://www.w3.org/2000/svg}a")
    ]
    assert sum("∂out/∂a = b" in t for t in tooltips) == graph.counts["*"] == 2 * 16 + 6 * 4
    assert len(svg.findall(".//{http://www.w3.org/2000/svg}g[@class='node']")) == graph.nodes


def test_a_larger_graph_is_summarised_and_a_missing_dot_is_named(monkeypatch):
    graph = charlm.graph.loss_graph(charlm.graph.tiny_value_mlp(8, 8, 16), "abcabcab", "c")
    assert graph.dot is None and graph.svg is None and graph.nodes > charlm.graph.MAX_NODES
    assert graph.counts["*"] == 8 * 8 * 16 + 16 * 16 + 5 * 16
    monkeypatch.setattr(charlm.graph.shutil, "which", lambda name: None)
    with pytest.raises(CharlmError, match="install graphviz"):
        charlm.graph.loss_graph(charlm.graph.tiny_value_mlp(), "ab", "c")
    with pytest.raises(CharlmError, match="not in the model's vocabulary"):
        charlm.graph.loss_graph(charlm.graph.tiny_value_mlp(), "xy", "c", render=False)


def test_mlp_takes_a_relu_activation_and_refuses_another_by_name(capsys, text_file):
    corpus = Corpus.from_text(TEXT, "text")
    torch.manual_seed(0)
    relu = build_model(model_config("mlp", chars=corpus.vocab.chars, n_layer=2, activation="relu"))
    assert sum(isinstance(m, torch.nn.ReLU) for m in relu.modules()) == 2
    assert not any(isinstance(m, torch.nn.Tanh) for m in relu.modules())
    assert model_config("mlp", chars="ab").activation == "tanh"  # the default, as before
    x, y = get_batch(corpus.train, 4, 8, torch.Generator().manual_seed(0))
    assert torch.isfinite(relu(x, y)[1])
    with pytest.raises(CharlmError, match=r"activation.*tanh, relu.*'sigmoid'"):
        model_config("mlp", chars="ab", activation="sigmoid")
    setting = next(s for s in model_class("mlp").settings() if s.name == "activation")
    assert setting.choices == ("tanh", "relu") and setting.check("relu") == "relu"
    with pytest.raises(CharlmError, match="Activation"):
        setting.check("gelu")
    with pytest.raises(SystemExit):
        main(["train", str(text_file), "--model", "mlp", "--activation", "sigmoid"])
    assert "invalid choice: 'sigmoid'" in capsys.readouterr().err
