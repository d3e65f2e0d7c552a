"""The real pipeline in local mode, one round at a time: a receiver and a capture evaluator.

Each model under evaluation gets its own receiver (the real ``create_app`` with the local forge
and runner, so the same Action code builds every app) with its own data folder, and a tiny
evaluator endpoint that records notifications. Rounds are sent one after another, so every run
that finishes while a round is pending belongs to that round.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from receiver.evaluation.errors import EvalError
from receiver.evaluation.ports import (
    WORKFLOW_FILE,
    LocalMode,
    RunResult,
    Settings,
    capture_server,
    create_app,
    default_action_path,
    local_forge_with_runner,
)

REPORT_GRACE = 120.0  # seconds to wait, after the notification, for the run's report
Event = tuple[str, Any]


@dataclass
class RoundRun:
    """What one round produced: the notification, the runs it caused, and how long it took."""

    note: dict[str, Any] | None = None
    report: dict[str, Any] = field(default_factory=dict)  # the Action's report output
    runs: list[RunResult] = field(default_factory=list)  # every run that finished meanwhile
    seconds: float = 0.0
    posted_at: float = 0.0  # epoch seconds when the request was sent
    error: str = ""


def model_settings(base: Settings, model: str, data_dir: Path, port: int) -> Settings:
    """The receiver settings for one model: local mode, that model alone (no fallback)."""
    url = f"http://127.0.0.1:{port}"
    return dataclasses.replace(
        base,
        github_token=None,
        # Locally a push token only marks a repo whose pushes start its own workflows (the local
        # forge checks no credential), so tasks that ship their CI (Analyze) are scored as on a
        # receiver with GITHUB_WORKFLOW_TOKEN, which such tasks need on GitHub.
        github_workflow_token=base.github_workflow_token or "local-push-token",
        llm_model=model,
        llm_fallback_model=model,
        data_dir=data_dir.resolve(),
        host="127.0.0.1",
        port=port,
        public_url=url,
    )


class LocalPipeline:
    """A local-mode receiver for one model; use as a context manager, then ``send`` rounds."""

    def __init__(
        self,
        base: Settings,
        model: str,
        data_dir: Path,
        *,
        tool_cache: Path | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.settings = model_settings(base, model, data_dir, self._sock.getsockname()[1])
        self.events: queue.Queue[Event] = queue.Queue()
        self._tool_cache = tool_cache
        self._stack = contextlib.ExitStack()
        self._http = http or self._stack.enter_context(httpx.Client(timeout=60))

    @property
    def base_url(self) -> str:
        return self.settings.public_url

    def __enter__(self) -> LocalPipeline:
        mode = LocalMode(self.settings)
        forge = local_forge_with_runner(
            self.settings.data_dir,
            public_url=self.settings.public_url,
            action_path=default_action_path(),
            tool_cache=self._tool_cache,
            on_finish=lambda result: self.events.put(("run", result)),
            pages_url=mode.pages_url,  # starts the sites' own listener
        )
        self._stack.callback(mode.shutdown)
        capture = capture_server(self.events)
        self._stack.callback(capture.server_close)
        self._stack.callback(capture.shutdown)
        self.capture_url = f"http://127.0.0.1:{capture.server_address[1]}/notify"
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(self.settings, mode=mode, forge=forge),
                log_config=None,
                log_level="warning",
            )
        )
        thread = threading.Thread(target=server.run, kwargs={"sockets": [self._sock]}, daemon=True)
        thread.start()
        self._stack.callback(self._sock.close)
        self._stack.callback(thread.join, 20)
        self._stack.callback(setattr, server, "should_exit", True)
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self._stack.close()
                raise EvalError("The local receiver did not start.")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def send(
        self, request: dict[str, Any], timeout: float, say: Callable[[str], None] = lambda _: None
    ) -> RoundRun:
        """POST one round and wait for its notification and its run's report."""
        out = RoundRun()
        while not self.events.empty():  # leftovers of an earlier round that timed out
            self.events.get_nowait()
        started, posted_at = time.monotonic(), time.time()
        out.posted_at = posted_at
        body = {
            **request,
            "secret": self.settings.deploy_secret,
            "evaluation_url": self.capture_url,
        }
        try:
            answer = self._http.post(f"{self.base_url}/api-deploy", json=body)
        except httpx.HTTPError as exc:
            out.error = f"the receiver did not answer: {exc}"
            return out
        if answer.status_code != 200:
            out.error = f"the receiver answered {answer.status_code}: {answer.text[:300]}"
            return out
        self._collect(out, str(request.get("nonce")), started, posted_at, timeout, say)
        if out.note is None:
            out.seconds = round(time.monotonic() - started, 2)
        return out

    def _collect(
        self,
        out: RoundRun,
        nonce: str,
        started: float,
        posted_at: float,
        timeout: float,
        say: Callable[[str], None],
    ) -> None:
        reported = False
        deadline = started + timeout
        for kind, value in self._events(deadline, say):
            if kind == "notify" and value.get("nonce") == nonce:
                out.note = {k: v for k, v in value.items() if k != "evaluation_url"}
                out.seconds = round(time.monotonic() - started, 2)  # what the 10 minutes count
                deadline = min(deadline, time.monotonic() + REPORT_GRACE)
            elif kind == "run" and value.started_at >= posted_at - 1.0:  # not an earlier round's
                out.runs.append(value)
                if value.workflow == WORKFLOW_FILE:  # not an app's own workflow (Analyze's CI)
                    reported = True
                    with contextlib.suppress(ValueError):
                        out.report = json.loads(value.outputs.get("report") or "{}")
                    if value.state != "success" and out.note is None:
                        out.error = value.error or "the llm-deploy run failed"
                        deadline = min(deadline, time.monotonic() + 3.0)  # a note may be late
            if out.note is not None and reported:
                return
        if out.note is None and not out.error:
            out.error = "no notification before the round's deadline"

    def _events(self, deadline: float, say: Callable[[str], None]) -> Iterator[Event]:
        while (left := deadline - time.monotonic()) > 0:
            try:
                yield self.events.get(timeout=min(left, 15.0))
            except queue.Empty:
                say("still waiting")
