"""The from-scratch rung: the neural bigram and the MLP in plain NumPy, with the forward pass, the
cross-entropy, the backward pass worked out by hand and the SGD update written out; and
`gradient_check`, which compares those gradients with PyTorch autograd's and with finite differences."""

# No `from __future__ import annotations`: PyTorchModelHubMixin reads the raw config annotation.
from dataclasses import dataclass

import numpy as np
import torch

from charlm.data import Corpus, get_batch
from charlm.errors import CharlmError
from charlm.models.base import CharLM, ModelConfig, private_rng, setting, with_window
from charlm.models.bigram import NeuralBigram, NeuralBigramConfig
from charlm.models.mlp import MLP, MLPConfig

# The maths: plain functions of a dict of weights `p` and integer contexts `ctx` (N, block_size).
# forward returns (logits, cache); backward takes the cache and dL/dlogits and returns dL/dweight.


def cross_entropy(logits: np.ndarray, targets: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean negative log-likelihood of `targets` (N,) under softmax(logits) (N, V), skipping targets
    of -1 (padding), and its gradient with respect to the logits."""
    keep = targets != -1
    n = max(int(keep.sum()), 1)
    shifted = logits - logits.max(axis=1, keepdims=True)  # the same softmax, without overflow in exp
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.flatnonzero(keep)
    loss = -log_probs[rows, targets[rows]].sum() / n
    # dL/dlogits = (softmax - onehot(target)) / N: raise every logit by its probability, lower the target's
    dlogits = np.exp(log_probs)
    dlogits[rows, targets[rows]] -= 1
    dlogits[~keep] = 0
    return float(loss), dlogits / n


def bigram_forward(p: dict, ctx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """logits = onehot(x) @ W: row x of the V x V table holds the logits of the character after x."""
    x = ctx[:, -1]  # (N,) the current character
    return p["W"][x], x  # (N, V)


def bigram_backward(p: dict, x: np.ndarray, dlogits: np.ndarray) -> dict:
    # dW = onehot(x)^T @ dlogits: row x collects the gradient of every position that read it
    dW = np.zeros_like(p["W"])
    np.add.at(dW, x, dlogits)
    return {"W": dW}


def mlp_forward(p: dict, ctx: np.ndarray) -> tuple[np.ndarray, tuple]:
    """Embed the block_size previous characters, concatenate, one tanh layer, then the logits."""
    N = ctx.shape[0]
    emb = p["C"][ctx].reshape(N, -1)  # (N, block_size * n_embd)
    h = np.tanh(emb @ p["W1"] + p["b1"])  # (N, n_hidden)
    logits = h @ p["W2"] + p["b2"]  # (N, V)
    return logits, (ctx, emb, h)


def mlp_backward(p: dict, cache: tuple, dlogits: np.ndarray) -> dict:
    ctx, emb, h = cache
    dW2 = h.T @ dlogits  # logits = h @ W2 + b2: a weight's gradient is its input times its output's gradient
    db2 = dlogits.sum(0)  # a bias adds to every row, so it collects the gradient of every row
    dh = dlogits @ p["W2"].T  # each hidden unit reaches every logit through its row of W2
    dpre = (1 - h**2) * dh  # through tanh: its derivative is 1 - tanh^2, which the forward pass already has
    dW1 = emb.T @ dpre  # the same rule as dW2, one layer down
    db1 = dpre.sum(0)
    demb = (dpre @ p["W1"].T).reshape(*ctx.shape, -1)  # (N, block_size, n_embd), split back per character
    dC = np.zeros_like(p["C"])
    np.add.at(dC, ctx, demb)  # an embedding row collects the gradient of every position that looked it up
    return {"C": dC, "W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


@dataclass
class NumpyBigramConfig(ModelConfig):
    model_type: str = "numpy-bigram"
    block_size: int = 1


@dataclass
class NumpyMLPConfig(ModelConfig):
    model_type: str = "numpy-mlp"
    block_size: int = setting(4)  # characters of context
    n_embd: int = setting(16)  # size of each character's embedding
    n_hidden: int = setting(128, "Width of the one tanh hidden layer.")


class NumpyLM(CharLM):
    """What the from-scratch rungs share (the NumPy models, and the scalar-autograd MLP). The weights are float32 torch buffers, so the registry, the
    safetensors checkpoints, `evaluate` and the sampler treat them like any rung, but every number is
    computed in NumPy on views of them: no autograd anywhere. float32 like the PyTorch rungs (the speed
    comparison is fair and checkpoints the same size); `gradient_check` recomputes in float64.

    The Trainer sees `trains_itself` and calls `loss_and_grads(x, y)`, then `sgd_step(grads, lr, clip)`,
    instead of autograd and AdamW. Plain SGD wants a far larger learning rate than AdamW: `default_lr`.
    """

    trains_itself = True
    windowed = True
    numpy_forward: staticmethod  # (p, ctx) -> (logits, cache)
    numpy_backward: staticmethod  # (p, cache, dlogits) -> grads
    formulas: dict[str, str] = {}  # weight -> its gradient in one line, for the app
    twin_model = ""  # the PyTorch rung it is built like, and compared with
    twin: dict[str, tuple[str, bool]] = {}  # weight -> (name in the PyTorch rung, stored transposed)

    def context_size(self) -> int:
        return self.config.block_size

    def weights(self) -> dict[str, np.ndarray]:
        """The weights as NumPy arrays sharing memory with the buffers: updating one updates the model."""
        if self.device.type != "cpu":
            raise CharlmError("the NumPy models compute on the CPU; load them with device cpu.")
        return {name: buf.detach().numpy() for name, buf in self.named_buffers()}

    def contexts(self, idx: torch.Tensor, state=None) -> tuple[np.ndarray, torch.Tensor]:
        """The window each position of idx (B, T) reads, as (B*T, context_size) ints, and the new state."""
        width = self.context_size()
        padded = with_window(idx.cpu(), state, width - 1, self.config.vocab.start_token)  # (B, width-1+T)
        ctx = padded.unfold(1, width, 1).reshape(-1, width)  # oldest character first
        return ctx.numpy(), padded[:, padded.size(1) - (width - 1) :]

    def decode(self, idx, state=None):
        ctx, state = self.contexts(idx, state)
        logits, _ = self.numpy_forward(self.weights(), ctx)
        B, T = idx.shape
        return torch.from_numpy(logits).view(B, T, -1).to(idx.device), state

    def loss_and_grads(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, dict[str, np.ndarray]]:
        """The loss of batch (x, y) and the gradient of every weight, all by hand."""
        return self.hand_gradients(self.weights(), self.contexts(x)[0], y.reshape(-1).cpu().numpy())

    def hand_gradients(
        self, p: dict[str, np.ndarray], ctx: np.ndarray, targets: np.ndarray
    ) -> tuple[float, dict[str, np.ndarray]]:
        """The loss of weights `p` on contexts `ctx` (N, context_size) and `targets` (N,), and each
        weight's gradient, computed the way this rung computes them: here the backward pass by hand."""
        logits, cache = self.numpy_forward(p, ctx)
        loss, dlogits = cross_entropy(logits, targets)
        return loss, self.numpy_backward(p, cache, dlogits)

    def sgd_step(self, grads: dict[str, np.ndarray], lr: float, grad_clip: float = 0.0) -> None:
        """Gradient descent: move every weight a step of size lr against its gradient, in place.

        With grad_clip > 0 the step is shortened so the gradient's overall norm is at most grad_clip,
        as the Trainer does for the PyTorch models. No momentum, no weight decay: plain SGD.
        """
        norm = float(np.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for g in grads.values())))
        scale = min(1.0, grad_clip / (norm + 1e-6)) if grad_clip > 0 else 1.0
        p = self.weights()
        for name, g in grads.items():
            p[name] -= (lr * scale) * g

    def torch_twin(self) -> CharLM:
        """The PyTorch rung with these very weights (float64): the autograd oracle of the gradient check."""
        raise NotImplementedError

    def _load_twin(self, twin: CharLM) -> CharLM:
        p = self.weights()
        state = {
            torch_name: torch.from_numpy(np.ascontiguousarray(p[name].T if transposed else p[name]))
            for name, (torch_name, transposed) in self.twin.items()
        }
        twin.double().load_state_dict(state)
        return twin


