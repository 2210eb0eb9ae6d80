"""The Train tab's loss chart carries each estimate's uncertainty: a band of two standard errors
around the train and validation evaluations, as wide as the errors the training reported."""

from playground_helpers import NAMES, trained

from charlm.playground import settings


def test_the_loss_chart_draws_the_estimates_with_their_band(monkeypatch):
    monkeypatch.setattr(settings, "EVAL_TOKENS", 16)  # a sample smaller than the split: it has an error
    last = trained(NAMES, "lines", "mlp", steps=40)[-1]
    evals = [e for e in last["ws"].history if e.val_loss is not None]
    assert evals and all(e.val_loss_err > 0 for e in evals)
    traces = {t.name: t for t in last["loss"].data}
    band = traces["validation ± 2 standard errors"]
    top = list(band.y[: len(band.y) // 2])  # the band goes out along the top and back along the bottom
    assert top[-1] == evals[-1].val_loss + 2 * evals[-1].val_loss_err
