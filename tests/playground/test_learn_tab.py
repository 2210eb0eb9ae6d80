"""The Learn tab: a lesson before and after its run, progress kept in the browser, the lesson's model
made the session's, its API name through gradio_client, and lesson 1 then 2 in a real browser."""

import gradio as gr
import pytest
from playground_helpers import client

from charlm.lessons import LESSONS
from charlm.playground import learn_tab

pytest_plugins = ["playground_fixtures"]  # served, browser, screenshots


def test_a_lesson_shows_dots_until_its_run_fills_in_the_numbers():
    before = learn_tab.choose_lesson(LESSONS[0].title, None)
    assert "…" in before["text"] and "{" not in before["text"]
    assert before["progress"] == {"lesson": LESSONS[0].title}
    after = learn_tab.run(LESSONS[0].title, None)
    assert "…" not in after["text"] and "{" not in after["text"] and "nats" in after["text"]
    done = learn_tab.mark_done(LESSONS[0].title, before["progress"])
    assert done["progress"]["done"] == [LESSONS[0].title] and "1 of 9" in done["status"]
    assert after["ws"].model.trained_by_counting and "lesson" in after["session"]
    assert after["figure0"]["visible"] and not after["figure1"]["visible"]


def test_progress_is_restored_and_go_further_opens_the_lessons_tab():
    assert (
        learn_tab.restore({"lesson": LESSONS[3].title, "done": [LESSONS[0].title]})["lesson"]
        == LESSONS[3].title
    )
    assert learn_tab.restore(None)["lesson"] == LESSONS[0].title
    assert learn_tab.go_further(LESSONS[0].title).selected == "bigram"
    with pytest.raises(gr.Error, match="unknown lesson"):
        learn_tab.run("13. Magic", None)


def test_a_lesson_runs_by_its_api_name(served):
    c = client(served)
    text = c.predict(LESSONS[0].title, api_name="/lesson")[0]
    assert "nats per character" in text and "…" not in text


@pytest.mark.browser
def test_lesson_one_then_two_in_the_browser(served, browser, screenshots):
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    try:
        page.goto(served.url)
        page.get_by_role("tab", name="Learn").click()
        page.locator("#lesson-run").click()
        text = page.locator("#lesson-text")
        page.wait_for_function(
            "() => document.querySelector('#lesson-text').innerText.includes('nats per character')"
        )
        assert "…" not in text.inner_text() and "P(" in text.inner_text()  # the worked example
        page.locator("#lesson-figure-0 .js-plotly-plot").wait_for()
        page.wait_for_function("() => document.querySelector('#lesson-status').innerText.includes('1 of 9')")
        page.screenshot(path=str(screenshots / "learn-1.png"), full_page=True)
        page.locator("#lesson-list").get_by_text(LESSONS[1].title).click()
        page.wait_for_function(
            "() => document.querySelector('#lesson-text').innerText.includes('neural bigram')"
        )
        assert "…" in text.inner_text()  # not run yet: its numbers are still to come
    finally:
        page.close()
