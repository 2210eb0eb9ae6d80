"""Single units, as in Karpathy's char-rnn essay: every unit's activation on every character of a text,
simple named features of that text, and the units ranked by how strongly they follow each feature."""

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

from charlm.errors import CharlmError
from charlm.inside.reading import Reading, evaluating, last_block, read
from charlm.models import CharLM
from charlm.models.mlp import MLP
from charlm.models.numpy_models import NumpyMLP
from charlm.models.rnn import RecurrentLM
from charlm.models.transformer import Transformer
from charlm.models.value_mlp import LAYERS as VALUE_LAYERS
from charlm.models.value_mlp import ValueMLP

OPEN, CLOSE = "([{", ")]}"
QUOTES = '"“”«»'


@dataclass
class UnitScore:
    layer: str
    unit: int
    correlation: float  # Pearson's r between the unit's activation and the feature, over the text


@dataclass
class Neurons:
    """Activations of every unit on every character shown: layers[name][t, unit] after reading char t."""

    layers: dict[str, np.ndarray]  # name -> (T, units)
    labels: list[str]  # the characters shown, as vocab.label draws them
    chars: list[str]  # the same characters as running text
    features: dict[str, np.ndarray]  # name -> (T,) float
    ranking: dict[str, list[UnitScore]]  # feature -> the units that follow it best, strongest first
    notes: list[str]


def _recurrent_units(model: RecurrentLM, ids: torch.Tensor) -> dict[str, np.ndarray]:
    # torch's cell returns only the top layer's outputs and the final state, so step one character at a
    # time to read every layer's hidden state (and the LSTM's cell state) after each character
    x = model.wte(ids[None])  # (1, T, n_embd)
    state, hs, cs = None, [], []
    for t in range(x.size(1)):
        _, state = model.cell(x[:, t : t + 1], state)
        h, c = state if isinstance(state, tuple) else (state, None)
        hs.append(h[:, 0])  # (n_layer, H)
        if c is not None:
            cs.append(c[:, 0])
    L = model.config.n_layer
    name = (lambda i, what: what) if L == 1 else (lambda i, what: f"layer {i + 1} {what}")
    out = {name(i, "hidden"): torch.stack(hs)[:, i].numpy() for i in range(L)}
    if cs:
        out |= {name(i, "cell"): torch.stack(cs)[:, i].numpy() for i in range(L)}
    return out


def _hooked_units(model: CharLM, ids: torch.Tensor, modules: dict[str, nn.Module]) -> dict[str, np.ndarray]:
    """The outputs of `modules` while the model reads ids, captured by forward hooks."""
    out = {}

    def keep(name: str):
        return lambda module, inputs, output: out.__setitem__(name, output[0].float().cpu().numpy())

    handles = [m.register_forward_hook(keep(name)) for name, m in modules.items()]
    try:
        model(ids[None])
    finally:
        for h in handles:
            h.remove()
    return {name: out[name] for name in modules}


def _mlp_units(model: MLP, ids: torch.Tensor) -> dict[str, np.ndarray]:
    tanhs = [m for m in model.hidden if isinstance(m, nn.Tanh)]
    names = ["hidden (tanh)"] if len(tanhs) == 1 else [f"hidden {i + 1} (tanh)" for i in range(len(tanhs))]
    return _hooked_units(model, ids, dict(zip(names, tanhs)))


def _transformer_units(model: Transformer, ids: torch.Tensor) -> dict[str, np.ndarray]:
    gelus = {
        f"block {i + 1} MLP (GELU)": next(m for m in block.mlp if isinstance(m, nn.GELU))
        for i, block in enumerate(model.h)
    }
    return _hooked_units(model, ids, gelus)


def _numpy_mlp_units(model: NumpyMLP, ids: torch.Tensor) -> dict[str, np.ndarray]:
    _, (_, _, h) = model.numpy_forward(model.weights(), model.contexts(ids[None].cpu())[0])
    return {"hidden (tanh)": np.asarray(h, dtype=np.float32)}


def _value_mlp_units(model: ValueMLP, ids: torch.Tensor) -> dict[str, np.ndarray]:
    """The two relu layers of the scalar-autograd MLP, read on whole arrays (as its decode reads them)."""
    p = model.weights()
    x = p["C"][model.contexts(ids[None].cpu())[0]].reshape(len(ids), -1)
    layers = {}
    for i, (W, b) in enumerate(VALUE_LAYERS, start=1):
        x = np.maximum(x @ p[W].T + p[b], 0)
        layers[f"hidden {i} (relu)"] = np.asarray(x, dtype=np.float32)
    return layers


