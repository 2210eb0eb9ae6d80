"""charlm.sampling: greedy decoding, temperature, top-k, top-p, seeds, the probabilities reported with
each character, lines mode, and the cache (including a transformer sampling past its block size)."""

import math

import pytest
import torch
from conftest import NAMES, TEXT, tiny_model, train_tiny

from charlm.data import BOUNDARY
from charlm.errors import CharlmError
from charlm.models import MODELS
from charlm.sampling import GumbelNoise, next_distribution, sample, stream

PROBS = torch.tensor([0.5, 0.25, 0.125, 0.0625, 0.0625])  # exact in binary, so the sums are exact


@pytest.fixture(scope="module")
def trained():
    """A transformer that has learned a little of TEXT, so its distributions are not flat."""
    trainer, _ = train_tiny("transformer", block_size=32)
    return trainer.model


def greedy_by_hand(model, prompt: str, length: int) -> str:
    """Greedy decoding the slow way: a full forward pass over the whole context, argmax, repeat."""
    vocab = model.config.vocab
    ids = [vocab.start_token] if not prompt else vocab.encode(prompt)
    out = []
    model.eval()  # as the sampler reads it: no dropout
    with torch.no_grad():
        for _ in range(length):
            logits, _ = model(torch.tensor([ids]))
            nxt = int(logits[0, -1].argmax())
            out.append(vocab.decode([nxt]))
            ids.append(nxt)
    return "".join(out)


def test_temperature_zero_is_greedy(trained):
    tokens = list(stream(trained, "the ", temperature=0, length=20, seed=1))
    assert "".join(t.char for t in tokens) == greedy_by_hand(trained, "the ", 20)
    assert all(t.sampled_prob == 1.0 for t in tokens)
    assert all(t.prob == max(p for _, p in t.alternatives) for t in tokens)  # the argmax, every time
    assert sample(trained, "a ", temperature=0, length=15, seed=1) == sample(
        trained, "a ", temperature=0, length=15, seed=2
    )


@pytest.mark.parametrize("name", MODELS)
def test_the_uncached_path_gives_the_same_greedy_output(name):
    model, corpus = tiny_model(name)
    if model.trained_by_counting:
        model.fit(corpus.train)
    length = model.config.block_size - 3 if model.max_context else 40  # the cache never needs re-priming
    cached = sample(model, "th", temperature=0, length=length)
    uncached = sample(model, "th", temperature=0, length=length, use_cache=False)
    assert cached == uncached
    assert cached[0] == "th" + greedy_by_hand(model, "th", length)


def test_a_transformer_samples_past_its_block_size(trained):
    block = trained.config.block_size
    tokens = list(stream(trained, "the quick", length=5 * block, seed=0))
    assert len(tokens) == 5 * block  # text mode never stops early
    assert all(0 <= t.prob <= 1 and 0 <= t.sampled_prob <= 1 for t in tokens)
    uncached = list(stream(trained, "the quick", length=5 * block, seed=0, use_cache=False))
    assert len(uncached) == 5 * block
    long_prompt = TEXT[: 3 * block]  # a prompt longer than the block size is cut to its end
    assert len(sample(trained, long_prompt, length=10, seed=0)[0]) == len(long_prompt) + 10


def test_the_same_seed_gives_the_same_sample(trained):
    a = sample(trained, num_samples=3, length=40, seed=5)
    assert a == sample(trained, num_samples=3, length=40, seed=5)
    assert a != sample(trained, num_samples=3, length=40, seed=6)
    assert len(set(a)) > 1  # each sample has its own seed


def test_sampling_leaves_the_global_random_numbers_alone(trained):
    torch.manual_seed(0)
    expected = torch.rand(5)
    torch.manual_seed(0)
    sample(trained, length=30)  # no seed: it must not reseed torch's global generator
    assert torch.equal(torch.rand(5), expected)


def test_top_k_larger_than_the_vocabulary_is_clamped(trained):
    logits = PROBS.log()
    assert torch.allclose(next_distribution(logits, top_k=1000), PROBS)
    assert torch.allclose(next_distribution(logits, top_k=0), PROBS)  # 0 turns it off
    two = next_distribution(logits, top_k=2)
    assert torch.allclose(two, torch.tensor([2 / 3, 1 / 3, 0, 0, 0]))
    tokens = list(stream(trained, top_k=10**6, length=20, seed=0))
    assert len(tokens) == 20
    for t in stream(trained, "the", top_k=1, length=10, seed=0):
        assert t.sampled_prob == pytest.approx(1.0) and t.prob == t.alternatives[0][1]


