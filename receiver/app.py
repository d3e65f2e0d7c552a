"""The Starlette app: POST /api-deploy answers once a request is journaled; a worker does the rest.

Checks run in the order the evaluator's contract fixes: size (413), JSON and fields (400, naming
the field), secret in constant time (403). Only then is the request journaled (fsync'd) and 200
returned; no GitHub call ever happens before the 200. Every error is JSON.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from receiver.config import Settings
from receiver.dashboard import dashboard_routes
from receiver.forge import Forge
from receiver.journal import Journal
from receiver.local_notify import LocalNotifications, with_progress
from receiver.openapi import openapi_routes
from receiver.request import RequestError, parse_request
from receiver.worker import Worker

log = logging.getLogger("llm_deploy.app")


def error(status: int, message: str, field: str | None = None) -> JSONResponse:
    """The one shape of every error answer."""
    return JSONResponse({"error": message, "field": field}, status_code=status)


class _TooLarge(Exception):
    pass


async def _read_capped(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:  # a missing or lying Content-Length is caught here
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def default_forge(settings: Settings) -> Forge:
    """The forge the settings ask for, imported only when needed."""
    if settings.local_mode:
        from receiver.runner import default_action_path, local_forge_with_runner

        local = local_forge_with_runner(settings.data_dir, public_url=settings.public_url,
                                        action_path=default_action_path())
        local.resume_interrupted()  # runs die with the process here; GitHub's would go on
        return local
    from receiver.github_forge import GitHubForge

    github: Forge = GitHubForge.from_settings(settings)
    return github


def create_app(
    settings: Settings,
    *,
    forge: Forge | None = None,
    journal: Journal | None = None,
    worker: Worker | None = None,
) -> Starlette:
    """The receiver app; missing collaborators are built from the settings at startup."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        own_journal = journal is None
        jr = journal or Journal(settings.data_dir / "journal.sqlite3")
        if worker is None:
            # One line in the log says which Action new repos will use; in GitHub mode it is
            # published into the user's account first, in the background.
            from receiver.github.action_ref import ActionSource

            action = ActionSource(settings)
            action.start()
            wk = Worker(settings, jr, forge or default_forge(settings), action=action.get)
        else:
            wk = worker
        app.state.journal, app.state.worker = jr, wk
        if settings.local_mode:
            log.info("local mode (no GITHUB_TOKEN); data in %s", settings.data_dir)
        else:
            log.info("GitHub mode as %s", settings.github_owner or "the token's user")
        wk.start()
        try:
            yield
        finally:
            wk.stop()
            if own_journal:
                jr.close()

    def accept(body: bytes) -> dict[str, Any] | JSONResponse:
        # Runs in a thread: JSON of a 25 MB body, attachment decoding and the fsync would
        # otherwise stall every other connection on the event loop.
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, ValueError):
            return error(400, "The body is not valid JSON.")
        try:
            req = parse_request(data)
        except RequestError as exc:
            return error(400, exc.message, exc.field)
        if not hmac.compare_digest(req.secret.encode("utf-8"),
                                   settings.deploy_secret.encode("utf-8")):
            return error(403, "The secret does not match.", "secret")
        request_id, is_new = jr_of().record(req)
        answer: dict[str, Any] = {
            "status": "accepted", "task": req.task, "round": req.round, "nonce": req.nonce,
            "status_url": f"{settings.public_url}/api-deploy/{quote(req.task, safe='')}",
        }
        if is_new:
            # Here, not on the event loop: submit reads the journaled row back (megabytes).
            app.state.worker.submit(request_id)
        else:
            answer["duplicate"] = True
        return answer

    async def deploy(request: Request) -> Response:
        try:
            # A bound on the whole body, so a client trickling bytes cannot hold a slot forever.
            body = await asyncio.wait_for(
                _read_capped(request, settings.max_body_bytes), settings.body_timeout)
        except _TooLarge:
            limit_mb = settings.max_body_bytes // (1024 * 1024)
            return error(413, f"The request body is larger than {limit_mb} MB.")
        except ClientDisconnect:  # a truncated body: the answer is for the log, nobody reads it
            return error(400, "The client closed the connection before the body ended.")
        except TimeoutError:
            waited = f"{settings.body_timeout:g}"
            return error(408, f"The request body did not arrive within {waited} s.")
        result = await run_in_threadpool(accept, body)
        if isinstance(result, JSONResponse):
            return result
        return JSONResponse(result)

    # Local mode's evaluator: the README quickstart's requests notify the receiver itself.
    notes = LocalNotifications(settings.data_dir) if settings.local_mode else None

    async def status(request: Request) -> Response:
        task = request.path_params["task"]
        found = await run_in_threadpool(jr_of().status, task)
        if found is None:
            return error(404, f"No request for task {task!r} was received.", "task")
        if notes is not None:  # local mode: the run's progress and the notification too
            found = await run_in_threadpool(with_progress, found, settings.data_dir, notes)
        return JSONResponse(found)

    async def local_notify(request: Request) -> Response:
        try:
            body = json.loads(await _read_capped(request, 1024 * 1024))
        except (_TooLarge, UnicodeDecodeError, ValueError):
            return error(400, "The body is not a JSON object of at most 1 MB.")
        assert notes is not None
        code, answer = await run_in_threadpool(notes.receive, body, jr_of())
        return JSONResponse(answer, status_code=code)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "mode": "local" if settings.local_mode else "github"})

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return error(exc.status_code, str(exc.detail))

    routes: list[Route] = [
        Route("/health", health, methods=["GET"]),
        Route("/api-deploy", deploy, methods=["POST"]),
        Route("/api-deploy/{task:path}", status, methods=["GET"]),
        *dashboard_routes(settings),
        *openapi_routes(settings),
    ]
    if settings.local_mode:
        # Local mode's stand-in for GitHub Pages and the Actions tab (sites/<repo>/, runs/<id>).
        from receiver.local_pages import pages_app

        sites = pages_app(settings.data_dir)
        routes += [Route("/pages/{repo}", sites), Route("/pages/{repo}/{path:path}", sites),
                   Route("/runs/{run_id:int}", sites),
                   Route("/local/notify", local_notify, methods=["POST"])]
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={HTTPException: http_error})

    def jr_of() -> Journal:
        current: Journal = app.state.journal
        return current

    return app
