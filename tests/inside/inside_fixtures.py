"""Tiny models of every rung for the "Look inside" tests, built with only the settings each has."""

import pytest
import torch
from inside_texts import SETTINGS, TEXT

from charlm.data import Corpus
from charlm.models import build_model, model_config


@pytest.fixture
def tiny():
    """A factory of freshly initialised tiny models, and their corpora."""
    torch.set_num_threads(1)

    def make(name: str, text: str = TEXT, mode: str = "text", seed: int = 0, **settings):
        corpus = Corpus.from_text(text, mode)
        torch.manual_seed(seed)
        config = model_config(
            name, chars=corpus.vocab.chars, mode=mode, **{**SETTINGS.get(name, {}), **settings}
        )
        return build_model(config), corpus

    return make
