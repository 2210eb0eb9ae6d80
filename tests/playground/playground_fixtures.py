"""Fixtures for the app's tests, loaded with `pytest_plugins = ["app_fixtures"]`: the playground served
in-process on a free port with its checkpoints in a temporary folder, a headless Debian chromium, a
folder for screenshots, and waiting for a condition with a deadline."""

import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # app.py lives at the repository root, beside the charlm package
    sys.path.insert(0, str(ROOT))

import app  # noqa: E402

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


def wait_until(condition, timeout: float = 60, what: str = "the condition") -> None:
    """Poll `condition` until it holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


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
    threads = torch.get_num_threads()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(app, "CHECKPOINTS", checkpoints)
        _, url, _ = app.launch(
            prevent_thread_lock=True, quiet=True, server_name="127.0.0.1", server_port=free_port()
        )
        try:
            yield Served(url, checkpoints)
        finally:
            app.demo.close()
            torch.set_num_threads(threads)


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
