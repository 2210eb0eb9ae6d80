"""How long counting the bigram table of tinyshakespeare takes, in milliseconds.

python bench/bigram_count.py
"""

import time

from common import data_file, machine

from charlm.data import Corpus
from charlm.models import build_model, model_config


def main() -> None:
    text = data_file("tinyshakespeare.txt").read_text()
    start = time.perf_counter()
    corpus = Corpus.from_text(text, "text")
    encode_ms = (time.perf_counter() - start) * 1e3
    model = build_model(model_config("bigram", chars=corpus.vocab.chars))
    times = []
    for _ in range(20):
        start = time.perf_counter()
        model.fit(corpus.train)
        times.append((time.perf_counter() - start) * 1e3)
    print(
        f"tinyshakespeare: {len(text):,} characters, {len(corpus.train.tokens):,} training pairs; {machine()}"
    )
    print(f"encode and split       {encode_ms:8.1f} ms")
    print(f"count the bigram table {min(times):8.2f} ms (best of 20; median {sorted(times)[10]:.2f} ms)")


if __name__ == "__main__":
    main()
