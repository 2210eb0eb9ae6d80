"""The playground in a real browser: Playwright driving Debian's chromium against the app served in-process.
Paste text, train, watch the loss chart grow, sample at another temperature, save; a screenshot of each
tab lands in test-output/. Without chromium these tests skip locally and fail in CI."""

import numpy as np
import pytest
from playground_helpers import choose

from charlm.checkpoint import load_checkpoint
from charlm.inside import attention
from charlm.playground import settings
from charlm.playground.session import TRAINING
from charlm.playground.train_tab import load_example

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing"),  # Gradio's own use of pandas
]
pytest_plugins = ["playground_fixtures"]  # served, browser, screenshots, wait_for

TRAP = "<img src=x onerror=window.pwned=1>"  # a line of the text, then a prompt: it must stay text
NAMES = [
    "amara",
    "belen",
    "corin",
    "dalia",
    "elio",
    "farah",
    "giles",
    "hana",
    "ilan",
    "jora",
    "kira",
    "lenna",
    "milo",
    "nadia",
    "oren",
    "pia",
    "quin",
    "rosa",
]
TEXT = "\n".join(NAMES * 2 + [TRAP] + NAMES * 3) + "\n"


def plot_data(page, elem_id: str) -> list[dict]:
    """The traces plotly drew in the plot with this elem_id (empty until it has drawn)."""
    return page.evaluate(
        """id => {
            const plot = document.querySelector(`#${id} .js-plotly-plot`);
            return plot && plot.data ? plot.data.map(t => ({name: t.name, x: Array.from(t.x || [])})) : [];
        }""",
        elem_id,
    )


