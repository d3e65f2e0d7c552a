"""The Starlette app: POST /api-deploy answers once a request is journaled; a worker does the rest.

Checks run in the order the evaluator's contract fixes: size (413), JSON and fields (400, naming
the field), secret in constant time (403). Only then is the request journaled (fsync'd) and 200
returned; no forge call ever happens before the 200. Errors are raised as ``ApiError`` and turned
into the one JSON shape by the handlers in ``receiver.errors``.

``create_app`` is the composition root: it takes the mode (``receiver.modes.mode_for`` unless one
is given), mounts the mode's routes beside the core's, and keeps settings, mode, journal and worker
on ``app.state``, where the module-level endpoints find them.
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
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from receiver.config import Settings
from receiver.dashboard import dashboard_routes
from receiver.errors import EXCEPTION_HANDLERS, ApiError
from receiver.forge import Forge
from receiver.journal import Journal
from receiver.mode import Mode
from receiver.modes import mode_for
from receiver.openapi import openapi_routes
from receiver.request import RequestError, parse_request
from receiver.worker import Worker

log = logging.getLogger("llm_deploy.app")


async def _read_capped(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    too_large = ApiError(413, f"The request body is larger than {limit // (1024 * 1024)} MB.")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:  # a missing or lying Content-Length is caught here
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _accept(app: Starlette, body: bytes) -> dict[str, Any]:
    # Runs in a thread: JSON of a 25 MB body, attachment decoding and the fsync would otherwise
    # stall every other connection on the event loop.
    settings: Settings = app.state.settings
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "The body is not valid JSON.") from None
    try:
        req = parse_request(data)
    except RequestError as exc:
        raise ApiError(400, exc.message, exc.field) from None
    if not hmac.compare_digest(req.secret.encode("utf-8"), settings.deploy_secret.encode("utf-8")):
        raise ApiError(403, "The secret does not match.", "secret")
    request_id, is_new = app.state.journal.record(req)
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
    """``POST /api-deploy``: journal a valid request, answer 200, let the worker do the rest."""
    settings: Settings = request.app.state.settings
    try:
        # A bound on the whole body, so a client trickling bytes cannot hold a slot forever.
        body = await asyncio.wait_for(
            _read_capped(request, settings.max_body_bytes), settings.body_timeout)
    except ClientDisconnect:  # a truncated body: the answer is for the log, nobody reads it
        raise ApiError(400, "The client closed the connection before the body ended.") from None
    except TimeoutError:
        waited = f"{settings.body_timeout:g}"
        raise ApiError(408, f"The request body did not arrive within {waited} s.") from None
    return JSONResponse(await run_in_threadpool(_accept, request.app, body))


async def status(request: Request) -> Response:
    """``GET /api-deploy/{task}``: every round of the task, with what the mode adds."""
    task = request.path_params["task"]
    found = await run_in_threadpool(request.app.state.journal.status, task)
    if found is None:
        raise ApiError(404, f"No request for task {task!r} was received.", "task")
    return JSONResponse(await run_in_threadpool(request.app.state.mode.status, found))


async def health(request: Request) -> Response:
    """``GET /health``: up, and in which mode."""
    return JSONResponse({"status": "ok", "mode": request.app.state.mode.name})


def create_app(
    settings: Settings,
    *,
    mode: Mode | None = None,
    forge: Forge | None = None,
    journal: Journal | None = None,
    worker: Worker | None = None,
) -> Starlette:
    """The receiver app; missing collaborators are built from the settings and mode at startup."""
    mode = mode or mode_for(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        own_journal = journal is None
        app.state.mode.start()
        jr = journal or Journal(settings.data_dir / "journal.sqlite3")
        mode_ = app.state.mode
        wk = worker or Worker(settings, jr, forge or mode_.forge(), action=mode_.action())
        app.state.journal, app.state.worker = jr, wk
        app.state.mode.bind(jr)
        log.info("%s", app.state.mode.describe())
        wk.start()
        try:
            yield
        finally:
            wk.stop()
            app.state.mode.shutdown()
            if own_journal:
                jr.close()

    routes: list[BaseRoute] = [
        Route("/health", health, methods=["GET"]),
        Route("/api-deploy", deploy, methods=["POST"]),
        Route("/api-deploy/{task:path}", status, methods=["GET"]),
        *dashboard_routes(),
        *openapi_routes(),
        *mode.routes(),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers=EXCEPTION_HANDLERS)
    app.state.settings, app.state.mode = settings, mode
    return app