class NumpyBigram(NumpyLM):
    """The neural bigram in NumPy: a V x V table of logits, starting at zero (uniform)."""

    config_class = NumpyBigramConfig
    title = "NumPy bigram"
    description = (
        "The neural bigram written from scratch in NumPy: forward pass, loss, backward pass and plain SGD "
        "update by hand, no autograd. SGD needs a far larger learning rate than AdamW. See *From scratch*."
    )
    twin_model = "neural-bigram"
    default_steps = 500
    # Row x of the table gets only a share freq(x) of each step (the loss is a mean over positions),
    # so plain SGD needs a large rate: makemore used 50 on the whole data set. 10 is the Trainer's cap.
    default_lr = 10.0
    numpy_forward = staticmethod(bigram_forward)
    numpy_backward = staticmethod(bigram_backward)
    formulas = {"W": "dW = onehot(x)ᵀ · (softmax(W[x]) − onehot(y)) / N"}
    twin = {"W": ("table", False)}

    def __init__(self, config: NumpyBigramConfig):
        super().__init__()
        self.config = config
        V = config.vocab_size
        self.register_buffer("W", torch.zeros(V, V))

    def context_size(self) -> int:
        return 1

    def bigram_logits(self) -> torch.Tensor:
        return self.W

    def flops_per_token(self, T: int) -> float:
        return 6.0 * self.config.vocab_size

    def torch_twin(self) -> CharLM:
        c = self.config
        return self._load_twin(NeuralBigram(NeuralBigramConfig(chars=c.chars, mode=c.mode)))


