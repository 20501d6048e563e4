"""Browser fixtures: Debian's headless Chromium driven by Playwright, and a running site.

Chromium is never downloaded by Playwright: the system package (``apt-get install -y chromium
fonts-nanum``) is launched by path. A missing browser FAILS the tests with the install line; a
skipped browser suite would look green while proving nothing.

The site is app.py served over real HTTP by Chalice's own threaded local server, in this process,
on a free port, backed by the in-process moto account of ``tests/conftest.py`` (tables built from
template.yaml). The test can reach into the same store to move a case along (what institutes and
coordinators would do), so the pages are checked against every state without sleeping on workers.
"""
from __future__ import annotations

import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = os.environ.get("SOS1379_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
INSTALL_HINT = "apt-get update && apt-get install -y chromium fonts-nanum"


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = CHROMIUM if os.path.isabs(CHROMIUM) else shutil.which(CHROMIUM)
    if not path or not os.access(path, os.X_OK):
        pytest.fail(f"Chromium not found at {CHROMIUM!r}: the browser tests need it. Install it with "
                    f"`{INSTALL_HINT}` (or point SOS1379_CHROMIUM at a Chromium binary).", pytrace=False)
    return path


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@dataclass
class Site:
    url: str  # ends with "/"

    def store(self):
        from sos1379.api.common import get_store

        return get_store()


@pytest.fixture
def site(aws):
    """app.py on http://127.0.0.1:<free port>/ (Chalice's threaded local server) over moto."""
    from chalice.config import Config
    from chalice.local import CustomLocalChalice, LocalDevServer, create_local_server

    import app as app_module

    if isinstance(app_module.app, CustomLocalChalice):  # patched for thread-local requests already
        server = LocalDevServer(app_module.app, Config.create(), "127.0.0.1", 0)
    else:
        server = create_local_server(app_module.app, Config.create(), "127.0.0.1", 0)
    port = server.server.server_address[1]
    thread = threading.Thread(target=server.server.serve_forever, name="pages-site", daemon=True)
    thread.start()
    try:
        yield Site(url=f"http://127.0.0.1:{port}/")
    finally:
        server.server.shutdown()
        server.server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def page_for(browser):
    """``page_for(width)`` opens a fresh context (no shared storage) at that viewport width."""
    contexts = []

    def make(width: int = 360, height: int = 780, locale: str = "ko-KR"):
        context = browser.new_context(viewport={"width": width, "height": height}, locale=locale,
                                      timezone_id="Asia/Seoul", service_workers="block")
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
