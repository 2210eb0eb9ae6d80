"""The embeddings view: PCA recovers known structure, every table-holding rung has a table, and the
snapshots taken during training become a figure with a step slider."""

import numpy as np
import pytest
from inside_texts import NAMES, TEXT

from charlm.data import Vocab
from charlm.errors import CharlmError
from charlm.inside import (
    Snapshots,
    char_class,
    embedding_history,
    embedding_table,
    embeddings,
    embeddings_figure,
    pca,
)
from charlm.train import TrainConfig, new_trainer

pytest_plugins = ["inside_fixtures"]  # the `tiny` model factory (not a conftest: one conftest per name)


def test_pca_of_rows_on_a_plane_keeps_their_distances():
    rng = np.random.default_rng(0)
    ab = rng.normal(size=(12, 2)) * [3.0, 1.0]
    u, v = np.linalg.qr(rng.normal(size=(10, 2)))[0].T  # two orthonormal directions in 10-D
    table = ab[:, :1] * u + ab[:, 1:] * v + rng.normal(size=10)  # the plane, moved off the origin
    basis, mean, explained = pca(table)
    xy = (table - mean) @ basis.T
    dist = lambda p: np.linalg.norm(p[:, None] - p[None], axis=-1)  # noqa: E731
    np.testing.assert_allclose(dist(xy), dist(ab), atol=1e-9)
    assert explained.sum() == pytest.approx(1.0) and explained[0] > explained[1]


def test_pca_of_rows_on_a_line_puts_them_in_order_on_the_first_axis():
    t = np.linspace(-2, 3, 9)
    table = t[:, None] * np.array([1.0, -2.0, 0.5, 0.0]) + 7.0
    basis, mean, explained = pca(table)
    xy = (table - mean) @ basis.T
    assert explained[0] == pytest.approx(1.0)
    assert np.abs(xy[:, 1]).max() < 1e-9
    assert abs(np.corrcoef(xy[:, 0], t)[0, 1]) == pytest.approx(1.0)


@pytest.mark.parametrize("name", ["neural-bigram", "mlp", "lstm", "transformer", "numpy-bigram", "numpy-mlp"])
def test_every_rung_with_a_table_has_one_row_per_token(tiny, name):
    model, corpus = tiny(name, NAMES, "lines")
    table = embedding_table(model)
    assert table.shape[0] == corpus.vocab.size == len(embeddings(model).labels)
    assert embeddings(model).coords.shape == (1, corpus.vocab.size, 2)


def test_the_count_bigram_has_no_embeddings(tiny):
    model, _ = tiny("bigram")
    with pytest.raises(CharlmError, match="bigram has no embeddings"):
        embeddings(model)
    with pytest.raises(CharlmError, match="bigram has no embeddings"):
        Snapshots(model)


def test_character_classes():
    vocab = Vocab("\t 3;Aaeéxz", boundary=True)
    classes = [char_class(vocab, i) for i in range(vocab.size)]
    assert classes == ["boundary", "whitespace", "whitespace", "digit", "punctuation"] + [
        "vowel",
        "vowel",
        "vowel",
        "vowel",
        "consonant",
        "consonant",
    ]


def test_snapshots_at_each_evaluation_become_slider_frames():
    config = TrainConfig(steps=20, eval_interval=10, batch_size=8, lr=1e-2, warmup_steps=2, device="cpu")
    trainer = new_trainer(TEXT, "text", "mlp", config, block_size=3, n_embd=8, n_hidden=16)
    snapshots = Snapshots(trainer.model)
    for event in trainer.run():
        snapshots(event)
    assert snapshots.steps == [0, 1, 10, 20]  # the start, then every evaluation
    assert not np.allclose(snapshots.tables[0], snapshots.tables[-1])
    np.testing.assert_array_equal(snapshots.tables[-1], embedding_table(trainer.model).numpy())
    history = embedding_history(snapshots)
    assert history.coords.shape == (4, trainer.model.config.vocab_size, 2)
    fig = embeddings_figure(history)
    assert len(fig.frames) == 4 and [s.label for s in fig.layout.sliders[0].steps] == ["0", "1", "10", "20"]
    classes = {t.name for t in fig.data}
    assert {"vowel", "consonant", "punctuation", "whitespace"} <= classes and "digit" not in classes
    assert all(len(f.data) == len(fig.data) for f in fig.frames)


def test_snapshots_thin_out_past_max_frames(tiny):
    model, _ = tiny("mlp")
    snapshots = Snapshots(model, max_frames=4)
    for step in range(1, 8):
        snapshots.record(step)
    assert len(snapshots.steps) <= 4 and snapshots.steps[0] == 0 and snapshots.steps[-1] == 7


def test_a_single_table_has_no_slider_and_escaped_labels(tiny):
    model, _ = tiny("transformer", TEXT + "<&>")
    fig = embeddings_figure(embeddings(model))
    assert not fig.frames and not fig.layout.sliders
    texts = [s for t in fig.data for s in t.text]
    assert "&lt;" in texts and "&amp;" in texts and "<" not in texts
