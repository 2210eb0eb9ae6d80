"""Every view refuses a rung without the thing it shows, with a one-line message naming the rung and
what to train instead; every rung that has it is served."""

import pytest
from inside_texts import RUNGS, TEXT

from charlm.errors import CharlmError
from charlm.inside import Dynamics, attention, embeddings, neurons, surprisal

pytest_plugins = ["inside_fixtures"]  # the `tiny` model factory (not a conftest: one conftest per name)

VIEWS = {  # view -> (how to call it, the rungs that have it)
    "attention": (lambda m: attention(m, TEXT[:20]), {"transformer"}),
    "embeddings": (embeddings, set(RUNGS) - {"bigram"}),
    "neurons": (
        lambda m: neurons(m, TEXT[:20]),
        {"mlp", "rnn", "gru", "lstm", "transformer", "numpy-mlp", "value-mlp"},
    ),
    "surprisal": (lambda m: surprisal(m, TEXT[:20]), set(RUNGS)),
    "dynamics": (Dynamics, set(RUNGS) - {"bigram", "numpy-bigram", "numpy-mlp", "value-mlp"}),
}


@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("name", RUNGS)
def test_a_view_serves_or_refuses_each_rung_clearly(tiny, view, name):
    call, rungs = VIEWS[view]
    model, _ = tiny(name)
    if name in rungs:
        result = call(model)
        if isinstance(result, Dynamics):
            result.close()
        return
    with pytest.raises(CharlmError) as refused:
        call(model)
    message = str(refused.value)
    assert "\n" not in message and message.startswith(f"the {name} ") and "train" in message.lower()
