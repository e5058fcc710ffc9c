"""Fixtures for browser tests: Debian's Chromium through Playwright, and the app on a live server.

The live server runs the session's ``app`` (and so its test database) with werkzeug in a
background thread. The browser talks to it from other threads, so the data has to be really
committed: the server depends on ``committed_db``, which empties the tables after the test.
No browser is ever downloaded; without /usr/bin/chromium the tests fail in CI and skip locally.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from werkzeug.serving import WSGIRequestHandler, make_server

from kontaktcenter.channels.phone import screen_pop
from tests import factories
from tests.conftest import IN_CI

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 10_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium, for this module only: while the sync Playwright API is running it
    owns an asyncio loop in this thread, which must not leak into the other tests."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing (install Debian's chromium package)"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def live_org(committed_db: None) -> factories.Org:
    """The municipality, committed (by the factories) before the server takes a request."""
    return factories.make_org()


class _QuietRequestHandler(WSGIRequestHandler):
    """No access log; errors go to the server (which records them, see ``live_server``)."""

    def log(self, type: str, message: str, *args: Any) -> None:
        if type == "error":
            self.server.log(type, message, *args)


class _ErrorRecorder(logging.Handler):
    def __init__(self, errors: list[str]) -> None:
        super().__init__(logging.ERROR)
        self.errors = errors

    def emit(self, record: logging.LogRecord) -> None:
        self.errors.append(self.format(record))


@dataclass
class LiveServer:
    url: str
    errors: list[str] = field(default_factory=list)


def _request_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if "process_request_thread" in t.name}


@pytest.fixture
def live_server(
    app: Flask, live_org: factories.Org, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LiveServer]:
    """The session's app served on a free port of 127.0.0.1 in a background thread.

    Errors the app logs (its handler for unexpected exceptions) or werkzeug would log fail the
    test at teardown: the browser only sees a friendly error page.

    No request outlives the test: every page of an agent holds a screen-pop stream, which
    reads the database while it waits (``screen_pop.POLL_SECONDS``). Left running, its thread
    would use the next test's ``db.session`` (bound to that test's connection) and roll back
    that test's transaction from under it. Streams here are short and poll often; teardown
    waits for every request thread and fails if one is still running.
    """
    monkeypatch.setattr(screen_pop, "STREAM_SECONDS", 2.0)
    monkeypatch.setattr(screen_pop, "POLL_SECONDS", 0.5)
    before = _request_threads()
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietRequestHandler)
    live = LiveServer(url=f"http://127.0.0.1:{server.port}")

    def record(type: str, message: str, *args: Any) -> None:
        if type == "error":
            live.errors.append(message % args if args else message)

    # Instead of werkzeug's logger, which would add a stderr handler for the rest of the run.
    server.log = record  # type: ignore[method-assign]
    recorder = _ErrorRecorder(live.errors)
    app.logger.addHandler(recorder)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="live-server"
    )
    thread.start()
    try:
        yield live
    finally:
        server.shutdown()  # serve_forever() closes the socket when it returns
        thread.join(10)
        running = _request_threads() - before
        for request_thread in running:
            request_thread.join(screen_pop.STREAM_SECONDS + 5)
        app.logger.removeHandler(recorder)
        still = [t.name for t in running if t.is_alive()]
        assert not still, f"requests still running after the test: {still}"
    if live.errors:
        pytest.fail("the live server logged errors:\n" + "\n\n".join(live.errors), pytrace=False)


@pytest.fixture
def new_page(browser: Browser, live_server: LiveServer) -> Iterator[Callable[[], Page]]:
    """A page in a fresh browser context (own cookies: one per user), Swedish locale.

    The contexts are closed before the server stops, so no keep-alive connection outlives it.
    """
    contexts: list[BrowserContext] = []

    def open_page() -> Page:
        context = browser.new_context(
            base_url=live_server.url,
            locale="sv-SE",
            timezone_id="Europe/Stockholm",
            viewport={"width": 1280, "height": 900},
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()
