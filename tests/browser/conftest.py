"""Browser tests: Debian's Chromium driven by Playwright through the web console, over the whole
system (the e2e system plus the console). Screenshots go to test-artifacts/screenshots/.

They run on the embedded broker only: what they check is the console, and the e2e suite already
runs every path through the broker on both brokers."""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import ARTIFACTS
from tests.e2e.conftest import DEMO_PASSWORD, running_system

SCREENSHOTS = ARTIFACTS / "screenshots"


def _chromium() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@pytest.fixture(scope="module")
def system(pg_server, tmp_path_factory, request):
    name = f"{request.module.__name__.rsplit('.', 1)[-1]}-tansu"
    with running_system(pg_server, tmp_path_factory.mktemp("xinfang"), "tansu", name) as s:
        yield s


@pytest.fixture(scope="module")
def web(system):
    return system.start_web()


@pytest.fixture(scope="module")
def browser():
    path = _chromium()
    if path is None:
        pytest.skip("no Chromium found at /usr/bin/chromium (install Debian's package: apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is not installed (pip install -e '.[test]')")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


class Console:
    """One person at one browser window."""

    def __init__(self, browser, base: str) -> None:
        self.base = base
        self.context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        # a destructive action asks first (window.confirm): the questions are kept, and answered
        # yes unless a test says no
        self.asked: list[str] = []
        self.answer = True
        self.page.on("dialog", self._dialog)

    def _dialog(self, dialog) -> None:
        self.asked.append(dialog.message)
        dialog.accept() if self.answer else dialog.dismiss()

    def go(self, path: str):
        self.page.goto(self.base + path)
        return self.page

    def sign_in(self, user: str, password: str = DEMO_PASSWORD):
        self.go("/login")
        self.page.fill("input[name=username]", user)
        self.page.fill("input[name=password]", password)
        self.page.click("form[action='/login'] button[type=submit]")
        self.page.wait_for_load_state()
        assert "/login" not in self.page.url, self.page.inner_text("main")
        return self

    def shot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{re.sub(r'[^0-9A-Za-z_-]+', '-', name)}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self):
        self.context.close()


@pytest.fixture
def console(browser, web):
    opened: list[Console] = []

    def open_(user: str | None = None) -> Console:
        c = Console(browser, web)
        opened.append(c)
        return c.sign_in(user) if user else c

    yield open_
    for c in opened:
        c.close()
