"""The Sample tab: generate from the session's model, a saved checkpoint or a Hub model, each
character coloured by its probability, and why the model wrote what it wrote at any position.
Handlers first, then the layout, then the wiring."""

import functools
import time
from dataclasses import dataclass, field

import gradio as gr

from charlm import viz
from charlm.checkpoint import checkpoint_path, load_checkpoint
from charlm.errors import CharlmError
from charlm.models import CharLM
from charlm.playground import hub_browse, settings
from charlm.playground.common import Tab, in_place, on, real, shows_errors, whole
from charlm.playground.session import SESSION, Workspace
from charlm.sampling import Token, check_sampling, stream


@dataclass
class SampleRun:
    """The last samples of a session: the model they came from and every character with its why."""

    model: CharLM
    prompt: str
    samples: list[list[Token]] = field(default_factory=list)  # in lines mode ending with the end (char "")
    memorised: list[bool] = field(default_factory=list)
    inspected: tuple[int, int] = (0, 0)  # the sample (from 0) and position the inspector shows


def pick_model(ws: Workspace | None, source: str, text: str) -> tuple[CharLM, str]:
    """The model to sample from and the text its samples are checked against for memorisation."""
    if not source or source == SESSION:
        if ws is None:
            raise CharlmError(
                "this session has no model yet: click Train in the Train tab, or load a checkpoint in the "
                "Checkpoints tab."
            )
        return ws.model, ws.text if ws.text is not None else text
    return load_checkpoint(checkpoint_path(settings.CHECKPOINTS, source)).model, text


def samples_view(run: SampleRun, colour: bool, index: int = -1, position: int = -1) -> str:
    parts = [viz.colour_legend()] if colour else []
    for i, tokens in enumerate(run.samples):
        parts.append(
            viz.sample_html(
                run.prompt,
                tokens,
                colour,
                highlight=position if i == index else None,
                memorised=i < len(run.memorised) and run.memorised[i],
                title=f"Sample {i + 1}",
                number=i + 1,
            )
        )
    return "".join(parts)


def plain_samples(run: SampleRun) -> str:
    joiner = "\n" if run.model.config.mode == "lines" else "\n\n"
    return joiner.join(run.prompt + "".join(t.char for t in tokens) for tokens in run.samples)


def sampling_options(temperature, top_k, top_p, length, num_samples, seed) -> dict:
    options = dict(
        temperature=real(temperature, "temperature", 0, 2),
        top_k=whole(top_k, "top-k", 0, 10_000) or None,
        top_p=real(top_p, "top-p", 0.01, 1),
        length=whole(length, "length", 1, 5000),
        num_samples=whole(num_samples, "number of samples", 1, 20),
        seed=None if seed is None or seed == "" else whole(seed, "seed", 0, 2**31 - 1),
    )
    check_sampling(options["temperature"], options["top_k"], options["top_p"], options["length"])
    return options


@shows_errors
def generate(
    ws: Workspace | None,
    source: str,
    text: str,
    prompt: str,
    temperature: float,
    top_k: float,
    top_p: float,
    length: float,
    num_samples: float,
    seed: float | None,
    colour: bool,
    previous: SampleRun | None = None,
):
    """Sample from the session's model or a checkpoint; samples stream in as they are made. The
    inspector stays at the position it showed in the `previous` samples when the new ones have it."""
    options = sampling_options(temperature, top_k, top_p, length, num_samples, seed)
    model, reference = pick_model(ws, source, text or "")
    prompt = prompt or ""
    model.config.vocab.encode(prompt)  # unknown characters: a clear error before anything streams
    run = SampleRun(model, prompt)
    last_update = 0.0
    for i in range(options["num_samples"]):
        tokens: list[Token] = []
        run.samples.append(tokens)
        seed_i = None if options["seed"] is None else options["seed"] + i
        sampler = {k: options[k] for k in ("temperature", "top_k", "top_p", "length")}
        for token in stream(model, prompt, seed=seed_i, **sampler):
            tokens.append(token)
            if time.monotonic() - last_update >= settings.UPDATE_SECONDS:
                last_update = time.monotonic()
                yield {"run": run, "samples": samples_view(run, colour), "plain": plain_samples(run)}
        written = prompt + "".join(t.char for t in tokens)
        run.memorised.append(viz.is_memorised(written, reference, model.config.mode))
    longest = max(len(t) for t in run.samples)
    index, position = kept_position(run, previous)
    inspected = inspect_position(
        run, index + 1, position, options["temperature"], options["top_k"] or 0, options["top_p"]
    )
    yield {
        "run": run,
        "samples": samples_view(run, colour, index, inspected["position"]),
        "plain": plain_samples(run),
        "sample_number": gr.update(maximum=options["num_samples"], value=index + 1),
        # a slider needs maximum > minimum
        "position": gr.update(maximum=max(longest - 1, 1), value=max(inspected["position"], 0)),
        "alternatives": inspected["alternatives"],
        "distribution": inspected["distribution"],
    }


