"""A scripted evaluator on 127.0.0.1: answers POSTs from a list of statuses, records the bodies.

    with FakeEvaluator([500, 500, 200]) as ev:
        notify(httpx.Client(), ev.url, body, ...)
        assert ev.bodies[-1]["nonce"] == "n1"

Script items: an int status, ``"drop"`` (close the connection without answering), or an
:class:`Answer` (status, JSON body, delay). With the script used up, every POST gets 200.
``pages`` maps GET paths to bytes so the same server can stand in for a Pages site.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Answer:
    status: int = 200
    body: dict[str, Any] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False


ScriptItem = int | str | Answer


def _answer(item: ScriptItem) -> Answer:
    if isinstance(item, Answer):
        return item
    if item == "drop":
        return Answer(drop=True)
    status = int(item)
    body = {"status": "ok"} if status == 200 else {"reason": f"scripted {status}"}
    return Answer(status, body)


class FakeEvaluator:
    """The server; use as a context manager, read ``url``, ``bodies`` and ``gets``."""

    def __init__(
        self, script: list[ScriptItem] | None = None, pages: dict[str, bytes] | None = None
    ) -> None:
        self.script = list(script or [])
        self.pages: dict[str, bytes] = dict(pages or {})
        self.bodies: list[Any] = []
        self.gets: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base(self) -> str:
        assert self._server is not None, "use FakeEvaluator as a context manager"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        return self.base + "/notify"

    def __enter__(self) -> FakeEvaluator:
        self._server = _QuietServer(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def next_answer(self, raw: bytes) -> Answer:
        """Record one POST body and take the next scripted answer."""
        with self._lock:
            try:
                self.bodies.append(json.loads(raw or b"null"))
            except ValueError:
                self.bodies.append(raw.decode("utf-8", "replace"))
            return _answer(self.script.pop(0)) if self.script else Answer(200, {"status": "ok"})


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # dropped and timed-out connections are part of the script


def _handler_for(fake: FakeEvaluator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            answer = fake.next_answer(self.rfile.read(length) if length else b"")
            if answer.delay and fake._stop.wait(answer.delay):
                return
            if answer.drop:
                self.close_connection = True
                return
            self._send(answer.status, json.dumps(answer.body).encode(), "application/json")

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            with fake._lock:
                fake.gets.append(path)
                data = fake.pages.get(path)
            if data is None:
                self._send(404, b"Not Found", "text/plain")
            else:
                self._send(200, data, "text/html; charset=utf-8")

        def _send(self, status: int, data: bytes, ctype: str) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