def test_train_watch_sample_and_save_in_the_browser(served, browser, screenshots):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    outside, errors = [], []
    page.on(
        "request",
        lambda r: (
            r.url.startswith(served.url) or r.url.startswith(("data:", "blob:")) or outside.append(r.url)
        ),
    )
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(served.url)

        # The example is in the box at start-up, with its summary and the parameter count.
        text = page.locator("#train-text textarea")
        page.wait_for_function("(document.querySelector('#train-text textarea')?.value || '') !== ''")
        assert text.input_value().startswith(load_example(next(iter(settings.EXAMPLES)))[0][:50])
        assert "parameters" in page.locator("#param-count").inner_text()

        # Paste a text, train a few hundred steps (the steps set: no time budget, no auto settings, an
        # evaluation every 12 steps), and watch the validation curve grow while it trains.
        text.fill(TEXT)
        choose(page, "train-budget", "the steps set")
        page.locator("#steps input").fill("300")
        page.locator("#steps input").press("Tab")
        page.wait_for_function(
            "document.querySelector('#corpus-summary').innerText.includes('91 lines')"
        )  # lines
        page.locator("#train-button").click()
        page.wait_for_function(
            "() => { const p = document.querySelector('#loss-plot .js-plotly-plot');"
            " return p && p.data && p.data.some(t => t.name === 'validation' && t.x.length >= 2); }",
            timeout=60_000,
        )
        seen_while_training = len(
            next(t["x"] for t in plot_data(page, "loss-plot") if t["name"] == "validation")
        )
        page.wait_for_function(
            "document.querySelector('#train-progress').innerText.includes('300 / 300')", timeout=90_000
        )
        page.wait_for_function("document.querySelector('#train-metrics').innerText.includes('perplexity')")
        validation = next(t["x"] for t in plot_data(page, "loss-plot") if t["name"] == "validation")
        assert validation[-1] == 300 and len(validation) > seen_while_training
        assert "step" in page.locator("#live-samples textarea").input_value()
        assert "Transformer" in page.locator("#session-model").inner_text()
        page.screenshot(path=screenshots / "1-train.png", full_page=True)

        page.get_by_role("tab", name="Bigram table").click()
        page.wait_for_function("document.querySelector('#bigram-heatmap .js-plotly-plot') !== null")
        assert "&lt;" in plot_data(page, "bigram-heatmap")[0]["x"]  # "<" drawn as text, not markup
        page.screenshot(path=screenshots / "2-bigram.png", full_page=True)

        # Sample at temperature 0.5: the chart shows the distribution the sampler used beside the model's.
        page.get_by_role("tab", name="Sample").click()
        page.locator("#temperature input[type=number]").fill("0.5")
        page.locator("#temperature input[type=number]").press("Enter")
        page.locator("#generate-button").click()
        page.wait_for_function(
            "() => { const p = document.querySelector('#distribution-plot .js-plotly-plot');"
            " return p && p.data && p.data.length == 2 && p.data[1].name.includes('temperature 0.5'); }",
            timeout=30_000,
        )
        samples = page.locator("#samples")
        assert (
            samples.inner_text().count("Sample ") == 3
            and "At position 0" in page.locator("#alternatives").inner_text()
        )
        page.screenshot(path=screenshots / "3-sample.png", full_page=True)

        # Model output is text, never markup: a prompt that is an HTML tag shows as itself.
        page.locator("#sample-prompt textarea").fill(TRAP)
        page.locator("#generate-button").click()
        page.wait_for_function(f"document.querySelector('#samples').innerText.includes({TRAP!r})")
        assert samples.locator("img").count() == 0 and page.evaluate("window.pwned") is None

        # Save, and a bad name gives a clear message in the page.
        page.get_by_role("tab", name="Checkpoints").click()
        name = page.locator("#checkpoint-name textarea")
        name.fill("names-in-browser")
        page.locator("#save-button").click()
        page.wait_for_function("document.querySelector('#checkpoint-status').innerText.includes('Saved')")
        assert (served.checkpoints / "names-in-browser" / "model.safetensors").is_file()
        name.fill("../outside")
        page.locator("#save-button").click()
        # the reason replaces "Saved ..." under the name box, with no pop-up
        page.wait_for_function(
            "document.querySelector('#checkpoint-status').innerText.includes('not a valid checkpoint name')"
        )
        assert "Saved" not in page.locator("#checkpoint-status").inner_text()
        assert page.get_by_test_id("toast-body").count() == 0
        page.screenshot(path=screenshots / "4-checkpoints.png")  # the viewport, where the message is

        # Deleting asks first.
        page.get_by_role("button", name="Delete…").click()
        page.get_by_text("for good?").wait_for()
        page.get_by_role("button", name="Yes, delete it").click()
        page.wait_for_function(
            "document.querySelector('#checkpoint-chosen-status').innerText.includes('Deleted')"
        )
        assert not (served.checkpoints / "names-in-browser").exists()

    except Exception:
        page.screenshot(path=screenshots / "failure.png", full_page=True)
        raise
    assert outside == [], "the page fetched something from outside the app: it must work offline"
    assert errors == []
    page.close()


def test_stop_keeps_the_model_and_closing_the_page_ends_training(served, browser, screenshots, wait_for):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(served.url)
    page.locator("#steps input").fill("20000")
    page.locator("#steps input").press("Tab")
    page.locator("#train-button").click()
    page.wait_for_function(
        "document.querySelector('#train-progress').innerText.includes(' left')", timeout=60_000
    )
    page.locator("#stop-button").click()
    page.wait_for_function("document.querySelector('#train-metrics').innerText.includes('perplexity')")
    wait_for(lambda: TRAINING.count == 0, what="training to end after Stop")
    assert "stopped: the model is kept as trained so far" in page.locator("#train-progress").inner_text()
    assert "Transformer" in page.locator("#session-model").inner_text()  # the model, as trained so far
    assert page.get_by_text("Error", exact=True).count() == 0
    page.screenshot(path=screenshots / "stopped.png")

    # Closing the page mid-training ends the training too.
    page.locator("#train-button").click()
    wait_for(lambda: TRAINING.count == 1, what="the second training to start")
    page.close()
    wait_for(lambda: TRAINING.count == 0, what="training to end after the page closed")