class NumpyMLP(NumpyLM):
    """The MLP of Bengio et al. (2003) in NumPy, initialised as in makemore for plain SGD."""

    config_class = NumpyMLPConfig
    title = "NumPy MLP"
    description = (
        "The MLP written from scratch in NumPy, its gradients worked out by hand and applied by plain SGD. "
        "Check them, and race it against PyTorch's MLP, in the *From scratch* tab."
    )
    twin_model = "mlp"
    default_lr = 0.5  # makemore's SGD used 0.1 then 0.01; the Trainer's warmup and cosine decay allow more
    numpy_forward = staticmethod(mlp_forward)
    numpy_backward = staticmethod(mlp_backward)
    formulas = {
        "C": "dC[c] = Σ over positions reading c of (dpre · W1ᵀ), dpre = (1 − h²) ⊙ (dlogits · W2ᵀ)",
        "W1": "dW1 = embᵀ · dpre",
        "b1": "db1 = Σ_rows dpre",
        "W2": "dW2 = hᵀ · dlogits, dlogits = (softmax(logits) − onehot(y)) / N",
        "b2": "db2 = Σ_rows dlogits",
    }
    twin = {
        "C": ("wte.weight", False),
        "W1": ("hidden.0.weight", True),
        "b1": ("hidden.0.bias", False),
        "W2": ("lm_head.weight", True),
        "b2": ("lm_head.bias", False),
    }

    def __init__(self, config: NumpyMLPConfig):
        super().__init__()
        self.config = config
        V, E, H = config.vocab_size, config.n_embd, config.n_hidden
        fan_in = config.block_size * E
        # SGD has no per-weight step sizes, so the scales matter: unit embeddings and Kaiming tanh weights
        # put the hidden layer where tanh is neither flat nor saturated; small output weights start the
        # loss near ln(V).
        self.register_buffer("C", torch.randn(V, E))
        self.register_buffer("W1", torch.randn(fan_in, H) * (5 / 3) / fan_in**0.5)
        self.register_buffer("b1", torch.zeros(H))
        self.register_buffer("W2", torch.randn(H, V) * 0.01)
        self.register_buffer("b2", torch.zeros(V))

    def flops_per_token(self, T: int) -> float:
        c = self.config
        return 6.0 * (c.block_size * c.n_embd * c.n_hidden + c.n_hidden * c.vocab_size)

    def torch_twin(self) -> CharLM:
        c = self.config
        config = MLPConfig(
            chars=c.chars, mode=c.mode, block_size=c.block_size, n_embd=c.n_embd, n_hidden=c.n_hidden
        )
        return self._load_twin(MLP(config))


