"""One sampler for every model: temperature, top-k and top-p through the model's incremental `decode`,
many samples as one batch (`generate`, `sample`) or one streamed with the probability behind each
character (`stream`)."""

import math
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch

from charlm.data import BOUNDARY, Vocab
from charlm.errors import CharlmError
from charlm.models import CharLM


@dataclass
class Token:
    """One generated character and why: the model's probability for it, its top alternatives, and the
    logits it was drawn from (so a page can redraw that distribution at any temperature without running
    the model again). In lines mode the last Token may be the end of the line: id BOUNDARY, char ""."""

    id: int
    char: str
    prob: float  # probability the model gave this character (temperature 1, no filtering)
    sampled_prob: float  # probability it had in the distribution actually sampled from
    alternatives: list[tuple[str, float]] = field(default_factory=list)  # top (label, prob) at temperature 1
    logits: torch.Tensor | None = None  # (V,) float32 on the CPU: the model's raw scores at this position


def explain_token(
    vocab: Vocab, chosen: int, logits: torch.Tensor, used: torch.Tensor, alternatives: int = 5
) -> Token:
    """The Token for writing `chosen`, given the model's `logits` (V,) and the distribution `used` to
    sample it (after temperature, top-k and top-p)."""
    logits = logits.float().cpu()
    probs = torch.softmax(logits, dim=-1)
    top = torch.topk(probs, min(alternatives, probs.numel()))
    return Token(
        chosen,
        vocab.decode([chosen]),
        float(probs[chosen]),
        float(used[chosen]),
        # as lists: a tensor's elements one at a time cost a few microseconds each, per character
        [(vocab.label(i), p) for p, i in zip(top.values.tolist(), top.indices.tolist())],
        logits,
    )


def check_sampling(temperature: float, top_k: int | None, top_p: float | None, length: int) -> None:
    if not (isinstance(temperature, (int, float)) and math.isfinite(temperature) and 0 <= temperature <= 100):
        raise CharlmError(f"temperature must be between 0 (greedy) and 100, not {temperature!r}.")
    if top_k is not None and top_k < 0:
        raise CharlmError(f"top_k must be 0 (off) or more, not {top_k!r}.")
    if top_p is not None and not 0 < top_p <= 1:
        raise CharlmError(f"top_p must be above 0 and at most 1, not {top_p!r}.")
    if not isinstance(length, int) or not 1 <= length <= 100_000:
        raise CharlmError(f"length must be a whole number from 1 to 100000, not {length!r}.")


