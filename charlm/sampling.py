"""One sampler for every model: temperature, top-k and top-p, streamed a character at a time through
the model's incremental `decode`, with the probability behind each character."""

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
        [(vocab.label(int(i)), float(p)) for p, i in zip(top.values, top.indices)],
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
    """The distribution to sample from, given logits (V,): temperature, then top-k, then top-p.

    Temperature 0 is greedy: all probability on the most likely character. top_k larger than the
    vocabulary is clamped to it; 0 or None turns it off.
    """
    logits = logits.float()
    if temperature == 0:
        return torch.nn.functional.one_hot(logits.argmax(), logits.numel()).float()
    logits = logits / temperature
    if top_k:
        kth = torch.topk(logits, min(top_k, logits.numel())).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    if top_p is not None and top_p < 1:
        sorted_probs, order = probs.sort(descending=True)
        before = sorted_probs.cumsum(0) - sorted_probs  # mass of the characters ranked above each one
        keep = torch.zeros_like(probs, dtype=torch.bool)
        keep[order] = before < top_p  # the smallest set whose mass reaches top_p (at least one)
        probs = probs * keep
        probs = probs / probs.sum()
    return probs


@torch.no_grad()
def stream(
    model: CharLM,
    prompt: str = "",
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    length: int = 200,
    seed: int | None = None,
    alternatives: int = 5,
    use_cache: bool = True,
) -> Iterator[Token]:
    """Generate up to `length` characters after `prompt`, yielding each as it is made.

    In lines mode generation starts at the boundary token and stops when the model produces it, after
    yielding it as a Token with char "" (so the end of a line can be explained like any character).
    `use_cache=False` re-runs the model over the whole context for every character (for benchmarks).
    """
    check_sampling(temperature, top_k, top_p, length)
    vocab = model.config.vocab
    start = [BOUNDARY] if vocab.boundary else ([] if prompt else [vocab.start_token])
    ids = start + vocab.encode(prompt)
    device = model.device
    generator = torch.Generator(device=device)
    # secrets, not torch.seed(): that would reseed the global generator that training draws from
    generator.manual_seed(seed if seed is not None else secrets.randbits(63))
    window = model.max_context or len(ids) + length  # the most positions one forward pass may take
    was_training = model.training
    model.eval()
    try:
        state = model.new_state()
        logits, state = model.decode(torch.tensor([ids[-window:]], device=device), state)
        fed = min(len(ids), window)  # positions the state holds
        for _ in range(length):
            last = logits[0, -1]
            sampling = next_distribution(last, temperature, top_k, top_p)
            nxt = (
                int(torch.multinomial(sampling, 1, generator=generator))
                if temperature > 0
                else int(sampling.argmax())
            )
            yield explain_token(vocab, nxt, last, sampling, alternatives)
            if vocab.boundary and nxt == BOUNDARY:
                return
            ids.append(nxt)
            if not use_cache:
                logits, _ = model(torch.tensor([ids[-window:]], device=device))
            elif fed >= window:  # the cache is full: start it again from the last half of the context
                keep = ids[-(window // 2 or 1) :]
                logits, state = model.decode(torch.tensor([keep], device=device), model.new_state())
                fed = len(keep)
            else:
                logits, state = model.decode(torch.tensor([[nxt]], device=device), state)
                fed += 1
    finally:
        model.train(was_training)


def sample(
    model: CharLM, prompt: str = "", num_samples: int = 1, seed: int | None = None, **options
) -> list[str]:
    """`num_samples` texts, each the prompt followed by what the model generated."""
    if not isinstance(num_samples, int) or not 1 <= num_samples <= 1000:
        raise CharlmError(f"num_samples must be a whole number from 1 to 1000, not {num_samples!r}.")
    seeds = [None if seed is None else seed + i for i in range(num_samples)]
    return [prompt + "".join(t.char for t in stream(model, prompt, seed=s, **options)) for s in seeds]
