"""A live Politely on a loopback port and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine

import app.runtime as runtime_module
from app.main import create_app
from app.settings import Settings
from tests.conftest import Api, api_key_for, free_port

CHROMIUM = os.environ.get("POLITELY_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Per module: Playwright's sync API holds an event loop, which asyncio tests must not meet."""
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 420, "height": 900})  # a phone
    page = context.new_page()
    yield page
    context.close()


class LiveServer:
    def __init__(self, base_url: str, api: Api):
        self.base_url = base_url
        self.api = api


@pytest.fixture
def live(db: Engine, settings: Settings) -> Iterator[LiveServer]:
    """Politely serving on 127.0.0.1 with links that point at it."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    app = create_app(settings.model_copy(update={"base_url": base_url}), engine=db)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    key = api_key_for(db, "default")
    with httpx.Client(base_url=base_url) as client:
        api = Api(client=client, key=key, slug="default")  # type: ignore[arg-type]
        yield LiveServer(base_url, api)
    server.should_exit = True
    thread.join(10)
    # Background work after a response (confirmation emails) ends before the next test.
    with runtime_module._pass_lock:
        pass


def eventually(check: Any, timeout: float = 10.0) -> Any:
    """The live server sends confirmations after its response: wait for them, briefly."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
