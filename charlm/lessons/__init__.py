"""Lessons: a guided walk up the ladder. Each lesson is an explanation written for charlm, one
experiment that runs live (a plain function here, no gradio), and the numbers its text quotes, filled
in from that run so the text stays true when the experiment changes."""

from charlm.lessons.experiments import Result
from charlm.lessons.ladder import LESSONS, Lesson, fill, run_lesson

__all__ = ["LESSONS", "Lesson", "Result", "fill", "run_lesson"]