def test_the_from_scratch_tab_in_the_browser(served, browser, screenshots):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(served.url)
        page.get_by_role("tab", name="From scratch (NumPy)").click()
        page.locator("#compare-steps input").fill("60")
        page.locator("#compare-steps input").press("Tab")
        page.locator("#compare-button").click()
        page.wait_for_function(
            "document.querySelector('#compare-results').innerText.includes('the speed of')", timeout=90_000
        )
        names = page.evaluate(
            "Array.from(document.querySelector('#compare-plot .js-plotly-plot').data, t => t.name)"
        )
        assert names == [
            "numpy-bigram validation",
            "numpy-bigram train",
            "neural-bigram validation",
            "neural-bigram train",
        ]
        page.get_by_label("numpy-mlp", exact=True).check()
        page.locator("#check-button").click()
        page.wait_for_function(
            "document.querySelector('#gradient-check').innerText.includes('agrees with autograd')",
            timeout=60_000,
        )
        assert page.locator("#gradient-check tbody tr").count() == 5  # numpy-mlp: C, W1, b1, W2, b2
        page.screenshot(path=screenshots / "scratch.png", full_page=True)
    except Exception:
        page.screenshot(path=screenshots / "failure.png", full_page=True)
        raise
    assert errors == []
    page.close()


def open_view(page, name: str) -> None:
    """Open one of the Look inside tab's closed accordions (all but attention start closed)."""
    page.locator(f"#inside-{name} button.label-wrap").click()


def drawn(page, elem_id: str, timeout: int = 30_000) -> None:
    page.wait_for_function(
        f"() => {{ const p = document.querySelector('#{elem_id} .js-plotly-plot');"
        " return p && p.data && p.data.length > 0; }",
        timeout=timeout,
    )


def test_look_inside_a_tiny_transformer_in_the_browser(served, browser, screenshots):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(served.url)
        page.wait_for_function("(document.querySelector('#train-text textarea')?.value || '') !== ''")
        page.locator("#train-text textarea").fill(TEXT)  # after the example arrives with the page
        choose(page, "train-budget", "the steps set")  # the transformer's own settings: two heads
        page.locator("#steps input").fill("400")
        page.locator("#steps input").press("Tab")
        page.locator("#train-button").click()
        page.wait_for_function(
            "document.querySelector('#train-metrics').innerText.includes('perplexity')", timeout=120_000
        )
        assert "Transformer" in page.locator("#session-model").inner_text()
        page.get_by_role("tab", name="Checkpoints").click()  # saved, to compute its weights here
        page.locator("#checkpoint-name textarea").fill("inside-browser")
        page.locator("#save-button").click()
        page.wait_for_function("document.querySelector('#checkpoint-status').innerText.includes('Saved')")
        page.get_by_role("tab", name="Look inside").click()

        # Attention: the heatmap and grid draw for the start of the training text; a click on a
        # character makes it the query, and its shading is the model's own weights for that query.
        page.locator("#attention-head input").fill("1")
        page.locator("#attention-head input").press("Tab")  # committed before the click reads it
        page.locator("#attention-button").click()
        drawn(page, "attention-heatmap")
        page.wait_for_function(  # the second head (1-based in titles), not the default first
            "document.querySelector('#attention-heatmap').innerText.includes('head 2')", timeout=30_000
        )
        drawn(page, "attention-grid")
        text = page.locator("#attention-text textarea").input_value()
        assert text == TEXT[:30]  # the transformer's block of 32, less the line boundaries
        page.locator('#attention-chars span[data-q="12"]').click()
        page.wait_for_selector('#attention-chars span[data-q="12"][style*="outline"]', timeout=30_000)
        assert page.locator("#attention-query input").input_value() == "12"
        shaded = page.evaluate(
            "Array.from(document.querySelectorAll('#attention-chars span[data-w]'), s => Number(s.dataset.w))"
        )
        model = load_checkpoint(served.checkpoints / "inside-browser").model
        np.testing.assert_allclose(shaded, attention(model, text).weights[0, 1, 12, :13], atol=1e-6)
        page.locator("#inside-attention").screenshot(path=screenshots / "inside-attention.png")

        open_view(page, "embeddings")
        page.locator("#embeddings-button").click()
        drawn(page, "embeddings-plot")
        sliders = page.evaluate(
            "document.querySelector('#embeddings-plot .js-plotly-plot').layout.sliders[0].steps.length"
        )
        assert sliders > 1  # a snapshot at each evaluation
        page.locator("#inside-embeddings").screenshot(path=screenshots / "inside-embeddings.png")

        open_view(page, "neurons")
        page.locator("#neurons-button").click()
        drawn(page, "neurons-ranking")
        page.wait_for_selector("#neurons-text span[title]")
        page.locator("#neurons-unit input").fill("5")
        page.locator("#unit-button").click()
        page.wait_for_function("document.querySelector('#neurons-text').innerText.includes('unit 5')")
        page.locator("#inside-neurons").screenshot(path=screenshots / "inside-neurons.png")

        open_view(page, "surprisal")
        page.locator("#surprisal-button").click()
        page.wait_for_function(
            "document.querySelector('#surprisal-text').innerText.includes('bits per character')"
        )
        assert page.locator("#surprisal-text img").count() == 0 and page.evaluate("window.pwned") is None
        page.locator("#inside-surprisal").screenshot(path=screenshots / "inside-surprisal.png")

        open_view(page, "dynamics")
        page.locator("#dynamics-button").click()
        drawn(page, "dynamics-plot")
        assert len(plot_data(page, "dynamics-plot")) > 3
        page.locator("#inside-dynamics").screenshot(path=screenshots / "inside-dynamics.png")
    except Exception:
        page.screenshot(path=screenshots / "failure.png", full_page=True)
        raise
    assert errors == []
    page.close()


