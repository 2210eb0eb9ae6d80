"""Recipes: settings found by measuring, as plain functions that the command line, the auto settings
and the benchmarks call. `speedrun_transformer` is the fastest way found on a 2-core CPU to a
transformer at validation loss 1.88 on tinyshakespeare (README, "Speed run")."""

BABY_GPT = dict(n_layer=4, n_head=4, n_embd=128, block_size=64, dropout=0.0)  # nanoGPT's CPU baby GPT
BABY_GPT_TRAINING = dict(steps=2000, batch_size=12, lr=3e-3, weight_decay=0.1)


def speedrun_transformer(text_chars: int = 1_115_394) -> tuple[dict, dict]:
    """Model settings and training settings (TrainConfig fields) that train a transformer on a text of
    about `text_chars` characters in the least time: 340 steps of 24 x 64 characters (522,240 training
    tokens, half a pass over tinyshakespeare); on a text under a million characters the steps shrink in
    proportion (never under 100). Measured on tinyshakespeare only: validation 1.8370, 1.8622 and
    1.8628 with seeds 1337, 1 and 2."""
    model = dict(n_layer=3, n_head=4, n_embd=128, block_size=64, dropout=0.0)
    steps = 340 if text_chars >= 1_000_000 else max(100, 340 * text_chars // 1_000_000)
    training = dict(
        steps=steps,
        batch_size=24,
        lr=1e-2,
        weight_decay=0.1,
        optimizer="muon",  # the hidden matrices; embeddings, biases and norms stay with AdamW
        # evaluations cost: one halfway for the curve, one at the end (where the target is read)
        eval_interval=max(1, steps // 2),
        eval_tokens=4096,
    )
    return model, training