@pytest.mark.parametrize(
    "top_p, kept",
    [
        (0.5, [1.0, 0, 0, 0, 0]),
        (0.6, [2 / 3, 1 / 3, 0, 0, 0]),
        (0.75, [2 / 3, 1 / 3, 0, 0, 0]),
        (0.8, [4 / 7, 2 / 7, 1 / 7, 0, 0]),
    ],
)
def test_top_p_keeps_the_smallest_set_that_reaches_it(top_p, kept):
    shuffled = torch.tensor([3, 0, 4, 2, 1])  # the order of the vocabulary does not matter
    probs = next_distribution(PROBS[shuffled].log(), top_p=top_p)
    assert torch.allclose(probs, torch.tensor(kept)[shuffled])
    assert torch.allclose(next_distribution(PROBS.log(), top_p=1.0), PROBS)


def test_temperature_sharpens_and_flattens():
    logits = PROBS.log()
    cold, warm = next_distribution(logits, temperature=0.5), next_distribution(logits, temperature=2.0)
    assert torch.allclose(cold, PROBS**2 / (PROBS**2).sum())
    assert torch.allclose(warm, PROBS**0.5 / (PROBS**0.5).sum())
    assert torch.equal(next_distribution(logits, temperature=0), torch.tensor([1.0, 0, 0, 0, 0]))


@pytest.mark.parametrize("settings", [{}, {"top_p": 1.0}, {"top_k": 0}, {"temperature": 0.7}, {"top_p": 0.8}])
def test_each_character_reports_the_probability_it_was_sampled_with(trained, settings):
    for t in stream(trained, "the", length=12, seed=0, **settings):
        expected = next_distribution(t.logits, **settings)[t.id]
        assert t.sampled_prob == pytest.approx(float(expected), abs=1e-6)
        assert t.prob == pytest.approx(float(torch.softmax(t.logits, -1)[t.id]), abs=1e-6)


def test_samples_follow_the_model_distribution():
    model, _ = tiny_model("neural-bigram", "ab" * 20)
    with torch.no_grad():
        model.table.zero_()
        model.table[:, 0] = math.log(4)  # after anything: 'a' with probability 0.8, 'b' with 0.2
    first = [s[0] for s in sample(model, num_samples=400, length=1, seed=0)]
    assert 0.72 < first.count("a") / 400 < 0.88
    token = next(stream(model, length=1, seed=0))
    assert token.prob == pytest.approx(0.8 if token.char == "a" else 0.2)
    assert token.alternatives == [("a", pytest.approx(0.8)), ("b", pytest.approx(0.2))]


def test_a_draw_never_lands_on_a_character_the_filters_removed_and_follows_the_rest():
    # probability 0 (score -inf) first, last and between, as top-k and top-p leave them; 4,000 draws
    # from one generator a row, over several chunks of noise
    rows = torch.tensor(
        [[0.0, 0.3, 0.0, 0.7, 0.0], [0.0, 0.0, 0.0, 0.0, 1.0], [1 / 3, 0.0, 1 / 3, 0.0, 1 / 3]]
    )
    noise = GumbelNoise(3, 5, 4000, 0, torch.device("cpu"))
    drawn = torch.stack([(rows.log() + noise.next()).argmax(-1) for _ in range(4000)])
    assert all(bool((rows[i, drawn[:, i]] > 0).all()) for i in range(3))
    assert 0.275 < (drawn[:, 0] == 1).float().mean() < 0.325  # in proportion: 0.3 +- 3.5 sd
    assert 0.307 < (drawn[:, 2] == 0).float().mean() < 0.36  # 1/3 +- 3.5 sd


