"""Browser fixtures: Debian's headless Chromium driven by Playwright, and the real local stack.

Chromium is never downloaded by Playwright: the system package (``apt-get install -y chromium
fonts-nanum``) is launched by path. A missing browser FAILS the tests with the install line; a
skipped browser suite would look green while proving nothing.

The site is the real local stack (``stack`` from tests/e2e/conftest.py: template.yaml deployed into
moto server mode, the dispatcher running the functions, app.py served over HTTP), so a case
submitted in the browser is routed by the real router while the tracking page watches. The tests
act as the institute through the institute API with the documented local ``dev-<CODE>-key`` keys,
which this fixture seeds into the stack's table.
"""
from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.conftest import stack  # noqa: F401 - the real local stack fixture

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
    url: str  # the API root, ending with "/": the intake page
    stack: object

    def store(self):
        """The stack's CaseStore, through boto3 against the stack's moto server."""
        import boto3

        from sos1379.store import CaseStore

        dynamodb = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                         region_name=self.stack.region).resource(
            "dynamodb", endpoint_url=self.stack.moto_url)
        return CaseStore(self.stack.physical_id("CasesTable"), dynamodb)

    def api(self, method: str, path: str, body=None, headers=None, expect: int | None = 200):
        import requests

        resp = requests.request(method, self.url + path.lstrip("/"), json=body, headers=headers or {}, timeout=15)
        if expect is not None:
            assert resp.status_code == expect, f"{method} {path}: {resp.status_code} {resp.text[:500]}"
        return resp.json() if resp.content else None

    def submit(self, body: dict) -> dict:
        return self.api("POST", "cases", body, expect=201)

    def view(self, receipt: dict) -> dict:
        return self.api("GET", f"cases/{receipt['case_id']}", headers={"X-Tracking-Token": receipt["tracking_token"]})

    def wait_for(self, receipt: dict, predicate, timeout: float = 90.0) -> dict:
        """Poll the public view until ``predicate(view)``; the router's first call loads its models."""
        deadline = time.monotonic() + timeout
        while True:
            view = self.view(receipt)
            if predicate(view):
                return view
            if time.monotonic() > deadline:
                raise AssertionError(f"case stayed {view['status']}: {self.stack.log_tail()}")
            time.sleep(0.3)

    def as_institute(self, code: str, case_id: str, action: str, body: dict | None = None) -> dict:
        from sos1379.institutes.keys import dev_key

        return self.api("POST", f"institute/referrals/{case_id}/{action}", body or {},
                        headers={"X-Api-Key": dev_key(code)})

    def cases_titled(self, title: str) -> list[dict]:
        items = self.store().table.scan()["Items"]
        return [i for i in items if i.get("kind") == "case" and i.get("title") == title]


@pytest.fixture(scope="session")
def site(chromium_path, stack):  # the browser check first: no stack start when it cannot run
    from sos1379.institutes.keys import seed_dev_keys

    running = Site(url=stack.api_url.rstrip("/") + "/", stack=stack)
    seed_dev_keys(running.store())
    return running


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