def gradient_check(
    model: str | NumpyLM,
    text: str,
    mode: str = "text",
    batch_size: int = 4,
    seed: int = 0,
    probes: int = 20,
    **settings,
) -> list[dict]:
    """For one batch of `text`, each weight's hand-written gradient against PyTorch autograd's (on the
    PyTorch rung holding the same weights) and against central finite differences (at `probes` entries
    chosen at random per weight). All in float64.

    `model` is a model (`mode` is then its own) or the name of a NumPy model to build fresh (with
    `settings`, from `seed`). Returns one row per weight: weight, shape, formula, max_abs_grad, max_abs_diff_autograd,
    max_abs_diff_numeric.
    """
    if not (isinstance(batch_size, int) and 1 <= batch_size <= 256):
        raise CharlmError(f"batch_size must be a whole number from 1 to 256, not {batch_size!r}.")
    if not (isinstance(probes, int) and 0 <= probes <= 1000):
        raise CharlmError(f"probes must be a whole number from 0 to 1000, not {probes!r}.")
    model, corpus = checked_model(model, text, mode, seed, settings)
    T = max(1, min(16, corpus.train.longest))
    x, y = get_batch(corpus.train, batch_size, T, torch.Generator().manual_seed(seed))
    ctx = model.contexts(x)[0]
    targets = y.reshape(-1).numpy()
    p = {name: w.astype(np.float64) for name, w in model.weights().items()}
    grads = model.hand_gradients(p, ctx, targets)[1]

    twin = model.torch_twin()
    _, loss = twin(x, y)
    loss.backward()
    twin_params = dict(twin.named_parameters())
    rng = np.random.default_rng(seed)
    rows = []
    for name, grad in grads.items():
        torch_name, transposed = model.twin[name]
        autograd = twin_params[torch_name].grad.numpy()
        autograd = autograd.T if transposed else autograd
        rows.append(
            {
                "weight": name,
                "shape": list(grad.shape),
                "formula": model.formulas[name],
                "max_abs_grad": float(np.abs(grad).max()),
                "max_abs_diff_autograd": float(np.abs(grad - autograd).max()),
                "max_abs_diff_numeric": numeric_gap(model, p, name, grad, ctx, targets, rng, probes),
            }
        )
    return rows


def checked_model(model: str | CharLM, text: str, mode: str, seed: int, settings: dict):
    """The model whose gradients `gradient_check` checks (built fresh from `seed` when named) and the
    corpus of `text` in its mode; a model without hand-written gradients is refused."""
    from charlm.models import build_model, model_config  # the registry imports this module

    if isinstance(model, CharLM):
        mode = model.config.mode
    corpus = Corpus.from_text(
        text, mode, seed=seed, vocab=None if isinstance(model, str) else model.config.vocab
    )
    if isinstance(model, str):
        with private_rng(seed):  # the same seed, the same weights, and nobody else's numbers moved
            model = build_model(model_config(model, chars=corpus.vocab.chars, mode=mode, **settings))
    if not isinstance(model, NumpyLM):
        raise CharlmError(
            f"the gradient check compares hand-written gradients; {model.config.model_type!r} has none. "
            "Choose numpy-bigram or numpy-mlp, or value-mlp (scalar autograd)."
        )
    return model, corpus


def numeric_gap(
    model: NumpyLM, p: dict, name: str, grad: np.ndarray, ctx, targets, rng, probes: int
) -> float:
    """The largest gap between `grad` and central finite differences of the loss, at `probes` entries of
    weight `name` chosen at random (each nudged by 1e-5 both ways, then put back)."""

    def loss_at() -> float:
        return cross_entropy(model.numpy_forward(p, ctx)[0], targets)[0]

    gap, eps = 0.0, 1e-5
    flat = p[name].reshape(-1)  # a view: nudging it nudges p[name]
    for i in rng.choice(flat.size, min(probes, flat.size), replace=False):
        old = flat[i]
        flat[i] = old + eps
        up = loss_at()
        flat[i] = old - eps
        down = loss_at()
        flat[i] = old
        gap = max(gap, abs((up - down) / (2 * eps) - grad.reshape(-1)[i]))
    return float(gap)