def test_token_probabilities_and_alternatives(trained):
    vocab = trained.config.vocab
    tokens = list(stream(trained, "the ", temperature=1.3, top_k=5, length=25, seed=3, alternatives=4))
    ids = vocab.encode("the ")
    trained.eval()  # as the sampler reads it: no dropout
    for t in tokens:
        with torch.no_grad():
            logits, _ = trained(torch.tensor([ids]))
        probs = torch.softmax(logits[0, -1], -1)
        assert t.prob == pytest.approx(float(probs[t.id]), abs=1e-5)  # at temperature 1, unfiltered
        assert 0 < t.sampled_prob <= 1 and t.char == vocab.decode([t.id])
        assert len(t.alternatives) == 4
        values = [p for _, p in t.alternatives]
        assert values == sorted(values, reverse=True) and all(0 <= p <= 1 for p in values)
        assert t.alternatives[0][0] == vocab.label(int(probs.argmax()))
        ids.append(t.id)


def test_unknown_prompt_characters_are_named(trained):
    with pytest.raises(CharlmError, match=r"'Z'.*'€'|'€'.*'Z'"):
        sample(trained, "the Z€")


@pytest.mark.parametrize(
    "options, words",
    [
        (dict(temperature=-1), "temperature"),
        (dict(temperature=float("nan")), "temperature"),
        (dict(top_k=-2), "top_k"),
        (dict(top_p=0.0), "top_p"),
        (dict(top_p=1.5), "top_p"),
        (dict(length=0), "length"),
        (dict(num_samples=0), "num_samples"),
    ],
)
def test_bad_sampling_settings_are_refused(trained, options, words):
    with pytest.raises(CharlmError, match=words):
        sample(trained, **options)


def test_sampling_restores_the_training_mode(trained):
    trained.train()
    sample(trained, length=5, seed=0)
    assert trained.training
    trained.eval()
    sample(trained, length=5, seed=0)
    assert not trained.training


def test_lines_mode_stops_at_the_boundary():
    model, corpus = tiny_model("neural-bigram", NAMES, "lines")
    vocab = corpus.vocab
    with torch.no_grad():  # a line is always one 'e', then the end
        model.table.zero_()
        model.table[BOUNDARY, vocab.stoi["e"]] = 20.0
        model.table[1:, BOUNDARY] = 20.0
    assert sample(model, num_samples=3, length=50, seed=0) == ["e", "e", "e"]
    assert sample(model, "ava", length=50, temperature=0) == ["ava"]

    counts, _ = train_tiny("bigram", NAMES, "lines")
    names = sample(counts.model, num_samples=30, length=100, seed=0)
    assert all("\n" not in name for name in names)
    assert sum(len(name) < 100 for name in names) >= 25  # lines end, long before the length limit
    assert set("".join(names)) <= set(vocab.chars)


def one_at_a_time(model, prompt: str, num_samples: int, seed: int, **options) -> list[str]:
    """What the batched `sample` must equal: each sample streamed alone with its own seed."""
    return [
        prompt + "".join(t.char for t in stream(model, prompt, seed=seed + i, **options))
        for i in range(num_samples)
    ]


@pytest.mark.parametrize("name", ["transformer", "lstm", "mlp"])
def test_batched_greedy_sampling_equals_one_at_a_time(name):
    model, _ = tiny_model(name, block_size=16)
    length = 40  # past the transformer's block size: the cache is re-primed for the whole batch at once
    batched = sample(model, "th", num_samples=4, temperature=0, length=length, seed=0)
    assert batched == one_at_a_time(model, "th", 4, seed=0, temperature=0, length=length)
    assert len(batched) == 4 and len(batched[0]) == 2 + length


def test_batched_sampling_is_reproducible_and_each_row_is_its_own_seeds_sample(trained, monkeypatch):
    options = dict(length=50, temperature=1.2, top_k=20, top_p=0.95)
    batched = sample(trained, "the ", num_samples=5, seed=11, **options)
    assert batched == sample(trained, "the ", num_samples=5, seed=11, **options)
    assert len(set(batched)) == 5
    assert batched == one_at_a_time(trained, "the ", 5, seed=11, **options)
    monkeypatch.setattr("charlm.sampling.MAX_BATCH", 2)  # in batches of 2, 2 and 1: the same samples
    assert sample(trained, "the ", num_samples=5, seed=11, **options) == batched


def test_batched_lines_stop_each_row_at_its_own_boundary():
    trainer, _ = train_tiny("transformer", text=NAMES, mode="lines", block_size=16)
    model = trainer.model
    names = sample(model, num_samples=8, seed=3, length=30)
    assert names == one_at_a_time(model, "", 8, seed=3, length=30)
    assert len({len(n) for n in names}) > 1 and all("\n" not in n for n in names)