def kept_position(run: SampleRun, previous: SampleRun | None) -> tuple[int, int]:
    """The sample and position to inspect in new samples: the previous ones' when it still exists."""
    index, position = previous.inspected if previous is not None else (0, 0)
    if index < len(run.samples) and position < len(run.samples[index]):
        return index, position
    return 0, 0


def inspect_position(run: SampleRun, sample_number, position, temperature, top_k, top_p) -> dict:
    """Why the model wrote what it wrote at one position: its alternatives, and the distribution the
    sampler drew from there, at temperature 1 beside the chosen temperature (after top-k and top-p).
    Returns the sample's index, the position (clamped to the sample), the alternatives and the chart."""
    index = whole(sample_number, "sample", 1, len(run.samples)) - 1
    tokens = run.samples[index]
    if not tokens:
        return {
            "index": index,
            "position": -1,
            "alternatives": "<p>This sample is empty.</p>",
            "distribution": None,
        }
    position = min(whole(position, "position", 0, 1_000_000), len(tokens) - 1)
    context = run.prompt + "".join(t.char for t in tokens[:position])
    figure = viz.distribution_figure(
        run.model.config.vocab,
        tokens[position].logits,
        context,
        real(temperature, "temperature", 0, 2),
        whole(top_k, "top-k", 0, 10_000) or None,
        real(top_p, "top-p", 0.01, 1),
        chosen=tokens[position].id,
    )
    alternatives = viz.alternatives_html(tokens[position], position)
    run.inspected = (index, position)
    return {"index": index, "position": position, "alternatives": alternatives, "distribution": figure}


@shows_errors
def explain(run: SampleRun | None, colour: bool, sample_number, position, temperature, top_k, top_p) -> dict:
    """Redraw the highlighted position, its alternatives and the distribution chart."""
    if run is None:
        return {}
    inspected = inspect_position(run, sample_number, position, temperature, top_k, top_p)
    return {
        "samples": samples_view(run, colour, inspected["index"], inspected["position"]),
        "alternatives": inspected["alternatives"],
        "distribution": inspected["distribution"],
    }


def pick(event: gr.EventData) -> dict:
    """A click on a character of a sample (the page sends the sample's number and the character's
    position): the inspector moves to it. A click beside the characters changes nothing."""
    data = event._data if isinstance(event._data, dict) else {}
    try:
        return {"sample_number": int(data["sample"]), "position": int(data["position"])}
    except (KeyError, TypeError, ValueError):
        return {}


@shows_errors
def resample(run: SampleRun | None, *args):
    """Moving the temperature regenerates the last samples (same seed), so the change is visible."""
    if run is None:
        yield {}
        return
    yield from generate.__wrapped__(*args)


# ---------------------------------------------------------------------------------------------------
# Layout: the controls, the Hub picker, the samples and the inspector


def controls_panel(t: Tab) -> None:
    t.source = gr.Dropdown(
        [SESSION],
        value=SESSION,
        label="Sample from",
        allow_custom_value=True,  # a checkpoint saved since the page loaded; names are checked
        elem_id="sample-source",
    )
    t.prompt = gr.Textbox(
        label="Prompt (optional)", placeholder="characters to continue", elem_id="sample-prompt"
    )
    t.temperature = gr.Slider(
        0,
        2,
        value=1.0,
        step=0.05,
        label="Temperature",
        elem_id="temperature",
        info="0 always picks the most likely character; 1 samples the model as it is; above 1 is wilder",
    )
    t.top_k = gr.Slider(0, 100, value=0, step=1, label="Top-k", info="keep only the k most likely (0: off)")
    t.top_p = gr.Slider(
        0.05, 1, value=1.0, step=0.05, label="Top-p", info="keep the most likely up to this much probability"
    )
    with gr.Row():
        t.length = gr.Number(
            200, label="Length", precision=0, minimum=1, maximum=5000,
            info="at most; a line ends at •",
        )  # fmt: skip
        t.num_samples = gr.Number(
            3, label="Samples", precision=0, minimum=1, maximum=20, info="made as one batch"
        )
        t.seed = gr.Number(1337, label="Seed", precision=0, minimum=0)
    t.colour = gr.Checkbox(True, label="Colour each character by how probable the model found it")
    t.generate = gr.Button("Generate", variant="primary", elem_id="generate-button")


