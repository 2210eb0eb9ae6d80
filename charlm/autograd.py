"""A scalar autograd engine: a `Value` remembers the values it was computed from and its local
derivatives with respect to each, and `backward()` applies the chain rule over the graph."""

import gc
import math
from collections.abc import Iterator
from contextlib import contextmanager


class Value:
    """One number in a computation: its data, its gradient (d loss / d this, after `backward`), the
    values it came from (`prev`), the operation that made it (`op`) and its local derivatives
    (`local[i]` = d this / d prev[i], worked out when the value is computed, for backward to use)."""

    __slots__ = ("data", "grad", "prev", "op", "local")

    def __init__(self, data: float, prev: tuple = (), op: str = "", local: tuple = ()):
        self.data = data
        self.grad = 0.0
        self.prev = prev
        self.op = op
        self.local = local

    def __repr__(self) -> str:
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g}, op={self.op!r})"

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data + other.data, (self, other), "+", (1.0, 1.0))  # d(a+b)/da = d(a+b)/db = 1

    def __sub__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data - other.data, (self, other), "-", (1.0, -1.0))  # d(a-b)/da = 1, /db = -1

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data * other.data, (self, other), "*", (other.data, self.data))  # d(ab)/da = b

    def __truediv__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        a, b = self.data, other.data
        return Value(a / b, (self, other), "/", (1 / b, -a / b**2))  # d(a/b)/da = 1/b, /db = -a/b²

    def __pow__(self, n: float):
        if isinstance(n, Value):
            raise TypeError("Value ** Value is not supported; the exponent must be a number")
        return Value(self.data**n, (self,), f"**{n:g}", (n * self.data ** (n - 1),))  # d(aⁿ)/da = n·aⁿ⁻¹

    def __neg__(self):
        return self * -1.0

    def __radd__(self, other):
        return self + other

    def __rsub__(self, other):
        return Value(other) - self

    def __rmul__(self, other):
        return self * other

    def __rtruediv__(self, other):
        return Value(other) / self

    def exp(self):
        e = math.exp(self.data)
        return Value(e, (self,), "exp", (e,))  # d(eᵃ)/da = eᵃ, the output itself

    def log(self):
        return Value(math.log(self.data), (self,), "log", (1 / self.data,))  # d(ln a)/da = 1/a

    def tanh(self):
        t = math.tanh(self.data)
        return Value(t, (self,), "tanh", (1 - t * t,))  # d(tanh a)/da = 1 - tanh²a

    def relu(self):
        on = self.data > 0
        return Value(self.data if on else 0.0, (self,), "relu", (1.0 if on else 0.0,))  # 1 if a > 0, else 0

    def backward(self) -> None:
        """Add to `grad` of every value this one depends on: d self / d that value. Gradients add up, as
        PyTorch's do, so several losses sharing the same weights can each run backward in turn."""
        self.grad += 1.0
        # outputs before inputs: by the time a value passes its grad on, every use of it has added in
        for v in reversed(topological_order(self)):
            for p, d in zip(v.prev, v.local):
                p.grad += d * v.grad  # the chain rule, summed over every path through v


def add_all(values: list) -> Value:
    """The sum of many values as one node (a neuron's weighted inputs): half the nodes of a chain of `+`."""
    values = [v if isinstance(v, Value) else Value(v) for v in values]
    return Value(sum(v.data for v in values), tuple(values), "sum", (1.0,) * len(values))  # each: 1


def topological_order(root: Value) -> list[Value]:
    """Every value `root` depends on, each after all the values it came from. Iterative (an explicit
    stack, not recursion), so a graph of millions of values never reaches Python's recursion limit."""
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        v, expanded = stack.pop()
        if expanded:  # every input of v is already in order
            order.append(v)
        elif v not in seen:
            seen.add(v)
            stack.append((v, True))
            stack.extend((p, False) for p in v.prev if p not in seen)
    return order


def cross_entropy(logits: list[Value], target: int) -> Value:
    """-log softmax(logits)[target] = log Σ exp(logits) - logits[target]. The largest logit is taken
    out first (a constant: it changes no gradient) so that exp cannot overflow."""
    m = Value(max(v.data for v in logits))
    return (add_all([(v - m).exp() for v in logits]).log() + m) - logits[target]


@contextmanager
def no_cycle_collection() -> Iterator[None]:
    """Build and run big graphs with Python's cycle collector paused. Values never form cycles, so
    reference counting frees them; the collector would only walk the millions of live Values over and
    over (it made building a graph about seven times slower)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
