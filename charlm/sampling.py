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
    vocab: Vocab, chosen: int, logits: torch.Tensor, used: torch.Tensor | None = None, alternatives: int = 5
) -> Token:
    """The Token for writing `chosen`, given the model's `logits` (V,) and the distribution `used` to
    sample it (after temperature, top-k and top-p; None: the model's own, temperature 1 unfiltered)."""
    logits = logits.float().cpu()
    probs = torch.softmax(logits, dim=-1)
    top = torch.topk(probs, min(alternatives, probs.numel()))
    # as lists: a tensor's elements one at a time cost a few microseconds each, per character
    prob = probs.tolist()[chosen]
    return Token(
        chosen,
        vocab.decode([chosen]),
        prob,
        prob if used is None else used.tolist()[chosen],
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


def unchanged(temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None) -> bool:
    """Whether these settings sample from the model's distribution as it is: temperature 1, no top-k,
    no top-p (what sampling_scores then leaves alone)."""
    return temperature == 1 and not top_k and (top_p is None or top_p >= 1)


def sampling_scores(
    logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None
) -> torch.Tensor:
    """The scores (log-probabilities, up to a constant) of the distribution to sample from at a
    temperature above 0, given logits (V,) or one row per sample (B, V): divided by the temperature,
    then -inf outside the top k, then outside the top p, along the last dimension.

    top_k larger than the vocabulary is clamped to it; 0 or None turns it off.
    """
    scores = logits.float()
    if temperature != 1:
        scores = scores / temperature
    if top_k:
        kth = torch.topk(scores, min(top_k, scores.size(-1)), dim=-1).values[..., -1:]
        scores = scores.masked_fill(scores < kth, float("-inf"))
    if top_p is not None and top_p < 1:
        sorted_probs, order = torch.softmax(scores, dim=-1).sort(dim=-1, descending=True)
        before = sorted_probs.cumsum(-1) - sorted_probs  # mass of the characters ranked above each one
        # the smallest set whose mass reaches top_p (at least one)
        keep = torch.zeros_like(scores, dtype=torch.bool).scatter(-1, order, before < top_p)
        scores = scores.masked_fill(~keep, float("-inf"))
    return scores


def next_distribution(
    logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None
) -> torch.Tensor:
    """The distribution to sample from, given logits (V,) or one row per sample (B, V): temperature,
    then top-k, then top-p (sampling_scores). Temperature 0 is greedy: all probability on the most
    likely character."""
    if temperature == 0:
        return torch.nn.functional.one_hot(logits.argmax(-1), logits.size(-1)).float()
    return torch.softmax(sampling_scores(logits, temperature, top_k, top_p), dim=-1)


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
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Generate `num_samples` continuations of `prompt` as one batch, one position per step: yields the
    chosen ids (B,) and the model's logits (B, V) they were drawn from (through sampling_scores).

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
    finished = torch.zeros(num_samples, dtype=torch.bool, device=device)
    with model.evaluation():
        logits, state = model.decode(ids[:, max(0, n - window) : n], model.new_state())
        fed = min(n, window)  # positions the state holds
        noise = GumbelNoise(num_samples, logits.size(-1), length, seed, device)
        for _ in range(length):
            last = logits[:, -1]  # (B, V)
            if temperature == 0:
                nxt = last.argmax(-1)
            else:  # the Gumbel-max trick (GumbelNoise): no softmax, no cumulative sum
                nxt = (sampling_scores(last, temperature, top_k, top_p) + noise.next()).argmax(-1)
            yield nxt, last
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
                logits, state = model.decode(ids[:, n - keep : n], model.new_state(state))
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


class GumbelNoise:
    """Noise for drawing by the Gumbel-max trick: with g = -log(-log u) for u uniform in (0, 1) at
    every character, argmax(scores + g) is a draw from softmax(scores), and a character whose score is
    -inf is never drawn. One row (V,) per sample for each character, each sample's from its own
    generator (row_generators), made a chunk of characters at a time: a call per character cost a
    twentieth of a cached step."""

    def __init__(self, num_samples: int, V: int, length: int, seed: int | None, device: torch.device):
        self.generators, self.V, self.device = row_generators(num_samples, seed, device), V, device
        self.size = max(1, min(length, 256, 2**20 // (num_samples * V)))  # characters a chunk, 4 MB at most
        self.chunk, self.used = torch.empty(0), self.size

    def next(self) -> torch.Tensor:
        """The noise (B, V) for the next character."""
        if self.used == self.size:
            u = [torch.rand(self.size, self.V, generator=g, device=self.device) for g in self.generators]
            tiny = torch.finfo(torch.float32).tiny  # rand's 0 would give -inf: a character never drawn
            self.chunk, self.used = -torch.log(-torch.log(torch.stack(u, 1).clamp_(min=tiny))), 0
        self.used += 1
        return self.chunk[self.used - 1]


def stream(
    model: CharLM,
    prompt: str = "",
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    alternatives: int = 5,
    **options,
) -> Iterator[Token]:
    """Generate up to `length` characters after `prompt`, yielding each as it is made, with why.

    In lines mode generation starts at the boundary token and stops when the model produces it, after
    yielding it as a Token with char "" (so the end of a line can be explained like any character).
    Takes `generate`'s other options (length, seed, use_cache).
    """
    vocab = model.config.vocab
    filters = dict(temperature=temperature, top_k=top_k, top_p=top_p)
    as_is = unchanged(**filters)
    for nxt, last in generate(model, prompt, 1, **filters, **options):
        used = None if as_is else next_distribution(last[0], **filters)
        yield explain_token(vocab, int(nxt[0]), last[0], used, alternatives)


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
