"""The scalar-autograd rung: the "from scratch" courses' character MLP (two relu layers) in which every
number of the forward and backward pass is a `charlm.autograd.Value`; and what its slowness costs."""

# No `from __future__ import annotations`: PyTorchModelHubMixin reads the raw config annotation.
from dataclasses import dataclass

import numpy as np
import torch

from charlm.autograd import Value, add_all, cross_entropy, no_cycle_collection
from charlm.errors import CharlmError
from charlm.models.base import ModelConfig, setting
from charlm.models.mlp import MLP, MLPConfig
from charlm.models.numpy_models import NumpyLM

# Seconds per Value of an example's graph, forward and backward, as bench/value_mlp.py measured on one
# busy core of the development machine: about 1.5 µs in batches, 3 µs one example per step (when every
# step makes the weights' Values afresh). An estimate of the order of magnitude, not a promise.
SECONDS_PER_NODE = 2.5e-6
BUDGET_SECONDS = 3600.0  # a run estimated longer than this is refused before it starts
LAYERS = (("W1", "b1"), ("W2", "b2"))  # the relu layers; ("W3", "b3") reads out the logits


def value_weights(p: dict[str, np.ndarray]) -> dict[str, list]:
    """Every weight as a leaf Value, in nested lists shaped like its array (a layer's rows are its units)."""
    return {
        name: [[Value(x) for x in row] for row in w.tolist()]
        if w.ndim == 2
        else [Value(x) for x in w.tolist()]
        for name, w in p.items()
    }


def neuron(weights: list[Value], bias: Value, x: list[Value]) -> Value:
    """One unit: bias + Σ weight·input, as one sum node over the products."""
    return add_all([bias, *[w * xi for w, xi in zip(weights, x)]])


def value_logits(w: dict[str, list], ctx: list[int]) -> list[Value]:
    """The logits after one context (block_size token ids, oldest first), every number a Value."""
    x = [v for c in ctx for v in w["C"][c]]  # the context's embeddings, concatenated
    for W, b in LAYERS:
        x = [neuron(row, bias, x).relu() for row, bias in zip(w[W], w[b])]
    return [neuron(row, bias, x) for row, bias in zip(w["W3"], w["b3"])]


def value_loss(w: dict[str, list], ctx: list[int], target: int, scale: float = 1.0) -> Value:
    """scale × the cross-entropy of one prediction, as the root of its Value graph."""
    loss = cross_entropy(value_logits(w, ctx), target)
    return loss if scale == 1 else loss * scale


def numpy_forward(p: dict[str, np.ndarray], ctx: np.ndarray) -> tuple[np.ndarray, None]:
    """The same network on whole arrays, for decoding and evaluation: what `value_logits` computes, fast."""
    x = p["C"][ctx].reshape(len(ctx), -1)  # (N, block_size * n_embd)
    for W, b in LAYERS:
        x = np.maximum(x @ p[W].T + p[b], 0)  # (N, n_hidden)
    return x @ p["W3"].T + p["b3"], None  # (N, V)


@dataclass
class ValueMLPConfig(ModelConfig):
    model_type: str = "value-mlp"
    block_size: int = setting(8)  # characters of context
    n_embd: int = setting(32)  # size of each character's embedding
    n_hidden: int = setting(128, "Width of each of the two relu hidden layers.")


