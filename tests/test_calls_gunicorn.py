"""Real parts (#14): a test phone platform posts call events over HTTP to a running gunicorn
(two gthread workers, Redis pub/sub between them, as in production), and an agent's SSE client
(a plain HTTP client reading text/event-stream, signed in through the login form) gets the
screen pop. No function calls into the app: only HTTP, and the database afterwards.

The pop must arrive well within the stream's own database poll (screen_pop.POLL_SECONDS), so
it is the publish that carried it, whichever worker took the event and the stream.
"""

from __future__ import annotations

import http.client
import http.cookiejar
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from kontaktcenter.channels.phone import integration, screen_pop
from kontaktcenter.channels.phone.models import Call, CallEvent
from kontaktcenter.core.extensions import db
from kontaktcenter.core.roles import Role
from kontaktcenter.organisation import users
from tests import factories
from tests.conftest import JOB_QUEUE, redis_url
from tests.mailservers import free_port

ROOT = Path(__file__).resolve().parent.parent
SECRET = "gunicorn-test-secret-key-0123456789abcdef"
USER_AGENT = "kontaktcenter-test-agent"
POP_WITHIN = 2.0  # seconds: far below the stream's poll of the database


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


class Gunicorn:
    def __init__(self, database_url: str, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KONTAKTCENTER_", "REDIS"))}
        env.pop("DATABASE_URL", None)
        env.update(
            KONTAKTCENTER_SQLALCHEMY_DATABASE_URI=database_url,
            KONTAKTCENTER_SECRET_KEY=SECRET,
            KONTAKTCENTER_REDIS_URL=redis_url(),
            KONTAKTCENTER_JOBS_MODE="rq",
            KONTAKTCENTER_JOB_QUEUE=JOB_QUEUE,
            KONTAKTCENTER_SCHEDULER_ENABLED="false",
            KONTAKTCENTER_RATELIMIT_STORAGE_URI="memory://",
        )
        self.log = log
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "wsgi:app",
                "--workers=2",
                "--worker-class=gthread",
                "--threads=4",
                f"--bind=127.0.0.1:{self.port}",
                f"--error-logfile={log}",
                "--timeout=60",
                "--no-control-socket",
            ],
            cwd=ROOT,
            env=env,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(self.url + "/login", timeout=10) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail("gunicorn did not start:\n" + log.read_text(), pytrace=False)
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc.poll() is None:
            # A quick shutdown: a graceful one would wait for the open event streams to end.
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(timeout=screen_pop.POLL_SECONDS + 10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def gunicorn(app, committed_db, tmp_path) -> Iterator[Gunicorn]:
    server = Gunicorn(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path / "gunicorn.log")
    try:
        yield server
    finally:
        server.stop()
    errors = [line for line in server.log.read_text().splitlines() if "Traceback" in line]
    assert not errors, server.log.read_text()


class Platform:
    """The test phone platform: posts call events as JSON over HTTP with its token."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token

    def post(self, **event: object) -> tuple[int, dict]:
        request = urllib.request.Request(
            self.url + "/api/v1/calls/events",
            data=json.dumps(event).encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())


def _readline(response: http.client.HTTPResponse) -> bytes:
    try:
        return response.readline()
    except (OSError, ValueError, http.client.HTTPException):
        return b""  # hung up


class Agent:
    """An agent's browser without the browser: signs in through the form, reads the stream."""

    def __init__(self, url: str, email: str) -> None:
        self.url = url
        self.jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect()
        )
        # One browser: Flask-Login's session protection ties the session to its User-Agent.
        opener.addheaders = [("User-Agent", USER_AGENT)]
        with opener.open(url + "/login", timeout=30) as response:
            token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', response.read().decode())
        assert token
        form = {"email": email, "password": factories.PASSWORD, "csrf_token": token.group(1)}
        try:
            opener.open(url + "/login", urllib.parse.urlencode(form).encode(), timeout=30)
        except urllib.error.HTTPError as error:  # the 302 after signing in
            assert error.code == 302, error.read()
        self.events: queue.Queue[tuple[float, dict]] = queue.Queue()
        self.connection: http.client.HTTPConnection | None = None

    def listen(self) -> threading.Thread:
        """Read the stream in a thread; each event goes to `events` with when it arrived."""
        cookies = "; ".join(f"{c.name}={c.value}" for c in self.jar)
        port = int(self.url.rsplit(":", 1)[1])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connection.request(
            "GET", "/samtal/handelser", headers={"Cookie": cookies, "User-Agent": USER_AGENT}
        )
        response = connection.getresponse()
        assert response.status == 200 and response.getheader("Content-Type", "").startswith(
            "text/event-stream"
        )

        self.connection = connection

        def read() -> None:
            fields: dict = {}
            while line := _readline(response):
                text = line.decode().rstrip("\n")
                if not text:
                    if "event" in fields:
                        self.events.put((time.monotonic(), fields))
                    fields = {}
                elif not text.startswith(":"):
                    name, _, value = text.partition(": ")
                    fields[name] = value
            connection.close()

        thread = threading.Thread(target=read, daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        """Hang up: the server notices at its next keep-alive and frees the worker thread."""
        if self.connection is not None and self.connection.sock is not None:
            self.connection.sock.shutdown(socket.SHUT_RDWR)

    def next_event(self, timeout: float) -> tuple[float, dict]:
        return self.events.get(timeout=timeout)


def test_a_platform_posting_over_http_pops_the_call_in_the_agents_stream(gunicorn, app):
    agent = factories.make_user(Role.AGENT, name="Agnes Agent")
    _platform_user, secret = integration.create_integration("vaxel@kommun.example", "Växeln")
    ordinary = users.create_token(agent, "not for calls")[1]
    platform = Platform(gunicorn.url, secret)
    browser = Agent(gunicorn.url, agent.email)

    assert Platform(gunicorn.url, ordinary).post(call_id="x", event="ringing")[0] == 403

    browser.listen()
    _at, hello = browser.next_event(timeout=10)
    assert hello["event"] == "hello"

    status, body = platform.post(
        call_id="puzzel-1", event="ringing", caller="070-123 45 67", queue="Bygglov"
    )
    assert status == 201 and body["call"]["caller"] == "+46701234567"
    posted = time.monotonic()
    status, body = platform.post(
        call_id="puzzel-1", event="answered", agent_email=agent.email, queue_wait_seconds=12
    )
    assert status == 201 and body["screen_pop"] is True
    arrived, pop = browser.next_event(timeout=screen_pop.POLL_SECONDS + 5)
    assert pop["event"] == "pop"
    assert arrived - posted < POP_WITHIN
    data = json.loads(pop["data"])
    assert data["caller"] == "070-123 45 67" and data["url"] == f"/samtal/{data['call']}/oppna"

    # The same event again (a platform retrying) is a duplicate and pops nothing more.
    status, body = platform.post(call_id="puzzel-1", event="answered", agent_email=agent.email)
    assert status == 200 and body["duplicate"] is True
    assert platform.post(call_id="puzzel-1", event="ended")[0] == 201
    with pytest.raises(queue.Empty):
        while True:  # keep-alives are comments: only a real event would come out
            _arrived, extra = browser.next_event(timeout=1.5)
            assert extra["event"] != "pop", extra

    # Out of order: `ended` before `answered` for another call; no pop for a call that is over.
    assert platform.post(call_id="puzzel-2", event="ended")[0] == 201
    status, body = platform.post(call_id="puzzel-2", event="answered", agent_email=agent.email)
    assert status == 201 and body["screen_pop"] is False
    assert body["call"]["state"] == "ended"

    browser.close()
    db.session.remove()
    calls = {c.platform_call_id: c for c in db.session.scalars(sa.select(Call))}
    assert set(calls) == {"puzzel-1", "puzzel-2"}
    assert calls["puzzel-1"].talk_seconds is not None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CallEvent)) == 5
