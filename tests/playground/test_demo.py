"""The page as a whole: only the playground imports gradio, a Space gets its caps and its notices, and
what the CLI, the Train tab and the README show of each model is generated from its declaration."""

import json
import os
import subprocess
import sys
from pathlib import Path

import gradio as gr
import pytest

import charlm.__main__ as cli
from charlm.models import MODELS, ladder_table
from charlm.playground import train_tab

ROOT = Path(__file__).resolve().parents[2]


def run_python(code: str, extra_env: dict | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "SPACE_ID"} | (extra_env or {})
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    return out.stdout.strip().splitlines()[-1]


def test_the_package_and_its_command_line_never_import_gradio():
    code = (
        "import contextlib, io, sys, charlm, charlm.__main__\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    charlm.__main__.main(['--help'])\n"
        "print('gradio' in sys.modules, 'charlm.playground' in sys.modules)"
    )
    assert run_python(code) == "False False"
    assert (
        run_python("import sys, charlm.playground; print('gradio' in sys.modules)") == "True"
    )  # it can fail


def space_page(extra_env: dict) -> dict:
    """Build the page as app.py does in a fresh interpreter with `extra_env`; its caps and notices."""
    code = (
        "import json, app; from charlm.playground import settings as s;"
        "texts = [b.get('props', {}).get('value') for b in app.demo.config['components']];"
        "texts = [t for t in texts if isinstance(t, str)];"
        "print(json.dumps({'caps': [s.MAX_CHARS, s.MAX_STEPS, s.MAX_TRAIN_SECONDS],"
        " 'space': any('shared Hugging Face Space' in t for t in texts),"
        " 'disk': any('not persistent' in t for t in texts)}))"
    )
    return json.loads(run_python(code, extra_env))


def test_a_space_caps_runs_and_says_so_while_a_local_run_is_uncapped():
    space = space_page({"SPACE_ID": "someone/charlm"})
    local = space_page({})
    assert space["caps"] == [300_000, 3_000, 180] and space["space"] and space["disk"]
    assert local["caps"][1] > 100_000 and not local["space"] and not local["disk"]
    assert space_page({"SPACE_ID": "x", "CHARLM_MAX_STEPS": "500"})["caps"][1] == 500


def widgets() -> dict[str, gr.components.Component]:
    """The Train tab's setting widgets as the page builds them, by setting name."""
    with gr.Blocks():
        tab = train_tab.layout(next(iter(train_tab.settings.EXAMPLES)))
    return {s.name: w for s, w in zip(train_tab.SLIDERS, tab.settings)}


@pytest.mark.parametrize("name", list(MODELS))
def test_the_train_tab_shows_each_models_declared_settings_after_choosing_it(name):
    built, chosen = widgets(), train_tab.choose_model(name)
    declared = MODELS[name].settings()
    assert {n for n, u in chosen.items() if n in built and u["visible"]} == {s.name for s in declared}
    for s in declared:
        widget, update = built[s.name], chosen[s.name]
        start = MODELS[name].playground_settings.get(
            s.name, s.default
        )  # smaller for a slow rung, declared too
        assert update["value"] == start and update["info"] == s.explanation and widget.label == s.label
        if s.choices:
            assert [c[1] for c in widget.choices] == list(s.choices)
        else:
            assert (widget.minimum, widget.maximum, widget.step) == (s.low, s.high, s.step)
    assert chosen["lr"] == MODELS[name].default_lr and chosen["steps"] == MODELS[name].default_steps
    assert MODELS[name].title in chosen["about"] and MODELS[name].description in chosen["about"]


def test_the_command_lines_options_are_the_declared_settings_with_each_models_default():
    declared = {s.name: [] for cls in MODELS.values() for s in cls.settings()}
    for model, cls in MODELS.items():
        for s in cls.settings():
            declared[s.name].append(f"{model} {s.default if s.choices else format(s.default, 'g')}")
    assert set(cli.MODEL_OPTIONS) == set(declared) == {s.name for s in train_tab.SLIDERS}
    for name, defaults in declared.items():
        assert all(d in cli.MODEL_OPTIONS[name][1] for d in defaults), name
    parser_help = subprocess.run(
        [sys.executable, "-m", "charlm", "train", "--help"], cwd=ROOT, capture_output=True, text=True
    ).stdout
    assert all("--" + name.replace("_", "-") in parser_help for name in declared)


def test_the_readme_shows_the_ladder_table_the_models_declare():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    header = ladder_table().splitlines()[0]
    if header not in readme:
        pytest.skip("README.md does not carry the generated ladder table yet (charlm.models.ladder_table)")
    assert ladder_table() in readme
