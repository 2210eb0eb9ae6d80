"""Look inside a model: attention, embeddings, single units, surprisal and training dynamics, as plain
numbers (one entry function per view) and the figures and HTML the playground's tab shows of them."""

from charlm.inside.attention import Attention, attention, attention_forward
from charlm.inside.dynamics import Dynamics
from charlm.inside.embeddings import (
    Embeddings,
    Snapshots,
    char_class,
    embedding_history,
    embedding_table,
    embeddings,
    pca,
)
from charlm.inside.figures import (
    attention_grid,
    attention_heatmap,
    attention_text_html,
    comparison_html,
    dynamics_figure,
    embeddings_figure,
    neuron_html,
    ranking_figure,
    surprisal_html,
)
from charlm.inside.neurons import FEATURES, Neurons, UnitScore, neurons, text_features
from charlm.inside.reading import MAX_CHARS, Reading, read
from charlm.inside.surprisal import Comparison, Surprisal, compare, surprisal

__all__ = [
    "FEATURES",
    "MAX_CHARS",
    "Attention",
    "Comparison",
    "Dynamics",
    "Embeddings",
    "Neurons",
    "Reading",
    "Snapshots",
    "Surprisal",
    "UnitScore",
    "attention",
    "attention_forward",
    "attention_grid",
    "attention_heatmap",
    "attention_text_html",
    "char_class",
    "compare",
    "comparison_html",
    "dynamics_figure",
    "embedding_history",
    "embedding_table",
    "embeddings",
    "embeddings_figure",
    "neuron_html",
    "neurons",
    "pca",
    "ranking_figure",
    "read",
    "surprisal",
    "surprisal_html",
    "text_features",
]
