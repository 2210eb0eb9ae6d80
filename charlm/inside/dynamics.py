"""Training dynamics as makemore's lectures plot them, recorded while a model trains: the gradient's
norm, the learning rate, each weight matrix's update-to-weight ratio, and saturated or dead units."""

import math

import torch
import torch.nn as nn

from charlm.errors import CharlmError
from charlm.models import CharLM
from charlm.train import Progress

SATURATED = 0.97  # |tanh| above this passes back less than 6% of the gradient (1 - 0.97²)


def _saturation(module: nn.Module, inputs: tuple, output) -> float:
    """The share of a layer that is stuck: saturated tanh outputs, or units dead on the whole batch."""
    if isinstance(module, nn.ReLU):
        return float((output <= 0).flatten(0, -2).all(0).float().mean())
    if isinstance(module, nn.GELU):  # GELU is never flat, but a unit whose input is always negative is off
        return float((inputs[0] < 0).flatten(0, -2).all(0).float().mean())
    out = output[0] if isinstance(output, tuple) else output  # a recurrent cell: its hidden states
    return float((out.abs() > SATURATED).float().mean())


def _kind(module: nn.Module) -> str:
    if isinstance(module, nn.ReLU | nn.GELU):
        return "dead units (input below 0 on the whole batch)"
    if isinstance(module, nn.RNNBase):
        return f"hidden states with |h| > {SATURATED}"
    return f"saturated tanh outputs (|t| > {SATURATED})"


class Dynamics:
    """Records training statistics every `every` steps. Call it with every Progress event:

        dynamics = Dynamics(trainer.model, every=10)
        for event in trainer.run():
            dynamics(event)
        dynamics.close()  # removes its hooks; what it recorded stays

    It arms itself for the next step to record (the first step, then every `every`-th and the last):
    it copies the weight matrices and hooks into the model: during that step a gradient hook sums the
    squared gradients as backward accumulates them (the norm before clipping), and forward hooks on tanh,
    ReLU, GELU and recurrent layers measure the share of saturated or dead units on that batch. The
    hooks come off after it, so the steps between run as they would without the recorder. Then:

    - `grad_norm`: the global gradient norm, before clipping;
    - `ratio[name]`: the update-to-weight ratio of each weight matrix, std(W_after - W_before) / std(W_before):
      the update actually made (by AdamW, with clipping and weight decay), not lr · std(grad) / std(W),
      which is only right for plain SGD;
    - `lr`, `loss`: the event's; `saturation[name]`: see `kinds[name]`.

    Past `max_records` it keeps every other record and doubles `every`, so memory stays bounded.
    """

    def __init__(self, model: CharLM, every: int = 10, max_records: int = 500):
        if model.trained_by_counting or model.trains_itself:
            how = "is counted, not trained" if model.trained_by_counting else "computes its gradients by hand"
            raise CharlmError(
                f"the {model.config.model_type} {how}; training dynamics are recorded for the PyTorch rungs "
                "trained by gradient descent (neural bigram, MLP, RNN, GRU, LSTM, transformer)."
            )
        if every < 1:
            raise CharlmError(f"every must be at least 1, not {every!r}.")
        self.model, self.every, self.max_records = model, every, max_records
        self.matrices = {n: p for n, p in model.named_parameters() if p.requires_grad and p.dim() >= 2}
        layers = {
            n: m for n, m in model.named_modules() if isinstance(m, nn.Tanh | nn.ReLU | nn.GELU | nn.RNNBase)
        }
        self.kinds = {n: _kind(m) for n, m in layers.items()}
        self.steps: list[int] = []
        self.lr: list[float] = []
        self.loss: list[float] = []
        self.grad_norm: list[float] = []
        self.ratio: dict[str, list[float]] = {n: [] for n in self.matrices}
        self.saturation: dict[str, list[float]] = {n: [] for n in layers}
        self._layers = layers
        self._handles: list = []
        self._arm()

    def _arm(self) -> None:
        self._handles = [m.register_forward_hook(self._forward_hook(n)) for n, m in self._layers.items()]
        self._handles += [
            p.register_post_accumulate_grad_hook(self._grad_hook)
            for p in self.model.parameters()
            if p.requires_grad
        ]
        self._armed = True
        self._before = {n: p.detach().clone() for n, p in self.matrices.items()}
        self._squares = 0.0
        self._grads = 0
        self._stuck: dict[str, float] = {}

    def _forward_hook(self, name: str):
        def hook(module: nn.Module, inputs: tuple, output) -> None:
            # only the training forward of the armed step: evaluation runs without gradients
            if self._armed and torch.is_grad_enabled() and name not in self._stuck:
                with torch.no_grad():
                    self._stuck[name] = _saturation(module, inputs, output)

        return hook

    def _grad_hook(self, p: torch.Tensor) -> None:
        if self._armed and p.grad is not None:
            self._squares += float(p.grad.detach().float().pow(2).sum())
            self._grads += 1

    def __call__(self, event: Progress) -> None:
        if self._armed:
            self._disarm()
            if self._grads:  # else no step ran since arming (a resumed or stopped run): nothing to record
                self._record(event)
        upcoming = event.step + 1
        if upcoming % self.every == 0 or upcoming == event.steps:
            self._arm()

    def _record(self, event: Progress) -> None:
        self.steps.append(event.step)
        self.lr.append(event.lr)
        self.loss.append(event.train_loss)
        self.grad_norm.append(math.sqrt(self._squares))
        with torch.no_grad():
            for n, p in self.matrices.items():
                before = self._before[n].float()
                scale = float(before.std())  # 0 for a table that starts at zero (the neural bigram's)
                change = float((p.detach().float() - before).std())
                self.ratio[n].append(change / scale if scale > 0 else math.nan)
        for n, series in self.saturation.items():
            series.append(self._stuck.get(n, math.nan))
        self._before = {}
        if len(self.steps) > self.max_records:
            self.every *= 2
            for series in [
                self.steps,
                self.lr,
                self.loss,
                self.grad_norm,
                *self.ratio.values(),
                *self.saturation.values(),
            ]:
                series[:] = series[::2]

    def _disarm(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []
        self._armed = False

    def close(self) -> None:
        """Remove the hooks from the model (the records stay): call it when training stops early."""
        self._disarm()
