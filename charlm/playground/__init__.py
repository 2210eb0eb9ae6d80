"""The Gradio playground: the only part of charlm that imports gradio. One module per tab (its
handlers, layout and wiring), `session` for what one browser tab holds, `settings` for what is read
from the environment, and `demo` to put the page together and serve it."""

from charlm.playground.demo import build_demo, launch

__all__ = ["build_demo", "launch"]
