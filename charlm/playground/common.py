"""What every tab shares: errors shown in the page (never a traceback), widget values checked against
their ranges, and handlers that return their outputs by name rather than by position."""

import functools
import html
import inspect
import logging

import gradio as gr

from charlm.errors import CharlmError, check_real, check_whole
from charlm.models import Setting
from charlm.playground import settings

log = logging.getLogger("charlm.playground")


class Tab:
    """A namespace for one tab's components."""


def page_error(e: Exception, where: str) -> gr.Error:
    if isinstance(e, gr.Error):
        return e
    if isinstance(e, CharlmError):  # messages may quote the user's characters: escape them
        return gr.Error(html.escape(str(e), quote=False), duration=20, print_exception=False)
    log.exception("unexpected error in %s", where)
    return gr.Error(
        f"Something unexpected went wrong ({type(e).__name__}); it was logged on the server. "
        "Your text, model and checkpoints are unchanged.",
        duration=20,
        print_exception=False,
    )


def setting_widget(s: Setting, value=None, explanation: str | None = None, **options):
    """The widget for one model setting: a slider over its range, or radio buttons for a choice."""
    value = s.default if value is None else value
    info = explanation or s.explanation
    if s.choices:
        return gr.Radio(list(s.choices), value=value, label=s.label, info=info, **options)
    return gr.Slider(s.low, s.high, value=value, step=s.step, label=s.label, info=info, **options)


def settled(widget):
    """The event of a setting's widget that fires once a value is chosen: a slider's release (not
    every step of a drag), a radio button's input."""
    return widget.release if isinstance(widget, gr.Slider) else widget.input


def inline_error(e: Exception) -> str:
    """A problem shown in place, beside what caused it (for handlers that run as the user types)."""
    return f"⚠️ {html.escape(str(e), quote=False)}"


def shows_errors(fn):
    """Wrap a handler (plain or generator) so that no traceback ever reaches the page."""
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def generator(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except Exception as e:
                raise page_error(e, fn.__name__) from None

        return generator

    @functools.wraps(fn)
    def plain(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as e:
            raise page_error(e, fn.__name__) from None

    return plain


def in_place(fn, where: str, **cleared):
    """`fn` (a handler wrapped by shows_errors) for the page: its error is shown in the output `where`,
    beside what caused it, replacing whatever that output said before, and the outputs in `cleared` are
    set to their given values (stale results wiped). The error is then raised again without a pop-up,
    so an API client still gets it as an error. The signature stays `fn`'s, for Gradio and the API page."""

    @functools.wraps(fn)
    def shown(*args, **kwargs):
        try:
            if inspect.isgeneratorfunction(fn):
                yield from fn(*args, **kwargs)
            else:
                yield fn(*args, **kwargs)
        except gr.Error as e:  # shows_errors made every error one, its message escaped
            yield {where: f"⚠️ {e.message}", **cleared}
            raise gr.Error(e.message, visible=False, print_exception=False) from None

    return shown


def by_name(fn, names: list[str], values: list[str] | None = None):
    """Gradio wants a handler's outputs in the order of its `outputs` list; our handlers return (or
    yield) dicts keyed by output name, so adding an output shifts nothing. This turns such a handler into
    one Gradio can call: each dict becomes a tuple in the order of `names`, with gr.skip() for a name it
    leaves out. The signature stays the handler's (functools.wraps), so gr.Request injection and the API
    page see the real parameters; but Gradio injects a request only into parameters before a `*values`,
    so a keyword-only `request` is moved to the front for Gradio and handed on by keyword. `values` names
    the widgets a `*values` parameter receives, so the API page shows `block_size`, not `param_9`."""
    moved = keyword_request(fn)

    def ordered(values: dict):
        unknown = set(values) - set(names)
        assert not unknown, f"{fn.__name__} returned outputs it is not wired to: {sorted(unknown)}"
        out = tuple(values.get(name, gr.skip()) for name in names)
        return out[0] if len(out) == 1 else out

    def call(args, kwargs):
        if moved:
            request, *args = args
            kwargs = {**kwargs, "request": request}
        return fn(*args, **kwargs)

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def wired(*args, **kwargs):
            for values in call(args, kwargs):
                yield ordered(values)

    else:

        @functools.wraps(fn)
        def wired(*args, **kwargs):
            return ordered(call(args, kwargs))

    params = list(inspect.signature(fn).parameters.values())
    if values is not None:
        star = next(i for i, p in enumerate(params) if p.kind is inspect.Parameter.VAR_POSITIONAL)
        named = [inspect.Parameter(v, inspect.Parameter.POSITIONAL_OR_KEYWORD) for v in values]
        params[star : star + 1] = named
    if moved:
        request = params.pop(params.index(moved)).replace(
            kind=inspect.Parameter.POSITIONAL_ONLY, default=inspect.Parameter.empty
        )
        params.insert(0, request)
    if moved or values is not None:
        wired.__signature__ = inspect.signature(fn).replace(parameters=params)
    return wired


def keyword_request(fn) -> inspect.Parameter | None:
    """`fn`'s `request` parameter when it is keyword-only (after `*values`), where Gradio misses it."""
    param = inspect.signature(fn).parameters.get("request")
    return param if param is not None and param.kind is inspect.Parameter.KEYWORD_ONLY else None


def on(event, fn, inputs, outputs: dict, values: list[str] | None = None, **options):
    """Wire `fn` to `event` (say `button.click`) with its outputs named: {name: component}; `values`
    names what a `*values` parameter receives (see by_name)."""
    names = list(outputs)
    return event(by_name(fn, names, values), inputs, [outputs[n] for n in names], **options)


whole, real = check_whole, check_real  # widget values: short names, since every tab checks many


def check_text(text: str | None) -> str:
    text = text or ""
    if len(text) > settings.MAX_CHARS:  # read now, not at import: a test or a host may lower it
        raise CharlmError(
            f"the text has {len(text):,} characters; the playground trains on up to {settings.MAX_CHARS:,}. "
            "Use a part of it, or train on the whole with `python -m charlm train`."
        )
    return text
