"""The charlm playground: train a character-level model on pasted text, look inside it, sample from it,
save and share it. `python app.py` serves it on 127.0.0.1:7860; a Hugging Face Space runs this file.
The page is built in charlm/playground/ (one module per tab)."""

import logging

from charlm.playground import build_demo, launch

demo = build_demo()

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # Gradio's own start-up probe is not news
    launch(demo)