class ValueMLP(NumpyLM):
    """Embeddings of the last block_size characters, concatenated, two relu layers, logits: each weight a
    float32 buffer between steps, and a leaf Value during one. `loss_and_grads` builds one example's
    graph at a time, runs backward and lets it go, so memory holds one graph, not a batch of them."""

    config_class = ValueMLPConfig
    title = "Scalar-autograd MLP"
    description = (
        "The character MLP of the from-scratch courses, with two relu layers, where every number is a "
        "scalar Value that remembers how it was made and backpropagates through that graph. Thousands of "
        "times slower than numpy-mlp or mlp: keep it tiny. See *From scratch*."
    )
    twin_model = "mlp"  # with activation relu and n_layer 2
    default_lr = 0.3  # plain SGD on a batch mean: the courses' 0.01 is per example
    default_steps = 200
    # every number a Value: the playground starts it tiny, a few hundred small steps in a minute or two
    playground_settings = {"block_size": 3, "n_embd": 8, "n_hidden": 16}
    playground_batch_size = 4
    numpy_forward = staticmethod(numpy_forward)
    formulas = {
        "C": "dC[c] = Σ over the positions reading c of the grads of its inputs to layer 1",
        "W1": "dW1[j, i] = Σ_examples x[i] · dpre1[j], dpre1 = (pre1 > 0) ⊙ dh1",
        "b1": "db1[j] = Σ_examples dpre1[j]",
        "W2": "dW2[j, i] = Σ_examples h1[i] · dpre2[j], dpre2 = (pre2 > 0) ⊙ dh2",
        "b2": "db2[j] = Σ_examples dpre2[j]",
        "W3": "dW3[v, i] = Σ_examples h2[i] · dlogits[v], dlogits = (softmax − onehot(y)) / N",
        "b3": "db3[v] = Σ_examples dlogits[v]",
    }
    twin = {  # weight -> (name in mlp with activation relu and n_layer 2, stored transposed)
        "C": ("wte.weight", False),
        "W1": ("hidden.0.weight", False),
        "b1": ("hidden.0.bias", False),
        "W2": ("hidden.3.weight", False),
        "b2": ("hidden.3.bias", False),
        "W3": ("lm_head.weight", False),
        "b3": ("lm_head.bias", False),
    }

    def __init__(self, config: ValueMLPConfig):
        super().__init__()
        self.config = config
        V, E, H = config.vocab_size, config.n_embd, config.n_hidden
        fan_in = config.block_size * E
        # laid out as nn.Linear's (out, in), so a row is one unit's weights. Kaiming's scale for relu
        # layers (sqrt(2 / fan_in): relu zeroes half its inputs) and small output weights, so the loss
        # starts near ln(V) and plain SGD neither stalls nor blows up
        self.register_buffer("C", torch.randn(V, E))
        self.register_buffer("W1", torch.randn(H, fan_in) * (2 / fan_in) ** 0.5)
        self.register_buffer("b1", torch.zeros(H))
        self.register_buffer("W2", torch.randn(H, H) * (2 / H) ** 0.5)
        self.register_buffer("b2", torch.zeros(H))
        self.register_buffer("W3", torch.randn(V, H) * 0.01)
        self.register_buffer("b3", torch.zeros(V))

    def hand_gradients(
        self, p: dict[str, np.ndarray], ctx: np.ndarray, targets: np.ndarray
    ) -> tuple[float, dict[str, np.ndarray]]:
        """The mean loss over the predictions with a target (not -1) and each weight's gradient, by scalar
        autograd: one example's graph at a time, each adding its share to the weights' grads."""
        keep = [i for i, t in enumerate(targets.tolist()) if t != -1]
        w = value_weights(p)
        total = 0.0
        with no_cycle_collection():
            for i in keep:
                loss = value_loss(w, ctx[i].tolist(), int(targets[i]), 1 / len(keep))
                loss.backward()
                total += loss.data
        grads = {name: np.array(nested_grads(w[name]), dtype=p[name].dtype) for name in p}
        return total, grads

    @classmethod
    def nodes_per_example(cls, config: ValueMLPConfig) -> int:
        """How many Values one prediction's graph holds (every context character distinct)."""
        V, H, fan_in = config.vocab_size, config.n_hidden, config.block_size * config.n_embd
        connections = H * fan_in + H * H + V * H
        # each weight a leaf and its product with an input; the context's embeddings; per unit a bias
        # and a sum, and per hidden unit a relu; the loss: the max, V subtractions and exps, a sum, log,
        # add the max back, subtract the target's logit, times the scale (a leaf and a product)
        return 2 * connections + fan_in + 2 * (2 * H + V) + 2 * H + (2 * V + 5) + 2

    @classmethod
    def estimated_seconds(cls, config: ValueMLPConfig, steps: int, examples_per_step: int) -> float:
        """About how long `steps` steps of `examples_per_step` predictions each take on a machine like
        the development one."""
        return cls.nodes_per_example(config) * examples_per_step * steps * SECONDS_PER_NODE

    def check_budget(self, steps: int, examples_per_step: int) -> None:
        seconds = self.estimated_seconds(self.config, steps, examples_per_step)
        if seconds > BUDGET_SECONDS:
            per_step = seconds / steps
            fit = int(BUDGET_SECONDS // per_step)
            raise CharlmError(
                f"value-mlp would take about {duration(seconds)} here ({steps:,} steps of {examples_per_step:,} "
                f"predictions, {self.nodes_per_example(self.config):,} scalar Values each, "
                f"{duration(per_step)} a step): use fewer steps ({fit:,} fit in an hour), a smaller batch or sizes, "
                "or train the same network with numpy-mlp, or with mlp --activation relu --n-layer 2."
            )

    def flops_per_token(self, T: int) -> float:
        c = self.config
        return 6.0 * (c.block_size * c.n_embd * c.n_hidden + c.n_hidden**2 + c.n_hidden * c.vocab_size)

    def torch_twin(self) -> MLP:
        c = self.config
        config = MLPConfig(
            chars=c.chars,
            mode=c.mode,
            block_size=c.block_size,
            n_embd=c.n_embd,
            n_hidden=c.n_hidden,
            n_layer=2,
            activation="relu",
        )
        return self._load_twin(MLP(config))


def nested_grads(values: list) -> list:
    return [nested_grads(v) if isinstance(v, list) else v.grad for v in values]


def duration(seconds: float) -> str:
    """3.2 hours, 14 minutes, 2.5 seconds."""
    if seconds >= 5400:
        return f"{seconds / 3600:.1f} hours"
    if seconds >= 90:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds:.2g} seconds"
