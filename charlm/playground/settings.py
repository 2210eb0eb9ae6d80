"""What the playground reads from the environment, in one place: a hosted copy (a Hugging Face Space)
lowers the caps here. Nothing else in the playground reads os.environ."""

import os
from pathlib import Path

from charlm.data import MAX_TEXT_BYTES

ROOT = Path(__file__).resolve().parents[2]  # the checkout: app.py, examples/, checkpoints/
ON_SPACE = bool(os.environ.get("SPACE_ID"))  # Hugging Face sets SPACE_ID on a Space: a shared 2-CPU box
SPACE_HOST = os.environ.get("SPACE_HOST")  # and SPACE_HOST, its address: links that open a model use it
CHECKPOINTS = Path(os.environ.get("CHARLM_CHECKPOINTS", ROOT / "checkpoints"))
# Caps: on a Space they keep one user from holding the shared CPUs; locally only the package's own limits.
MAX_CHARS = int(os.environ.get("CHARLM_MAX_CHARS", 300_000 if ON_SPACE else MAX_TEXT_BYTES))
MAX_STEPS = int(os.environ.get("CHARLM_MAX_STEPS", 3_000 if ON_SPACE else 1_000_000))
MAX_TRAIN_SECONDS = float(os.environ.get("CHARLM_MAX_TRAIN_SECONDS", 180 if ON_SPACE else 24 * 3600))
TRAIN_CONCURRENCY = int(os.environ.get("CHARLM_TRAIN_CONCURRENCY", 2))  # trainings at once, all users

UPDATE_SECONDS = 0.25  # the page is updated at most this often while training or sampling
EVAL_TOKENS = 8192  # predictions per evaluation during training (the final metrics use the whole split)
EXAMPLES = {  # name -> (file, mode); texts the project wrote itself, so they are free to ship
    "Invented names (one per line)": (ROOT / "examples" / "names.txt", "lines"),
    "Short verses": (ROOT / "examples" / "verses.txt", "text"),
}
