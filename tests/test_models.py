"""The model ladder, parametrized over the registry: shapes, loss at initialisation, gradients, a tiny
overfit, incremental decoding against a full forward pass, causality, and oracles in the micrograd style."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import NAMES, TEXT, tiny_model, tiny_train_config

from charlm.data import Corpus
from charlm.errors import CharlmError
from charlm.models import MODELS, build_model, model_config, model_settings
from charlm.models.transformer import CausalSelfAttention, KVCache, TransformerConfig
from charlm.train import Trainer, evaluate

MODES = [pytest.param(TEXT, "text", id="text"), pytest.param(NAMES, "lines", id="lines")]
WITH_PARAMETERS = [name for name in MODELS if list(tiny_model(name)[0].parameters())]


def some_idx(model, B: int = 3, T: int | None = None, seed: int = 0) -> torch.Tensor:
    T = T or model.config.block_size
    return torch.randint(model.config.vocab_size, (B, T), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("text, mode", MODES)
def test_output_shapes(name, text, mode):
    model, corpus = tiny_model(name, text, mode)
    idx = some_idx(model, B=3, T=5)
    logits, loss = model(idx)
    assert logits.shape == (3, 5, corpus.vocab.size) and loss is None
    logits, loss = model(idx, idx)
    assert loss.shape == () and torch.isfinite(loss)


@pytest.mark.parametrize("name", MODELS)
def test_loss_at_initialisation_is_near_ln_vocab_size(name):
    model, corpus = tiny_model(name)
    x = some_idx(model, B=16)
    y = some_idx(model, B=16, seed=1)
    _, loss = model(x, y)
    assert abs(loss.item() - math.log(corpus.vocab.size)) < 0.25


@pytest.mark.parametrize("name", WITH_PARAMETERS)
def test_every_parameter_gets_a_finite_gradient(name):
    model, _ = tiny_model(name)
    idx = some_idx(model, B=4)
    _, loss = model(idx[:, :-1], idx[:, 1:])
    loss.backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, pname
        assert torch.isfinite(p.grad).all(), pname
        assert p.grad.abs().sum() > 0, pname


@pytest.mark.parametrize("name", MODELS)
def test_a_tiny_overfit_lowers_the_loss(name):
    text = "abcabcabd abcabcabd\n" * 3
    model, corpus = tiny_model(name, text)
    before = evaluate(model, corpus.train)
    lr = max(3e-2, model.default_lr)  # plain SGD (the NumPy rungs) wants a larger step than AdamW
    trainer = Trainer(model, corpus, tiny_train_config(steps=40, lr=lr, eval_interval=40))
    events = list(trainer.run())
    after = evaluate(model, corpus.train)
    assert events[-1].done and trainer.step == events[-1].step
    assert after < before - 0.5, (before, after)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("text, mode", MODES)
def test_incremental_decode_matches_a_full_forward(name, text, mode):
    model, _ = tiny_model(name, text, mode, dropout=0.3)
    if model.trained_by_counting:
        model.fit(Corpus.from_text(text, mode).train)
    model.eval()
    idx = some_idx(model, B=2)
    with torch.no_grad():
        full, _ = model(idx)
        state, steps = model.new_state(), []
        for t in range(idx.size(1)):
            logits, state = model.decode(idx[:, t : t + 1], state)
            steps.append(logits)
        chunks, state = [], model.new_state()  # uneven chunks: a prompt, then single characters
        for a, b in [(0, 3), (3, 4), (4, 8)]:
            logits, state = model.decode(idx[:, a:b], state)
            chunks.append(logits)
    torch.testing.assert_close(torch.cat(steps, 1), full, atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.cat(chunks, 1), full, atol=1e-5, rtol=0)


def test_the_transformers_one_position_step_matches_a_full_forward_without_biases_too():
    model, _ = tiny_model("transformer", bias=False, n_layer=3, block_size=12)
    model.eval()
    idx = some_idx(model, B=4)
    with torch.no_grad():
        full, _ = model(idx)
        logits, state = model.decode(idx[:, :5], model.new_state())
        steps = [logits] + [model.decode(idx[:, t : t + 1], state)[0] for t in range(5, 12)]
    torch.testing.assert_close(torch.cat(steps, 1), full, atol=1e-5, rtol=0)


def test_a_transformers_cache_started_again_decodes_as_a_fresh_one():
    # the sampler starts a full cache again on its own buffers and weights (new_state(previous))
    model, _ = tiny_model("transformer", n_layer=2, block_size=12)
    model.eval()
    idx = some_idx(model, B=2)
    with torch.no_grad():
        full = model.decode(idx[:, :3], model.new_state())[1]
        for t in range(3, 12):  # every position written, the last nine one at a time (the step's views)
            model.decode(idx[:, t : t + 1], full)
        again = model.new_state(full)
        assert again is full and again.pos == 0
        reused = [model.decode(idx[:, 3:9], again)[0], model.decode(idx[:, 9:10], again)[0]]
        fresh_state = model.new_state()
        fresh = [model.decode(idx[:, 3:9], fresh_state)[0], model.decode(idx[:, 9:10], fresh_state)[0]]
    for a, b in zip(reused, fresh):
        torch.testing.assert_close(a, b, atol=0, rtol=0)


def test_overlapping_readers_keep_the_model_in_evaluation_mode_until_the_last_leaves():
    # the playground reads one model from several threads: a view and the sampler at once
    model, _ = tiny_model("transformer", dropout=0.3)
    model.train()
    first, second = model.evaluation(), model.evaluation()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert not model.training  # the second reader still needs it without dropout
    second.__exit__(None, None, None)
    assert model.training
    with model.evaluation():
        assert not model.training


@pytest.mark.parametrize("name", MODELS)
def test_changing_a_later_token_leaves_earlier_logits_alone(name):
    model, _ = tiny_model(name)
    with torch.no_grad():  # the bigrams start uniform: give their tables random values
        for tensor in model.state_dict().values():
            if tensor.unique().numel() == 1:
                tensor.add_(torch.rand_like(tensor))
    model.eval()
    idx = some_idx(model, B=1)
    for t in range(idx.size(1) - 1):
        changed = idx.clone()
        changed[0, t + 1] = (changed[0, t + 1] + 1) % model.config.vocab_size
        with torch.no_grad():
            a, _ = model(idx)
            b, _ = model(changed)
        assert torch.equal(a[0, : t + 1], b[0, : t + 1]), f"position {t} saw the future"
        assert not torch.allclose(a[0, t + 1], b[0, t + 1]), f"position {t + 1} ignores its own token"


def test_count_bigram_loss_equals_the_nll_by_hand():
    corpus = Corpus.from_text(TEXT, "text", val_fraction=0.2)
    smoothing = 0.5
    model = build_model(model_config("bigram", chars=corpus.vocab.chars, smoothing=smoothing))
    model.fit(corpus.train)

    V = corpus.vocab.size
    train, val = corpus.train.tokens.tolist(), corpus.val.tokens.tolist()
    counts = np.zeros((V, V))
    for a, b in zip(train, train[1:]):
        counts[a, b] += 1
    nll = 0.0
    for a, b in zip(val, val[1:]):
        nll -= math.log((counts[a, b] + smoothing) / (counts[a].sum() + V * smoothing))
    expected = nll / (len(val) - 1)

    assert evaluate(model, corpus.val) == pytest.approx(expected, abs=1e-5)
    assert model.counts.numpy().tolist() == counts.tolist()


def test_count_bigram_in_lines_mode_counts_the_boundaries():
    corpus = Corpus.from_text("ab\nb\n", "lines", val_fraction=0.5, seed=0)
    model = build_model(model_config("bigram", chars=corpus.vocab.chars, mode="lines"))
    model.fit(corpus.train)
    tokens = corpus.train.tokens.tolist()  # B ... B: the boundary starts and ends each line
    expected = np.zeros((3, 3))
    for a, b in zip(tokens, tokens[1:]):
        expected[a, b] += 1
    assert model.counts.tolist() == expected.tolist()
    assert expected[0].sum() == 1 and expected[:, 0].sum() == 1


def attention_by_hand(attn: CausalSelfAttention, x: torch.Tensor) -> torch.Tensor:
    """Causal multi-head attention written out: scores, mask, softmax, weighted values, projection."""
    B, T, C = x.shape
    nh = attn.n_head
    hs = C // nh
    q, k, v = (x @ attn.c_attn.weight.T + attn.c_attn.bias).split(C, dim=2)
    out = torch.zeros(B, T, C)
    for b in range(B):
        for h in range(nh):
            cols = slice(h * hs, (h + 1) * hs)
            qh, kh, vh = q[b, :, cols], k[b, :, cols], v[b, :, cols]  # (T, hs)
            scores = qh @ kh.T / math.sqrt(hs)
            scores = scores.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float("-inf"))
            out[b, :, cols] = torch.softmax(scores, dim=-1) @ vh
    return out @ attn.c_proj.weight.T + attn.c_proj.bias


def test_attention_matches_a_hand_written_masked_softmax():
    torch.manual_seed(0)
    config = TransformerConfig(chars="abc", n_embd=16, n_head=4, block_size=8)
    attn = CausalSelfAttention(config).eval()
    for p in attn.parameters():  # larger weights than at initialisation, so the attention is not flat
        torch.nn.init.normal_(p, std=0.5)
    x = torch.randn(2, 7, 16)
    with torch.no_grad():
        expected = attention_by_hand(attn, x)
        torch.testing.assert_close(attn(x), expected, atol=1e-5, rtol=1e-4)
        cache, parts = KVCache(), []  # the cached path: a prompt of 3, then one position at a time
        cache.allocate(1, (2, 4, 7, 4), x)
        for a, b in [(0, 3), (3, 4), (4, 5), (5, 6), (6, 7)]:
            parts.append(attn(x[:, a:b], cache, 0))
            cache.pos = b  # the model moves it on once every layer has written
        torch.testing.assert_close(torch.cat(parts, 1), expected, atol=1e-5, rtol=1e-4)
        # and against torch's own kernel, fed the module's q, k, v
        q, k, v = attn.c_attn(x).view(2, 7, 3, 4, 4).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(2, 7, 16)
        torch.testing.assert_close(attn.c_proj(y), expected, atol=1e-5, rtol=1e-4)


def test_the_neural_bigram_converges_to_the_count_bigram():
    corpus = Corpus.from_text(TEXT)
    chars = corpus.vocab.chars
    counts = build_model(model_config("bigram", chars=chars, smoothing=1e-3))
    counts.fit(corpus.train)
    torch.manual_seed(0)
    neural = build_model(model_config("neural-bigram", chars=chars))
    config = tiny_train_config(
        steps=300, batch_size=16, lr=0.1, weight_decay=0.0, grad_clip=0.0, warmup_steps=0, eval_interval=300
    )
    for _ in Trainer(neural, corpus, config).run():
        pass
    target = evaluate(counts, corpus.train)  # the smallest loss any bigram can have on this split
    reached = evaluate(neural, corpus.train)
    assert target - 1e-3 < reached < target + 0.02, (target, reached)


def test_model_config_refuses_foreign_settings_by_name_and_bad_ones():
    config = model_config("lstm", chars="ab", n_hidden=12, n_head=None)  # None: not given
    assert config.model_type == "lstm" and config.n_hidden == 12 and not hasattr(config, "n_head")
    with pytest.raises(CharlmError, match="lstm has no setting n_head; its settings are: block_size"):
        model_config("lstm", chars="ab", n_head=3)  # an LSTM has no heads
    with pytest.raises(CharlmError, match="no setting n_embdd"):
        model_config("transformer", chars="ab", n_embdd=64)  # a typo is not dropped silently
    assert "n_head" in model_settings("transformer") and "n_head" not in model_settings("mlp")
    with pytest.raises(CharlmError, match="unknown model 'gpt5'"):
        model_config("gpt5", chars="ab")
    bad = [
        (dict(n_embd=30, n_head=4), "multiple of n_head"),
        (dict(n_layer=0), "n_layer"),
        (dict(block_size=-3), "block_size"),
        (dict(n_embd=2.5), "n_embd"),
        (dict(dropout=1.0), "dropout"),
        (dict(block_size=10**6), "far too large"),
    ]
    for settings, words in bad:
        with pytest.raises(CharlmError, match=words):
            model_config("transformer", chars="ab", **settings)
    with pytest.raises(CharlmError, match="smoothing"):
        model_config("bigram", chars="ab", smoothing=-1)


@pytest.mark.parametrize("name", MODELS)
def test_num_params_counts_each_tensor_once(name):
    model, _ = tiny_model(name)
    expected = sum(p.numel() for p in model.parameters()) + sum(b.numel() for b in model.buffers())
    assert model.num_params() == expected > 0