def hub_panel(t: Tab) -> None:
    with gr.Accordion("…or a model from the Hugging Face Hub", open=False):
        t.hub_repo = gr.Textbox(
            label="Hub repo id", placeholder="username/model-name", elem_id="sample-hub-repo"
        )
        with gr.Row():
            t.hub_revision = gr.Textbox(label="Revision", placeholder="main")
            t.hub_token = gr.Textbox(label="Token (private repos)", type="password")
        t.hub_load = gr.Button("Load it into this session", elem_id="sample-hub-load")
        t.hub_status = gr.Markdown(label="Hub status", show_label=False, elem_id="sample-hub-status")
        t.browse = hub_browse.layout("sample")


# A click on a character (a span with data-pos, inside a sample with data-sample) sends its sample
# and position to `pick`; listening on the component's element keeps working as the samples re-render.
CLICK_TO_INSPECT = """
element.addEventListener('click', (e) => {
  const char = e.target.closest('[data-pos]');
  const sample = char && char.closest('[data-sample]');
  if (sample) trigger('click', {sample: +sample.dataset.sample, position: +char.dataset.pos});
});
"""


def samples_panel(t: Tab) -> None:
    t.samples = gr.HTML(
        "<p>Samples appear here. Click a character to see why the model wrote it.</p>",
        label="Samples",
        elem_id="samples",
        js_on_load=CLICK_TO_INSPECT,
    )
    with gr.Accordion("Plain text (to copy)", open=False):
        t.plain = gr.Textbox(label="Plain text", show_label=False, lines=6, interactive=False)
    gr.Markdown("**Why this character?** Click one in a sample, or pick a sample and a position:")
    with gr.Row():
        t.sample_number = gr.Number(1, label="Sample", precision=0, minimum=1, maximum=3, scale=1)
        t.position = gr.Slider(0, 199, value=0, step=1, label="Position", elem_id="position", scale=3)
    t.alternatives = gr.HTML(label="Why this character", elem_id="alternatives")
    t.distribution = gr.Plot(label="Next-character distribution", elem_id="distribution-plot")


def layout() -> Tab:
    t = Tab()
    with gr.Row():
        with gr.Column(scale=1):
            controls_panel(t)
            hub_panel(t)
        with gr.Column(scale=2):
            samples_panel(t)
    return t


# ---------------------------------------------------------------------------------------------------
# Wiring


def wire(t: Tab, train: Tab, ws: gr.State, run: gr.State) -> None:
    options = [t.prompt, t.temperature, t.top_k, t.top_p, t.length, t.num_samples, t.seed, t.colour]
    inputs = [ws, t.source, train.text, *options, run]  # the last samples (a State: not in the API)
    outputs = dict(
        run=run,
        samples=t.samples,
        plain=t.plain,
        sample_number=t.sample_number,
        position=t.position,
        alternatives=t.alternatives,
        distribution=t.distribution,
    )
    # an error replaces the samples (they are not the answer to what was asked) and stays the only message
    stale = dict(run=None, plain="", alternatives="", distribution=None)
    enter = [t.prompt.submit, t.length.submit, t.num_samples.submit, t.seed.submit]
    generating = functools.partial(gr.on, [t.generate.click, *enter])  # Enter generates as the button does
    on(generating, in_place(generate, "samples", **stale), inputs, outputs, api_name="sample",
       show_progress_on=t.samples)  # fmt: skip
    explained = dict(
        fn=explain,
        inputs=[run, t.colour, t.sample_number, t.position, t.temperature, t.top_k, t.top_p],
        outputs={"samples": t.samples, "alternatives": t.alternatives, "distribution": t.distribution},
        show_progress="hidden",
        trigger_mode="always_last",
        api_visibility="undocumented",
    )
    for control in (t.sample_number, t.position, t.colour):
        on(control.change, **explained)
    on(t.sample_number.submit, **explained)
    picked = {"sample_number": t.sample_number, "position": t.position}
    on(t.samples.click, pick, None, picked, api_visibility="undocumented", show_progress="hidden")
    for control in (t.temperature, t.top_k, t.top_p):
        on(
            control.release,
            in_place(resample, "samples", **stale),
            [run, *inputs],
            outputs,
            api_visibility="undocumented",
            show_progress_on=t.samples,
        )
