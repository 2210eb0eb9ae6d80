"""charlm.autograd against the oracle, PyTorch autograd in float64: random expressions built from every
operation, a graph deeper than Python's recursion limit, a stable cross-entropy, a broken rule caught."""

import math
import random

import pytest
import torch

from charlm.autograd import Value, add_all, cross_entropy, topological_order

# name -> (the operation on Values, the same on torch tensors, whether it may take this input)
UNARY = {
    "exp": (lambda a: a.exp(), torch.exp, lambda x: x < 3),
    "log": (lambda a: a.log(), torch.log, lambda x: x > 0.2),
    "tanh": (lambda a: a.tanh(), torch.tanh, lambda x: True),
    "relu": (lambda a: a.relu(), torch.relu, lambda x: abs(x) > 1e-3),
    "square": (lambda a: a**2, lambda t: t**2, lambda x: abs(x) < 10),
    "sqrt": (lambda a: a**0.5, lambda t: t**0.5, lambda x: x > 0.2),
    "inverse": (lambda a: a**-1, lambda t: t**-1, lambda x: abs(x) > 0.3),
    "neg": (lambda a: -a, lambda t: -t, lambda x: True),
    "2-a": (lambda a: 2.0 - a, lambda t: 2.0 - t, lambda x: True),
    "3/a": (lambda a: 3.0 / a, lambda t: 3.0 / t, lambda x: abs(x) > 0.3),
    "1.5*a": (lambda a: 1.5 * a, lambda t: 1.5 * t, lambda x: True),
    "a+0.5": (lambda a: 0.5 + a, lambda t: 0.5 + t, lambda x: True),
}
BINARY = {
    "+": (lambda a, b: a + b, lambda y: True),
    "-": (lambda a, b: a - b, lambda y: True),
    "*": (lambda a, b: a * b, lambda y: True),
    "/": (lambda a, b: a / b, lambda y: abs(y) > 0.3),
}


def random_expression(seed: int, rounds: int = 4):
    """The same random expression built twice, on Values and on float64 tensors, using every operation
    `rounds` times (in a random order, on random earlier results): (leaves, tensors, root, torch root)."""
    rng = random.Random(seed)
    leaves = [Value(rng.uniform(-2, 2)) for _ in range(5)]
    tensors = [torch.tensor(v.data, dtype=torch.float64, requires_grad=True) for v in leaves]
    pool = list(zip(leaves, tensors))
    ops = [*UNARY, *BINARY, "sum"] * rounds
    rng.shuffle(ops)
    for op in ops:
        a, ta = rng.choice(pool)
        if op == "sum":
            picked = rng.sample(pool, 3)
            pool.append((add_all([v for v, _ in picked]), sum(t for _, t in picked)))
        elif op in BINARY:
            fn, ok = BINARY[op]
            b, tb = next(((b, tb) for b, tb in rng.sample(pool, len(pool)) if ok(b.data)), (Value(1.0), 1.0))
            pool.append((fn(a, b), fn(ta, tb)))
        else:
            fn, tfn, ok = UNARY[op]
            if not ok(a.data):
                a, ta = a.tanh() + 1.5, torch.tanh(ta) + 1.5  # in (0.5, 2.5): every operation takes it
            pool.append((fn(a), tfn(ta)))
        if abs(pool[-1][0].data) > 1e6:  # keep the numbers tame: squash what grew too large
            v, t = pool.pop()
            pool.append((v.tanh(), torch.tanh(t)))
    root = add_all([v for v, _ in pool[-6:]])
    troot = sum(t for _, t in pool[-6:])
    return leaves, tensors, root, troot


def largest_gradient_error(seed: int) -> float:
    """|Value grad - torch grad| at worst over the leaves of one random expression (relative to 1 + |grad|)."""
    leaves, tensors, root, troot = random_expression(seed)
    root.backward()
    troot.backward()
    assert root.data == pytest.approx(troot.item(), rel=1e-12, abs=1e-12)
    return max(
        abs(v.grad - (t.grad.item() if t.grad is not None else 0.0)) / (1 + abs(v.grad))
        for v, t in zip(leaves, tensors)
    )


@pytest.mark.parametrize("seed", range(20))
def test_gradients_of_random_expressions_equal_torch_autograd(seed):
    assert largest_gradient_error(seed) < 1e-9


@pytest.mark.parametrize("op", ["*", "tanh", "relu", "exp", "log", "sum"])
def test_a_broken_local_derivative_is_caught(monkeypatch, op):
    """Double one operation's local derivatives: the comparison with torch must notice."""
    original_init = Value.__init__

    def broken_init(self, data, prev=(), op_name="", local=()):
        if op_name == op:
            local = tuple(2 * d for d in local)
        original_init(self, data, prev, op_name, local)

    monkeypatch.setattr(Value, "__init__", broken_init)
    assert max(largest_gradient_error(seed) for seed in range(5)) > 1e-3


def test_a_graph_deeper_than_the_recursion_limit():
    x = Value(0.5)
    y = x
    for _ in range(50_000):  # far deeper than sys.getrecursionlimit()
        y = y * 1.0 + 0.0
    y.backward()
    assert x.grad == 1.0 and len(topological_order(y)) == 1 + 50_000 * 4


def test_cross_entropy_is_stable_and_equals_torch():
    data = [1000.0, 999.0, -1000.0, 0.5]  # exp(1000) overflows a float: the max is taken out first
    logits = [Value(x) for x in data]
    t = torch.tensor(data, dtype=torch.float64, requires_grad=True)
    loss = cross_entropy(logits, 1)
    expected = torch.nn.functional.cross_entropy(t[None], torch.tensor([1]))
    expected.backward()
    loss.backward()
    assert math.isfinite(loss.data) and loss.data == pytest.approx(expected.item(), abs=1e-12)
    assert [v.grad for v in logits] == pytest.approx(t.grad.tolist(), abs=1e-12)


def test_gradients_add_up_over_backward_calls_as_in_torch():
    w = Value(3.0)
    for x in (1.0, 2.0):
        (w * x).backward()
    assert w.grad == 3.0  # 1 + 2: what per-example backward relies on to sum a batch's gradients


def test_a_power_must_be_a_number():
    with pytest.raises(TypeError, match="exponent"):
        Value(2.0) ** Value(3.0)
