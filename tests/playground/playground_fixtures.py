"""The playground tests' fixtures, loaded with `pytest_plugins = ["playground_fixtures"]` (a plugin, not
a conftest.py, which would shadow tests/conftest.py's helpers): a session with a small trained MLP, the
checkpoints folder in a temporary place, the playground served in-process on a free port, a headless
Debian chromium, a folder for screenshots, and waiting for a condition with a deadline."""

import os
import socket
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from playground_helpers import trained, wait_until

from charlm.compare import blas_threads, set_blas_threads
from charlm.playground import build_demo, launch, settings

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
OUTPUT = ROOT / "test-output"  # git-ignored


@pytest.fixture(scope="module")
def ws():
    """A session with a small MLP trained on names."""
    return trained()[-1]["ws"]


@pytest.fixture
def checkpoints(tmp_path, monkeypatch) -> Path:
    """The playground's checkpoints folder, in a temporary place."""
    root = tmp_path / "checkpoints"
    monkeypatch.setattr(settings, "CHECKPOINTS", root)
    return root


@pytest.fixture
def wait_for():
    """`wait_for(condition, timeout, what)`: wait for something that happens in another thread."""
    return wait_until


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Served:
    url: str
    checkpoints: Path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    """The playground as `python app.py` serves it, on a free port, saving into a temporary folder."""
    checkpoints = tmp_path_factory.mktemp("checkpoints")
    threads, blas = torch.get_num_threads(), blas_threads()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(settings, "CHECKPOINTS", checkpoints)
        demo = build_demo()
        _, url, _ = launch(
            demo, prevent_thread_lock=True, quiet=True, server_name="127.0.0.1", server_port=free_port()
        )
        try:
            yield Served(url, checkpoints)
        finally:
            demo.close()
            torch.set_num_threads(threads)
            if blas:
                set_blas_threads(blas)


@pytest.fixture(scope="module")
def browser():
    """Headless Debian chromium through Playwright. Missing, it skips locally but fails in CI."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing; install it with `apt-get install chromium`."
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, chromium_sandbox=False, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def screenshots(request: pytest.FixtureRequest) -> Path:
    """test-output/<test name>/: where a browser test leaves its screenshots."""
    folder = OUTPUT / request.node.name
    folder.mkdir(parents=True, exist_ok=True)
    return folder
