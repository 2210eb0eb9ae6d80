"""The texts and tiny settings the "Look inside" tests share."""

from charlm.models import MODELS

TEXT = (
    'the quick brown fox (a "red" one) jumps over the lazy dog.\n'
    "A stitch in time saves nine; look before you leap!\n"
) * 4
NAMES = "emma\nolivia\nava\nisabella\nsophia\nmia\namelia\nharper\nevelyn\nabigail\n"
SETTINGS = {
    "transformer": dict(n_layer=2, n_head=2, n_embd=16, block_size=16),
    "mlp": dict(block_size=3, n_embd=8, n_hidden=16),
    "numpy-mlp": dict(block_size=3, n_embd=8, n_hidden=16),
    "value-mlp": dict(block_size=2, n_embd=2, n_hidden=4),  # every number a Value: keep it tiny
    "rnn": dict(n_embd=8, n_hidden=16, block_size=16),
    "gru": dict(n_embd=8, n_hidden=16, block_size=16),
    "lstm": dict(n_embd=8, n_hidden=16, n_layer=2, block_size=16),
}
RUNGS = list(MODELS)  # every rung of the registry, so a new one is covered when it is added
