"""``llm-deploy run REQUEST.json``: one request end to end in local mode, notification printed.

Starts the receiver (local forge and runner) on an ephemeral 127.0.0.1 port and a tiny capture
evaluator beside it, POSTs the request with its ``evaluation_url`` and ``secret`` replaced by
theirs, waits for the notification and prints it as JSON. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import logging
import os
import queue
import secrets
import socket
import sys
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from receiver.app import create_app
from receiver.config import ConfigError, Settings
from receiver.local.mode import LocalMode
from receiver.local.run_model import RunResult

TIMEOUT = 600.0
Event = tuple[str, Any]


def capture_server(events: queue.Queue[Event]) -> ThreadingHTTPServer:
    """A stand-in evaluator on 127.0.0.1 that queues each notification POSTed to it as
    ``("notify", body)`` and answers 200."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            try:
                events.put(("notify", json.loads(body)))
                code = 200
            except ValueError:
                code = 400
            self.send_response(code)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"status": "ok"}')

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the request line would print the capture URL, which is ours, not news

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _settings(data: str | None, port: int) -> Settings:
    # One-shot runs are local by definition; a missing DEPLOY_SECRET gets a throwaway value.
    overrides = {"DEPLOY_SECRET": secrets.token_urlsafe(24)}
    environ = collections.ChainMap({}, os.environ, overrides)
    if data:
        environ.maps[0]["LLM_DEPLOY_DATA"] = data
    environ.maps[0].update(
        {
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "LLM_DEPLOY_PUBLIC_URL": f"http://127.0.0.1:{port}",
        }
    )
    settings = Settings.from_environ(environ)
    return dataclasses.replace(settings, github_token=None, data_dir=settings.data_dir.resolve())


def _wait(events: queue.Queue[Event], deadline: float, say: Any) -> dict[str, Any]:
    failed: RunResult | None = None
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            if failed is not None:
                raise RuntimeError(
                    f"The run failed ({failed.error or 'a step failed'}); see the log at "
                    f"/runs/{failed.run_id} of the receiver or runs/{failed.run_id}.log."
                )
            raise RuntimeError("No notification arrived within 10 minutes.")
        try:
            kind, value = events.get(timeout=min(left, 15.0))
        except queue.Empty:
            say("still waiting for the notification")
            continue
        if kind == "notify":
            return dict(value)
        if kind == "run" and value.state != "success":
            failed = value
            deadline = min(deadline, time.monotonic() + 3.0)  # a notification may be in flight
        elif kind == "run":
            say(f"run {value.run_id} finished in {value.elapsed:.1f}s")


def main(argv: Sequence[str]) -> int:
    """Run one request end to end in local mode; print the notification as JSON."""
    parser = argparse.ArgumentParser(prog="llm-deploy run", description=__doc__.split("\n")[0])
    parser.add_argument("request", type=Path, help="the request JSON (as POSTed to /api-deploy)")
    parser.add_argument(
        "--data", metavar="DIR", help="data folder (default: $LLM_DEPLOY_DATA or ./llm-deploy-data)"
    )
    args = parser.parse_args(list(argv))
    start = time.monotonic()

    def say(message: str) -> None:
        print(f"llm-deploy run [{time.monotonic() - start:5.1f}s] {message}", file=sys.stderr)

    try:
        request = json.loads(args.request.read_text("utf-8"))
        if not isinstance(request, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        print(f"llm-deploy run: cannot read {args.request}: {exc}", file=sys.stderr)
        return 2
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    try:
        settings = _settings(args.data, sock.getsockname()[1])
    except ConfigError as exc:
        sock.close()
        print(f"llm-deploy run: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s"
    )
    events: queue.Queue[Event] = queue.Queue()
    mode = LocalMode(settings, on_finish=lambda result: events.put(("run", result)))
    capture = capture_server(events)
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, mode=mode), log_config=None, log_level="warning")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("The receiver did not start.")
            time.sleep(0.02)
        say(f"local mode: receiver at {settings.public_url}, data in {settings.data_dir}")
        host, port = capture.server_address[:2]
        body = {
            **request,
            "secret": settings.deploy_secret,
            "evaluation_url": f"http://{host!s}:{port}/notify",
        }
        answer = httpx.post(f"{settings.public_url}/api-deploy", json=body, timeout=60)
        if answer.status_code != 200:
            raise RuntimeError(f"The receiver answered {answer.status_code}: {answer.text}")
        say(
            f"accepted task={request.get('task')} round={request.get('round')}; "
            f"follow it at {answer.json().get('status_url', '')}"
        )
        note = _wait(events, start + TIMEOUT, say)
        note.pop("evaluation_url", None)
        say(f"notified; the site is at {note.get('pages_url', '')}")
        print(json.dumps(note, indent=2))
        return 0
    except (RuntimeError, httpx.HTTPError) as exc:
        print(f"llm-deploy run: {exc}", file=sys.stderr)
        return 1
    finally:
        server.should_exit = True
        thread.join(10)
        mode.shutdown()
        capture.shutdown()
        capture.server_close()
