"""The texts and tiny settings the "Look inside" tests share."""

TEXT = (
    'the quick brown fox (a "red" one) jumps over the lazy dog.\n'
    "A stitch in time saves nine; look before you leap!\n"
) * 4
NAMES = "emma\nolivia\nava\nisabella\nsophia\nmia\namelia\nharper\nevelyn\nabigail\n"
SETTINGS = {
    "transformer": dict(n_layer=2, n_head=2, n_embd=16, block_size=16),
    "mlp": dict(block_size=3, n_embd=8, n_hidden=16),
    "numpy-mlp": dict(block_size=3, n_embd=8, n_hidden=16),
    "rnn": dict(n_embd=8, n_hidden=16, block_size=16),
    "gru": dict(n_embd=8, n_hidden=16, block_size=16),
    "lstm": dict(n_embd=8, n_hidden=16, n_layer=2, block_size=16),
}
RUNGS = ["bigram", "neural-bigram", "mlp", "rnn", "gru", "lstm", "transformer", "numpy-bigram", "numpy-mlp"]