def test_a_link_opens_a_hub_model_and_the_hub_can_be_browsed(
    served, browser, screenshots, monkeypatch, tmp_path
):
    from hub_server import WRITE_TOKEN, FakeHub, use_fake_hub
    from playground_helpers import trained

    from charlm.checkpoint import save_checkpoint
    from charlm.hub import push

    hub = FakeHub().start()
    use_fake_hub(hub, monkeypatch, tmp_path / "hf")
    ws = trained(steps=20)[-1]["ws"]
    path = save_checkpoint(tmp_path / "linked", ws.model, trainer=ws.trainer, history=ws.history)
    push(path, "alice/linked", token=WRITE_TOKEN)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(f"{served.url}?model=alice/linked&prompt=ka&temperature=0.4")
        page.wait_for_function(
            "document.querySelector('#session-model')?.innerText.includes('pulled from the Hub: alice/linked')",
            timeout=60_000,
        )
        assert page.get_by_role("tab", name="Sample").get_attribute("aria-selected") == "true"
        assert page.locator("#sample-prompt textarea").input_value() == "ka"
        assert page.locator("#temperature input[type=number]").input_value() == "0.4"
        page.screenshot(path=screenshots / "1-opened-by-link.png", full_page=True)

        page.get_by_text("…or a model from the Hugging Face Hub").click()
        page.get_by_text("Browse the Hub").first.click()
        page.locator("#sample-hub-search-button").click()
        page.wait_for_function(
            "document.querySelector('#sample-hub-table')?.innerText.includes('alice/linked')", timeout=30_000
        )
        page.screenshot(path=screenshots / "2-browse.png", full_page=True)

        page.goto(f"{served.url}?model=alice/nowhere")  # a bad repo: the page as usual, and one line
        page.get_by_test_id("toast-body").filter(
            has_text="alice/nowhere does not exist on the Hub"
        ).wait_for()
        assert "no model yet" in page.locator("#session-model").inner_text()
        assert page.get_by_role("tab", name="Train").get_attribute("aria-selected") == "true"
        page.screenshot(path=screenshots / "3-bad-link.png")
    except Exception:
        page.screenshot(path=screenshots / "failure.png", full_page=True)
        raise
    finally:
        hub.stop()
    assert errors == []
    page.close()
