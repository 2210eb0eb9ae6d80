"""The runs panel and the Sample tab's inspector in a real browser: train two models, tick both runs,
see both curves on one chart (a screenshot of it lands in test-output/, the README's picture); click a
character of a sample to inspect it; a bad prompt is one message in place of the samples; Stop with
nothing running says so. Without chromium these tests skip locally and fail in CI."""

import re

import pytest
from playground_helpers import choose

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing"),  # Gradio's own use of pandas
]
pytest_plugins = ["playground_fixtures"]  # served, browser, screenshots

STEPS = 300


def train(page, model: str, runs_before: int) -> None:
    """Train `model` for STEPS steps (the steps set, no time budget) and wait until its run is kept."""
    choose(page, "train-model", re.compile(rf"\({model}\)$"))
    page.wait_for_function(
        f"(document.querySelector('#train-model input')?.value || '').endsWith('({model})')"
    )
    page.locator("#steps input").fill(str(STEPS))
    page.locator("#steps input").press("Tab")
    page.locator("#train-button").click()
    page.wait_for_function(
        f"document.querySelectorAll('#runs-shown input[type=checkbox]').length == {runs_before + 1}",
        timeout=120_000,
    )


def curves(page) -> list[dict]:
    return page.evaluate(
        """() => { const p = document.querySelector('#loss-plot .js-plotly-plot');
           return p && p.data ? p.data.map(t => ({name: t.name, n: (t.x || []).length,
                                                   visible: t.visible === undefined || t.visible === true}))
                              : []; }"""
    )


def both_runs_on_one_chart(page, screenshots) -> None:
    """Tick both runs: both validation curves (and their train curves) are drawn, in the legend by model."""
    boxes = page.locator("#runs-shown input[type=checkbox]")
    for i in range(2):
        boxes.nth(i).check()
    page.wait_for_function(
        "() => { const p = document.querySelector('#loss-plot .js-plotly-plot');"
        " return p && p.data && p.data.filter(t => t.name.endsWith('validation')).length == 2; }",
        timeout=30_000,
    )
    validation = [c for c in curves(page) if c["name"].endswith("validation")]
    assert len({c["name"] for c in validation}) == 2 and all(c["visible"] for c in validation)
    assert any("mlp" in c["name"].lower() for c in validation)
    assert any("transformer" in c["name"].lower() for c in validation)
    assert all(c["n"] >= 2 for c in validation)  # curves, not single points
    page.locator("#loss-plot").scroll_into_view_if_needed()
    page.locator("#loss-plot").screenshot(path=screenshots / "runs.png")


def inspect_a_clicked_character(page, screenshots) -> None:
    """Sample, then click the sixth character of a sample after the first: the inspector moves there.
    Names are short and the model trained here differs a little from run to run, so ten samples are
    drawn and the first one past the first with a sixth character is clicked."""
    page.get_by_role("tab", name="Sample").click()
    page.get_by_label("Samples", exact=True).fill("10")
    page.locator("#generate-button").click()
    page.locator('#samples [data-sample="10"]').wait_for(timeout=30_000)
    page.wait_for_function("document.querySelector('#alternatives').innerText.includes('At position 0')")
    k = page.evaluate(
        "Array.from(document.querySelectorAll('#samples [data-sample]'))"
        ".map(s => s.dataset.sample).find(k => k !== '1' &&"
        ' document.querySelector(`#samples [data-sample="${k}"] [data-pos="5"]`))'
    )
    sixth = f'#samples [data-sample="{k}"] [data-pos="5"]'
    page.locator(sixth).click()
    page.wait_for_function("document.querySelector('#alternatives').innerText.includes('At position 5')")
    assert page.locator("#position input[type=number]").input_value() == "5"
    outlined = page.locator(sixth).get_attribute("style")
    assert "outline" in outlined
    # a new Generate (the same seed: the same samples) keeps the inspected position
    page.locator("#generate-button").click()
    page.wait_for_function(
        f"() => {{ const c = document.querySelector('{sixth}');"
        " return c && c.getAttribute('style').includes('outline'); }",
        timeout=30_000,
    )
    assert "At position 5" in page.locator("#alternatives").inner_text()
    page.screenshot(path=screenshots / "inspect.png", full_page=True)

    # A bad prompt: one message where the samples were, and no pop-up.
    page.locator("#sample-prompt textarea").fill("Z€")
    page.locator("#generate-button").click()
    page.wait_for_function("document.querySelector('#samples').innerText.includes('vocabulary')")
    assert page.locator("#samples .charlm-sample").count() == 0
    assert page.locator("#samples").inner_text().count("⚠️") == 1
    assert page.get_by_test_id("toast-body").filter(has_text="vocabulary").count() == 0


def test_two_runs_on_one_chart_and_a_click_inspects_a_character(served, browser, screenshots):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(served.url)
        page.wait_for_function("(document.querySelector('#train-text textarea')?.value || '').length > 1000")
        choose(page, "train-budget", "the steps set")
        train(page, "mlp", 0)
        train(page, "transformer", 1)

        both_runs_on_one_chart(page, screenshots)
        # Stop with nothing training says so.
        page.locator("#stop-button").click()
        page.wait_for_function(
            "document.querySelector('#train-progress').innerText.includes('nothing to stop')"
        )

        inspect_a_clicked_character(page, screenshots)
    except Exception:
        page.screenshot(path=screenshots / "failure.png", full_page=True)
        raise
    assert errors == []
    page.close()
