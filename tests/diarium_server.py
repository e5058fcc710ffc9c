"""A registrar's system for the diarium tests: a real HTTP server on 127.0.0.1 that records
each POST and answers from a script of (status, body) replies (the last one repeats)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Registrar:
    url: str
    replies: list[tuple[int, bytes, dict[str, str]]] = field(
        default_factory=lambda: [(200, b"{}", {})]
    )
    received: list[Received] = field(default_factory=list)

    def answer(self, *replies: tuple) -> None:
        """(status, body as bytes or JSON[, headers]) per request; the last one repeats."""
        self.replies = [
            (
                status,
                body if isinstance(body, bytes) else json.dumps(body).encode(),
                headers[0] if headers else {},
            )
            for status, body, *headers in replies
        ]


@contextmanager
def registrar() -> Iterator[Registrar]:
    state: Registrar

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            length = int(self.headers.get("Content-Length") or 0)
            state.received.append(
                Received(self.path, dict(self.headers.items()), self.rfile.read(length))
            )
            reply = state.replies.pop(0) if len(state.replies) > 1 else state.replies[0]
            status, body, headers = reply
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state = Registrar(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
