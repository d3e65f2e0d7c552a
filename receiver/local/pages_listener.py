"""Local Pages on a listener of their own, so generated sites never share the receiver's origin.

A page served by the receiver itself could read the signed-in dashboard's secret from
``sessionStorage`` and read every receiver JSON (``/api/dashboard``, ``/runs/N``,
``/api-deploy/<task>``) with plain same-origin requests. A second port is a second origin: the
browser keeps storage apart and the receiver answers no cross-origin read (it sends no CORS
headers). Sites share this one origin with each other, as they share ``<owner>.github.io``.

Decision: a second listener rather than ``Content-Security-Policy: sandbox``: a sandboxed page's
opaque origin throws on ``localStorage`` and needs CORS to fetch its own files, which would break
generated apps that work on GitHub Pages.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from pathlib import Path

import uvicorn

from receiver.local.pages import pages_app

log = logging.getLogger("llm_deploy.local")


class PagesError(Exception):
    """The pages listener could not start; the message says which port to free or set."""


def bind(host: str, port: int | None, fallback_from: int) -> socket.socket:
    """A listening socket: ``port`` (0: any free one), or with None ``fallback_from + 1`` or else
    any free port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    wanted = [port] if port is not None else [fallback_from + 1, 0]
    for candidate in wanted:
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, candidate))
        except OSError as exc:
            sock.close()
            if candidate == wanted[-1]:
                raise PagesError(
                    f"The local Pages port {candidate} on {host} is not free ({exc.strerror}); "
                    "set LLM_DEPLOY_PAGES_PORT to a free port, or 0 for any."
                ) from None
            continue
        sock.listen(128)
        return sock
    raise AssertionError("unreachable")


class PagesListener:
    """Serves ``data_dir/sites`` under ``/pages/<repo>/`` on its own port, in a daemon thread."""

    def __init__(
        self, data_dir: Path, *, host: str, port: int | None, receiver_port: int, public_host: str
    ) -> None:
        self.data_dir = Path(data_dir)
        self.host, self.port, self.receiver_port = host, port, receiver_port
        self.public_host = public_host
        self.url = ""  # the sites' origin, known once started
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        """Bind and serve (idempotent); return the origin, e.g. ``http://127.0.0.1:8001``."""
        if self._server is not None:
            return self.url
        sock = bind(self.host, self.port, self.receiver_port)
        bound = sock.getsockname()[1]
        host = f"[{self.public_host}]" if ":" in self.public_host else self.public_host
        self.url = f"http://{host}:{bound}"
        config = uvicorn.Config(
            pages_app(self.data_dir, runs=False),
            log_config=None,
            log_level="warning",
            lifespan="off",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="local-pages", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and self._thread.is_alive():
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)
        log.info("local Pages served at %s (an origin of their own)", self.url)
        return self.url

    def stop(self) -> None:
        """Stop serving (idempotent)."""
        if self._server is not None:
            self._server.should_exit = True
            if self._thread is not None:
                self._thread.join(5)
        self._server = self._thread = None
