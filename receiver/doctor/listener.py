"""A local stand-in for the evaluator: records the notifications POSTed to it and answers 200."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_BODY = 1024 * 1024


class Listener:
    """Use as a context manager; ``url`` is where to notify, ``received(nonce)`` what arrived."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        notes: list[dict[str, Any]] = []
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = min(int(self.headers.get("content-length") or 0), MAX_BODY)
                try:
                    body = json.loads(self.rfile.read(length))
                    code = 200 if isinstance(body, dict) else 400
                except ValueError:
                    body, code = None, 400
                if code == 200:
                    with lock:
                        notes.append(body)
                self.send_response(code)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._notes, self._lock = notes, lock
        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.url = f"http://{host}:{self._server.server_address[1]}/notify"

    def received(self, nonce: str) -> dict[str, Any] | None:
        """The notification carrying this nonce, once it has arrived."""
        with self._lock:
            return next((n for n in self._notes if n.get("nonce") == nonce), None)

    def __enter__(self) -> Listener:
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
