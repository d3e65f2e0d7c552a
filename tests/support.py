"""Test helpers shared by many files: a fake clock, a free port, an ASGI app served in a thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

import uvicorn
from starlette.types import ASGIApp

START = 1_800_000_000.0
# Debian's Chromium, headless, quiet: no first-run work, no background traffic, no QUIC.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
T = TypeVar("T")


@dataclass
class FakeTime:
    """An injected clock and sleep: sleeping advances the clock and is recorded, never waits."""

    now: float = START
    sleeps: list[float] = field(default_factory=list)
    on_sleep: Callable[[], None] | None = None

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep is not None:
            self.on_sleep()

    def clock(self) -> float:
        return self.now


def free_socket() -> socket.socket:
    """A bound 127.0.0.1 socket on an ephemeral port, for uvicorn to serve on."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


def free_port() -> int:
    """A 127.0.0.1 port nobody listens on right now (for a server started by port number)."""
    with free_socket() as sock:
        return int(sock.getsockname()[1])


def wait_for(probe: Callable[[], T | None], timeout: float, what: str, every: float = 0.05) -> T:
    """Poll probe until it returns something truthy; AssertionError naming `what` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


class ServerThread:
    """An ASGI app under uvicorn (lifespan on) in a daemon thread, on a 127.0.0.1 socket."""

    def __init__(self, app: ASGIApp, sock: socket.socket | None = None) -> None:
        self.sock = sock or free_socket()
        self.port = int(self.sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(
                app, log_config=None, log_level="warning", lifespan="on", proxy_headers=False
            )
        )
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def start(self) -> str:
        """Start serving; the base URL once uvicorn is up."""
        self.thread.start()
        wait_for(
            lambda: self.server.started or not self.thread.is_alive(),
            20,
            "uvicorn to start",
            every=0.01,
        )
        assert self.server.started, "uvicorn did not start"
        return self.url

    def stop(self) -> None:
        """Shut down gracefully (the app's lifespan ends) and release the socket."""
        self.server.should_exit = True
        self.thread.join(20)
        self.sock.close()


@contextmanager
def serve(app: ASGIApp, sock: socket.socket | None = None) -> Iterator[str]:
    """Serve an ASGI app under uvicorn in a thread; yield its base URL."""
    server = ServerThread(app, sock)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()
