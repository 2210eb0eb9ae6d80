"""The lessons: each experiment runs (shortened) and measures every number its text quotes, so a filled
text never shows a placeholder; the numbers are the run's own, not typed into the text."""

import math
import re

import pytest
import torch

from charlm.errors import CharlmError
from charlm.lessons import LESSONS, fill, run_lesson
from charlm.lessons.experiments import counting, names_corpus
from charlm.train import evaluate
from charlm.viz import bigram_model

SCALE = 0.05  # a twentieth of each lesson's steps and time: enough to check the wiring, not the teaching


def placeholders_left(text: str) -> list[str]:
    return re.findall(r"\{[a-z_]+\}", text)


@pytest.mark.parametrize("index", range(len(LESSONS)), ids=[lesson.title for lesson in LESSONS])
def test_each_lesson_runs_and_fills_every_number_its_text_quotes(index):
    text, result = run_lesson(index, scale=SCALE)
    assert placeholders_left(text) == [] and "{" not in text
    assert result.figures or result.html  # the live result the text refers to
    quoted = set(re.findall(r"\{([a-z_]+)\}", LESSONS[index].text))
    assert quoted and quoted <= set(result.numbers)
    for name in quoted:
        assert result.numbers[name] in text  # each number the text quotes is the run's own
    lesson = LESSONS[index]
    assert lesson.try_this and lesson.question and lesson.answer


def test_the_counting_lesson_works_out_the_probability_from_the_table():
    result = counting()
    numbers = result.numbers
    corpus = names_corpus()
    counts = result.model.counts + 1.0  # smoothing 1
    probs = counts / counts.sum(1, keepdim=True)
    vocab = corpus.vocab
    ids = [0, *vocab.encode(numbers["name"]), 0]
    by_hand = math.prod(float(probs[a, b]) for a, b in zip(ids, ids[1:]))
    assert float(numbers["probability"]) == pytest.approx(by_hand, rel=1e-2)
    assert float(numbers["nll"]) == pytest.approx(-math.log(by_hand), abs=1e-3)
    assert float(numbers["val_loss"]) == pytest.approx(
        evaluate(bigram_model(corpus.train, vocab), corpus.val), abs=1e-3
    )
    assert numbers["pairs"] == f"{int(result.model.counts.sum()):,}"


def test_a_text_that_quotes_a_number_the_run_did_not_measure_is_refused():
    with pytest.raises(CharlmError, match="did not measure"):
        fill(LESSONS[0], {"pairs": "1"})
    with pytest.raises(CharlmError, match="no lesson 99"):
        run_lesson(98)


def test_lessons_run_on_the_texts_the_project_ships():
    torch.manual_seed(0)
    assert names_corpus().text.startswith("pemgendan")  # examples/names.txt, written for the project