# rung -> how to read its units; the transformer reads one block, the others any length
UNITS: dict[type, Callable[[CharLM, torch.Tensor], dict[str, np.ndarray]]] = {
    RecurrentLM: _recurrent_units,
    MLP: _mlp_units,
    NumpyMLP: _numpy_mlp_units,
    ValueMLP: _value_mlp_units,
    Transformer: _transformer_units,
}


def unit_reader(model: CharLM) -> Callable[[CharLM, torch.Tensor], dict[str, np.ndarray]]:
    reader = next((f for cls, f in UNITS.items() if isinstance(model, cls)), None)
    if reader is None:
        raise CharlmError(
            f"the {model.config.model_type} has no hidden units (it maps a character straight to a table "
            "row); train an MLP, an RNN, a GRU, an LSTM or a transformer."
        )
    return reader


def text_features(chars: list[str]) -> dict[str, np.ndarray]:
    """Named features of each character of running text ("\\n" and "" both start a line).

    Quotes and brackets: 1 from an opening character up to, not including, its closing one.
    """
    T = len(chars)
    f = {name: np.zeros(T) for name in FEATURES}
    pos, depth, quoted, prev = 0, 0, False, "\n"
    for t, c in enumerate(chars):
        newline = c in ("\n", "")
        f["vowel"][t] = c.isalpha() and unicodedata.normalize("NFD", c)[0].lower() in "aeiou"
        f["space"][t] = c == " "
        f["upper case"][t] = c.isupper()
        f["position in line"][t] = pos
        f["after newline"][t] = prev in ("\n", "")
        if c in OPEN:
            depth += 1
        elif c in CLOSE:
            depth = max(0, depth - 1)
        if c in QUOTES:
            quoted = not quoted
        f["in quotes or brackets"][t] = (
            (depth > 0 or quoted) and c not in CLOSE and not (c in QUOTES and not quoted)
        )
        pos = 0 if newline else pos + 1
        prev = c
    return f


FEATURES = ("vowel", "space", "position in line", "in quotes or brackets", "after newline", "upper case")


def correlations(acts: np.ndarray, feature: np.ndarray) -> np.ndarray:
    """Pearson's r of each column of acts (T, U) with feature (T,); 0 for a constant unit."""
    a = acts - acts.mean(0)
    f = feature - feature.mean()
    denom = np.sqrt((a**2).sum(0)) * np.sqrt((f**2).sum())
    return np.where(denom > 1e-12, (f @ a) / np.maximum(denom, 1e-30), 0.0)


def rank_units(
    layers: dict[str, np.ndarray], features: dict[str, np.ndarray], top: int = 10
) -> tuple[dict[str, list[UnitScore]], list[str]]:
    """For each feature, the `top` units of all layers with the largest |r|; and notes naming the
    features the text does not vary (no upper case at all, say), which rank nothing."""
    ranking, notes = {}, []
    for name, f in features.items():
        if f.std() == 0:
            ranking[name] = []
            notes.append(f"“{name}” is the same on every character of this text, so no unit can follow it.")
            continue
        scores = [(layer, u, r) for layer, a in layers.items() for u, r in enumerate(correlations(a, f))]
        scores.sort(key=lambda s: -abs(s[2]))
        ranking[name] = [UnitScore(layer, int(u), float(r)) for layer, u, r in scores[:top]]
    return ranking, notes


def neurons(model: CharLM, text: str | Reading, top: int = 10) -> Neurons:
    """Every unit's activation on each character of `text`, and the `top` units per feature.

    Recurrent models, MLPs and the NumPy MLP read the whole text (windowed models see their window at
    each character); the transformer reads its last block_size characters, and the notes say so.
    """
    reader = unit_reader(model)
    reading = text if isinstance(text, Reading) else read(model, text)
    features = text_features(reading.chars)
    start, notes = 0, list(reading.notes)
    ids = reading.ids
    if isinstance(model, Transformer):
        ids, start, notes = last_block(reading, model.config.block_size, "transformer")
    with evaluating(model):
        layers = reader(model, ids.to(model.device))
    features = {name: f[start:] for name, f in features.items()}
    ranking, more = rank_units(layers, features, top)
    return Neurons(layers, reading.labels[start:], reading.chars[start:], features, ranking, notes + more)
