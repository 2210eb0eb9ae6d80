"""The From scratch tab's scalar-autograd parts in a real browser: the computation graph drawn, its nodes'
local derivative rules in the <title> a hover shows, and value-mlp trained beside numpy-mlp and mlp.
Screenshots land in test-output/ (the graph's is docs/scratch-graph.png). Skips without chromium locally."""

import pytest

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing"),  # Gradio's own use of pandas
]
pytest_plugins = ["playground_fixtures"]  # served, browser, screenshots

NAMES = "\n".join(["amara", "belen", "corin", "dalia", "elio", "farah", "giles", "hana", "ilan", "jora"] * 3)


def test_the_graph_and_value_mlp_beside_numpy_mlp_and_mlp_in_the_browser(served, browser, screenshots):
    page = browser.new_page(viewport={"width": 1400, "height": 1300})  # the graph's panel fits: no scrolling
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(served.url)
        page.locator("#train-text textarea").fill(NAMES)
        page.get_by_role("tab", name="From scratch (NumPy)").click()

        # The graph of one prediction: an SVG whose nodes carry their rule in the <title> hover shows.
        page.locator("#graph-button").click()
        page.wait_for_selector("#scratch-graph svg g.node", timeout=30_000)
        titles = page.evaluate(
            "Array.from(document.querySelectorAll('#scratch-graph svg g.node > title'), t => t.textContent)"
        )
        assert len(titles) > 100 and sum(t.startswith("out = a · b") for t in titles) > 10
        page.locator("#scratch-graph").scroll_into_view_if_needed()
        node = page.locator("#scratch-graph svg g.node").filter(has_text="relu").first
        node.hover()
        stroke = node.locator("path").first.evaluate("p => getComputedStyle(p).strokeWidth")
        assert stroke == "3px"  # outlined while hovered
        assert node.locator("title").text_content().startswith("out = max(a, 0)")
        page.locator("#scratch-graph").screenshot(path=screenshots / "scratch-graph.png")

        # value-mlp, tiny, beside numpy-mlp and mlp: the time per step first, then three curves.
        page.get_by_label("Scalar-autograd MLP (plain SGD) beside", exact=False).check()
        page.wait_for_function(
            "document.querySelector('#compare-estimate').innerText.includes('s a step')", timeout=30_000
        )
        page.locator("#compare-steps input").fill("20")
        page.locator("#compare-steps input").press("Tab")
        page.locator("#compare-button").click()
        page.wait_for_function(
            "document.querySelector('#compare-results').innerText.includes('Speed ratio')", timeout=120_000
        )
        names = page.evaluate(
            "Array.from(document.querySelector('#compare-plot .js-plotly-plot').data, t => t.name)"
        )
        assert names == [
            f"{m} {p}" for m in ("value-mlp", "numpy-mlp", "mlp") for p in ("validation", "train")
        ]
        assert "as fast as value-mlp" in page.locator("#compare-results").inner_text()
        page.screenshot(path=screenshots / "scratch-three.png", full_page=True)
    except Exception:
        page.screenshot(path=screenshots / "failure.png", full_page=True)
        raise
    assert errors == []
    page.close()