def next_distribution(
    logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None
) -> torch.Tensor:
    """The distribution to sample from, given logits (V,) or one row per sample (B, V): temperature,
    then top-k, then top-p, along the last dimension.

    Temperature 0 is greedy: all probability on the most likely character. top_k larger than the
    vocabulary is clamped to it; 0 or None turns it off.
    """
    logits = logits.float()
    V = logits.size(-1)
    if temperature == 0:
        return torch.nn.functional.one_hot(logits.argmax(-1), V).float()
    if temperature != 1:
        logits = logits / temperature
    if top_k:
        kth = torch.topk(logits, min(top_k, V), dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    if top_p is not None and top_p < 1:
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        before = sorted_probs.cumsum(-1) - sorted_probs  # mass of the characters ranked above each one
        # the smallest set whose mass reaches top_p (at least one)
        keep = torch.zeros_like(probs, dtype=torch.bool).scatter(-1, order, before < top_p)
        probs = probs * keep
        probs = probs / probs.sum(-1, keepdim=True)
    return probs


# inference mode, not just no_grad: each of the hundred small operations of a step costs less
@torch.inference_mode()
def generate(
    model: CharLM,
    prompt: str = "",
    num_samples: int = 1,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    length: int = 200,
    seed: int | None = None,
    use_cache: bool = True,
) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Generate `num_samples` continuations of `prompt` as one batch, one position per step: yields the
    chosen ids (B,), the model's logits (B, V) and the distribution each was drawn from (B, V).

    Row i draws from its own generator seeded `seed + i`, so it is the sample that `stream` gives for
    that seed. In lines mode a row that has produced the boundary is finished (what follows it is
    filler), and generation ends when every row is. `use_cache=False` re-runs the model over the whole
    context for every character (for benchmarks).
    """
    check_sampling(temperature, top_k, top_p, length)
    vocab, device = model.config.vocab, model.device
    start = [BOUNDARY] if vocab.boundary else ([] if prompt else [vocab.start_token])
    prefix = start + vocab.encode(prompt)
    ids = torch.zeros(num_samples, len(prefix) + length, dtype=torch.long, device=device)  # (B, all)
    ids[:, : len(prefix)] = torch.tensor(prefix, device=device)
    n = len(prefix)  # positions of ids written so far
    window = model.max_context or n + length  # the most positions one forward pass may take
    generators = row_generators(num_samples, seed, device)
    finished = torch.zeros(num_samples, dtype=torch.bool, device=device)
    with model.evaluation():
        logits, state = model.decode(ids[:, max(0, n - window) : n], model.new_state())
        fed = min(n, window)  # positions the state holds
        for _ in range(length):
            last = logits[:, -1]  # (B, V)
            sampling = next_distribution(last, temperature, top_k, top_p)
            nxt = pick(sampling, temperature, generators)
            yield nxt, last, sampling
            if vocab.boundary:
                finished |= nxt == BOUNDARY
                if bool(finished.all()):
                    return
            ids[:, n] = nxt
            n += 1
            if not use_cache:
                logits, _ = model(ids[:, max(0, n - window) : n])
            elif fed >= window:  # the cache is full: start it again from the last half of the context
                keep = window // 2 or 1
                logits, state = model.decode(ids[:, n - keep : n], model.new_state())
                fed = keep
            else:
                logits, state = model.decode(nxt[:, None], state)
                fed += 1


def row_generators(num_samples: int, seed: int | None, device: torch.device) -> list[torch.Generator]:
    """One generator per sample, seeded seed, seed + 1, ... (or at random)."""
    generators = []
    for i in range(num_samples):
        generator = torch.Generator(device=device)
        # secrets, not torch.seed(): that would reseed the global generator that training draws from
        generator.manual_seed(seed + i if seed is not None else secrets.randbits(63))
        generators.append(generator)
    return generators


def pick(sampling: torch.Tensor, temperature: float, generators: list[torch.Generator]) -> torch.Tensor:
    """One id per row of `sampling` (B, V): the most likely at temperature 0, else a draw from the row's
    own generator, by inverse transform: the first id whose cumulative probability passes a uniform
    number (a character with probability 0 is never drawn; one uniform per row costs a few microseconds,
    where torch.multinomial cost 13 to 47 per row, a twentieth of a cached step)."""
    if temperature == 0:
        return sampling.argmax(-1)
    uniforms = torch.cat([torch.rand(1, generator=g, device=sampling.device) for g in generators])  # (B,)
    cumulative = sampling.cumsum(-1)  # (B, V)
    # scaled to the row's total, which rounding leaves a little off 1, so the draw always lands in the row
    return torch.searchsorted(cumulative, (uniforms * cumulative[:, -1])[:, None], right=True)[:, 0]


def stream(model: CharLM, prompt: str = "", *, alternatives: int = 5, **options) -> Iterator[Token]:
    """Generate up to `length` characters after `prompt`, yielding each as it is made, with why.

    In lines mode generation starts at the boundary token and stops when the model produces it, after
    yielding it as a Token with char "" (so the end of a line can be explained like any character).
    Takes `generate`'s options (temperature, top_k, top_p, length, seed, use_cache).
    """
    vocab = model.config.vocab
    for nxt, last, sampling in generate(model, prompt, 1, **options):
        yield explain_token(vocab, int(nxt[0]), last[0], sampling[0], alternatives)


# rows per batch: the key/value caches of 64 rows at block size 256 and width 512 take about 270 MB
MAX_BATCH = 64


def sample(
    model: CharLM, prompt: str = "", num_samples: int = 1, seed: int | None = None, **options
) -> list[str]:
    """`num_samples` texts, each the prompt followed by what the model generated, generated in batches
    (sample i is what `stream` gives with seed `seed + i`)."""
    if not isinstance(num_samples, int) or not 1 <= num_samples <= 1000:
        raise CharlmError(f"num_samples must be a whole number from 1 to 1000, not {num_samples!r}.")
    options.pop("alternatives", None)  # a Token's detail: nothing to explain here
    vocab = model.config.vocab
    texts = []
    for first in range(0, num_samples, MAX_BATCH):
        B = min(MAX_BATCH, num_samples - first)
        rows: list[list[int]] = [[] for _ in range(B)]
        done = [False] * B
        batch_seed = None if seed is None else seed + first
        for nxt in (step[0].tolist() for step in generate(model, prompt, B, seed=batch_seed, **options)):
            for i, t in enumerate(nxt):
                done[i] = done[i] or (vocab.boundary and t == BOUNDARY)
                if not done[i]:
                    rows[i].append(t)
        texts += [prompt + vocab.decode(row) for row in rows]
    return texts
