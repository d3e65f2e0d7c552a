"""Local mode: bare repos, runs and Pages on this machine, and a stand-in evaluator.

``LocalMode`` is what the composition root plugs in when no GitHub token is set: its forge (a
``LocalForge`` whose dispatches run on a ``LocalRunner``), its routes (``/pages``, ``/runs``,
``POST /local/notify`` and the runs' GitHub-compatible API under ``/local/github``), the run
progress it folds into status and dashboard rows, and a shutdown
that ends the steps still running (they run in sessions of their own and would outlive us).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from receiver.auth import require_bearer
from receiver.config import Settings
from receiver.errors import ApiError
from receiver.forge import Forge
from receiver.journal import Journal
from receiver.local import github_api
from receiver.local.api_docs import local_operations
from receiver.local.notify import LocalNotifications, local_row, with_progress, with_run
from receiver.local.pages import pages_app
from receiver.local.pages_listener import PagesListener
from receiver.local.run_model import RunResult
from receiver.local.runner import (
    LocalRunner,
    RerunError,
    default_action_path,
    local_forge_with_runner,
)
from receiver.local.steps import StepProcesses
from receiver.workflow import ActionChoice, override_choice

log = logging.getLogger("llm_deploy.local")
# The local runner runs this checkout's action.yml for any `uses:` outside `actions/`; the owner
# is the local forge's namespace (receiver.local.forge.OWNER), never an account on GitHub.
LOCAL_ACTION_REF = "repos/llm-deploy-action@local"
NOTIFY_LIMIT = 1024 * 1024


class LocalMode:
    """The ``Mode`` that does everything on this machine, under ``settings.data_dir``."""

    name = "local"

    def __init__(
        self, settings: Settings, *, on_finish: Callable[[RunResult], None] | None = None
    ) -> None:
        self.settings = settings
        self.on_finish = on_finish
        # The local evaluator: the README quickstart's requests notify the receiver itself.
        self.notes = LocalNotifications(settings.data_dir)
        self._processes: list[StepProcesses] = []
        public_host = urlsplit(settings.public_url).hostname or "127.0.0.1"
        self.pages = PagesListener(
            settings.data_dir,
            host=settings.host,
            port=settings.pages_port,
            receiver_port=settings.port,
            public_host=public_host,
        )
        self.runner: LocalRunner | None = None  # the forge's, for "Re-run jobs"

    def start(self) -> None:
        """Serve the sites on their own port (an origin apart from the receiver's)."""
        self.pages.start()

    @property
    def pages_url(self) -> str:
        """The origin sites are announced at: ``LLM_DEPLOY_PAGES_URL`` or the listener's."""
        return self.settings.pages_url or self.pages.start()

    def describe(self) -> str:
        """Where requests go."""
        return f"local mode (no GITHUB_TOKEN); data in {self.settings.data_dir}"

    def forge(self) -> Forge:
        """A LocalForge with its runner; runs a stopped receiver left unfinished start again."""
        data_dir = self.settings.data_dir
        processes = StepProcesses()
        self._processes.append(processes)
        local = local_forge_with_runner(
            data_dir,
            public_url=self.settings.public_url,
            action_path=default_action_path(data_dir),
            on_finish=self.on_finish,
            processes=processes,
            max_runs=self.settings.worker_threads,
            pages_url=self.pages_url,
        )
        local.resume_interrupted()  # runs die with the process here; GitHub's would go on
        self.runner = local.runner if isinstance(local.runner, LocalRunner) else None
        return local

    def action(self) -> Callable[[], ActionChoice]:
        """The override, else this checkout's action.yml under the local forge's namespace."""
        choice = override_choice(self.settings) or ActionChoice(
            LOCAL_ACTION_REF, "local mode: this checkout's action.yml"
        )
        logging.getLogger("llm_deploy.action").info("%s", choice.describe())
        return lambda: choice

    def routes(self) -> list[BaseRoute]:
        """Local Pages, the run pages (the Actions tab's stand-in) and the evaluator."""
        runs = pages_app(self.settings.data_dir)
        return [
            Route("/pages/{repo}", to_pages),
            Route("/pages/{repo}/{path:path}", to_pages),
            Route("/runs/{run_id:int}", runs),
            Route("/runs/{run_id:int}/rerun", rerun, methods=["POST"]),
            Route("/local/notify", notify, methods=["POST"]),
            *github_api.routes(),  # the runs' GITHUB_API_URL: run listing and Pages reads
        ]

    def openapi_paths(self) -> dict[str, dict[str, Any]]:
        """The descriptions of those routes."""
        return local_operations()

    def bind(self, journal: Journal) -> None:
        """Nothing to keep: a local run's record and report are on this disk for good."""

    def status(self, found: dict[str, Any]) -> dict[str, Any]:
        """Each round with its run's progress and whether its notification arrived."""
        return with_progress(found, self.settings.data_dir, self.notes)

    def rows(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Dashboard rows showing the step their run is at."""
        return [local_row(with_run(row, self.settings.data_dir)) for row in rows]

    def shutdown(self) -> None:
        """End the steps still running; their runs start again on the next start."""
        for processes in self._processes:
            processes.shutdown()
        self._processes.clear()
        self.pages.stop()


async def to_pages(request: Request) -> Response:
    """``GET /pages/<repo>/…`` on the receiver: a redirect to the same path on the sites' origin.

    Never the site itself: a page on the receiver's origin could read the dashboard's secret.
    """
    mode = request.app.state.mode
    assert isinstance(mode, LocalMode)
    target = mode.pages_url + request.url.path
    if request.url.query:
        target += f"?{request.url.query}"
    return Response(status_code=307, headers={"Location": target, "Cache-Control": "no-store"})


async def notify(request: Request) -> Response:
    """``POST /local/notify``: check a notification as the evaluator would, and keep it."""
    mode = request.app.state.mode
    assert isinstance(mode, LocalMode)
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > NOTIFY_LIMIT:
            raise ApiError(400, "The body is not a JSON object of at most 1 MB.")
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "The body is not a JSON object of at most 1 MB.") from None
    code, answer = await run_in_threadpool(mode.notes.receive, body, request.app.state.journal)
    if code != 200:
        raise ApiError(code, answer["error"])
    return JSONResponse(answer)


async def rerun(request: Request) -> Response:
    """``POST /runs/{run_id}/rerun``: "Re-run jobs" for a finished local run (a new attempt)."""
    mode = request.app.state.mode
    assert isinstance(mode, LocalMode)
    # It spends what a run spends (model calls, a deploy): only the secret's bearer may ask.
    require_bearer(request)  # throttled with wrong secrets sent anywhere else
    run_id = request.path_params["run_id"]
    if mode.runner is None:
        raise ApiError(404, "This receiver runs no workflows, so it has no run to re-run.")
    runner = mode.runner
    try:
        repo, workflow, inputs, attempt = await run_in_threadpool(runner.start_rerun, run_id)
    except RerunError as exc:
        raise ApiError(409, str(exc)) from None
    threading.Thread(
        target=runner.run,
        args=(repo, workflow, inputs),
        kwargs={"run_id": run_id, "attempt": attempt},
        name=f"local-rerun-{run_id}",
        daemon=True,
    ).start()
    public = mode.settings.public_url.rstrip("/")
    return JSONResponse(
        {"run_id": run_id, "attempt": attempt, "run_url": f"{public}/runs/{run_id}"},
        status_code=202,
    )
