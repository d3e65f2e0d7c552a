"""The round trip in local mode: the real local forge and runner executing action.yml.

Everything lives in a scratch folder inside the data folder (``doctor-round-trip/``), removed
afterwards unless kept; only the runner's tool cache (the Action's venv) is shared with the
receiver's own runs, so the trip does not reinstall it. Sites are served from that folder by the
same ``/pages/<repo>/`` app the receiver mounts, and the Action notifies a local listener.
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Route

from receiver.config import Settings
from receiver.doctor.listener import Listener
from receiver.doctor.round_trip import COMPLETED, DEPLOYED, NOTIFIED, SERVING, STARTED
from receiver.forge import Dispatch, Repo
from receiver.local.forge import LocalForge
from receiver.local.mode import LOCAL_ACTION_REF
from receiver.local.pages import pages_app
from receiver.local.run_model import StepFailed, run_git
from receiver.local.runner import default_action_path, local_forge_with_runner
from receiver.workflow import ActionChoice, override_choice

SCRATCH = "doctor-round-trip"


def local_action(settings: Settings) -> Callable[[], ActionChoice]:
    """The override, else this checkout's action.yml, as local mode's worker uses."""
    choice = override_choice(settings) or ActionChoice(LOCAL_ACTION_REF, "local mode")
    return lambda: choice


class LocalWatcher:
    """Reads the local run's record, the bare repo and the served page; polls the listener."""

    def __init__(
        self, data_dir: Path, http: httpx.Client, listener: Listener, clock: Callable[[], float]
    ) -> None:
        self.data_dir, self.http, self.listener, self.clock = data_dir, http, listener, clock
        self.commit_sha = ""

    def poll(self, repo: Repo, dispatch: Dispatch, nonce: str, marks: dict[str, float]) -> str:
        try:
            record = json.loads((self.data_dir / "runs" / f"{dispatch.run_id}.json").read_text())
        except (OSError, ValueError):
            record = {}  # not written yet, or being replaced
        state = record.get("state", "queued")
        if state != "queued" and STARTED not in marks:
            marks[STARTED] = self.clock()
        deployed = any(
            "deploy to github pages" in s.get("name", "").lower() and s.get("state") == "success"
            for s in record.get("steps", [])
        )
        if deployed and DEPLOYED not in marks:
            marks[DEPLOYED] = self.clock()
        if DEPLOYED in marks and SERVING not in marks:
            self._serving(repo, marks)
        if NOTIFIED not in marks and self.listener.received(nonce):
            marks[NOTIFIED] = self.clock()
        if state in ("success", "failure") and COMPLETED not in marks:
            marks[COMPLETED] = self.clock()
            if state == "failure":
                return (
                    f"the local run failed ({record.get('error') or 'a step failed'}); see "
                    f"{dispatch.run_url} or runs/{dispatch.run_id}.log"
                )
        if all(name in marks for name in (COMPLETED, DEPLOYED, SERVING, NOTIFIED)):
            return "done"
        return ""

    def _serving(self, repo: Repo, marks: dict[str, float]) -> None:
        bare = self.data_dir / "repos" / f"{repo.name}.git"
        try:
            sha = run_git("-C", str(bare), "rev-parse", repo.default_branch)
            committed = run_git("-C", str(bare), "show", f"{sha}:index.html")
        except StepFailed:
            return  # no index.html committed (yet); the round's deadline decides
        try:
            page = self.http.get(repo.pages_url, timeout=10.0)
        except httpx.HTTPError:
            return
        if page.status_code == 200 and page.text.strip() == committed.strip():
            self.commit_sha = sha
            marks[SERVING] = self.clock()


@contextmanager
def local_stage(data_dir: Path, *, keep: bool) -> Iterator[tuple[LocalForge, Path]]:
    """A scratch local forge with a runner, its sites served on 127.0.0.1 as ``/pages/<repo>/``.

    Yields ``(forge, scratch folder)``; the folder goes afterwards unless ``keep``.
    """
    scratch = (data_dir / SCRATCH).resolve()
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    public_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    forge = local_forge_with_runner(
        scratch,
        public_url=public_url,
        action_path=default_action_path(),
        tool_cache=(data_dir / "runner-temp").resolve(),
    )
    sites = pages_app(scratch)
    app = Starlette(
        routes=[Route("/pages/{repo}", sites), Route("/pages/{repo}/{path:path}", sites)]
    )
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("The local pages server did not start.")
            time.sleep(0.02)
        yield forge, scratch
    finally:
        server.should_exit = True
        thread.join(10)
        if not keep:
            shutil.rmtree(scratch, ignore_errors=True)
