"""What the playground's tests share besides fixtures: texts, the sliders' values, the train handler run
to the end, the served app's API called by name, and waiting for a condition with a deadline."""

import time

import pytest
from gradio_client import Client

from charlm.models import MODELS
from charlm.playground import sample_tab, train_tab
from charlm.playground.session import SESSION

NAMES = (  # one item per line, enough for every rung to learn something in a few dozen steps
    "amara\nbelen\ncorin\ndalia\nelio\nfarah\ngiles\nhana\nilan\njora\nkira\nlenna\nmilo\nnadia\noren\n"
    "pia\nquin\nrosa\nsamir\ntalia\numa\nvera\nwren\nxena\nyara\nzane\naria\nboris\ncleo\ndorian\n"
) * 3
TEXT = "the cat sat on the mat. the dog sat on the log. a cat and a dog met on a mat.\n" * 6
MLP = dict(
    block_size=3, n_embd=8, n_hidden=32, n_layer=1, n_head=1, dropout=0.0, smoothing=1.0, activation="tanh"
)


def values(**overrides) -> list:
    """The model-setting sliders' values, in the order the handlers take them (train_tab.SLIDERS)."""
    return [overrides.get(s.name, MLP[s.name]) for s in train_tab.SLIDERS]


def defaults(model: str) -> list:
    """The sliders as choosing `model` sets them: its own settings at their declared defaults."""
    own = {s.name: s.default for s in MODELS[model].settings()}
    return [own.get(s.name, s.default) for s in train_tab.SLIDERS]


def trained(
    text=NAMES,
    mode="lines",
    model="mlp",
    steps=20,
    ws=None,
    continue_training=False,
    request=None,
    plan=None,
    seed=3,
    **overrides,
) -> list[dict]:
    """Run the train handler to the end; returns every update it yielded (dicts by output name). `plan`
    is what the page's budget.plan_run hands the training (the API has none)."""
    args = (ws, text, mode, model, continue_training, steps, 16, 1e-2, seed, *values(**overrides))
    args += (plan,) if plan is not None else ()
    return list(train_tab.train(*args, request=request))


def generated(ws, prompt="", source=SESSION, text=NAMES, **options) -> list[dict]:
    """Run the Sample tab's generate handler to the end; returns every update it yielded."""
    o = dict(temperature=1.0, top_k=0, top_p=1.0, length=40, num_samples=3, seed=5, colour=True) | options
    return list(sample_tab.generate(ws, source, text, prompt, *o.values()))


def wait_until(condition, timeout: float = 60, what: str = "the condition") -> None:
    """Poll `condition` until it holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def client(served) -> Client:
    return Client(served.url, verbose=False, analytics_enabled=False, download_files=False)


def train_api(c: Client, text=NAMES, mode="lines", model="mlp", steps=30, **overrides):
    return c.predict(text, mode, model, False, steps, 16, 1e-2, 3, *values(**overrides), api_name="/train")


def sample_api(c: Client, source=SESSION, prompt="", seed=5, temperature=1.0, num_samples=3, length=30):
    return c.predict(
        source, NAMES, prompt, temperature, 0, 1.0, length, num_samples, seed, False, api_name="/sample"
    )


def choose(page, elem_id: str, option) -> None:
    """Pick an option (a name or a compiled pattern) of a Gradio dropdown in a Playwright page."""
    page.locator(f"#{elem_id} input").click()
    page.get_by_role("option", name=option).click()
