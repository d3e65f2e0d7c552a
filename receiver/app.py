"""The Starlette app: POST /api-deploy answers once a request is journaled; a worker does the rest.

Authentication comes before work: a client that sent too many wrong secrets is answered 429
before its body is read (``receiver.throttle``); then the size (413); then one JSON parse (400),
and the secret is compared in constant time straight after it (403), before any field is
validated or any attachment looked at. Only a request with the right secret is validated (400,
naming the field), journaled (fsync'd) and answered 200; no forge call ever happens before the
200. Errors are raised as ``ApiError`` and turned into the one JSON shape by the handlers in
``receiver.errors``.

``create_app`` is the composition root: it takes the mode (``receiver.modes.mode_for`` unless one
is given), mounts the mode's routes beside the core's, and keeps settings, mode, journal and worker
on ``app.state``, where the module-level endpoints find them.
"""

from __future__ import annotations

import asyncio
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

from receiver.auth import admit, bearer, secret_matches
from receiver.config import Settings
from receiver.dashboard import dashboard_routes
from receiver.errors import EXCEPTION_HANDLERS, ApiError
from receiver.forge import Forge
from receiver.journal import Journal
from receiver.mode import Mode
from receiver.modes import mode_for
from receiver.openapi import openapi_routes
from receiver.request import RequestError, load_body, parse_request, presented_secret
from receiver.throttle import Throttle
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


async def deploy(request: Request) -> Response:
    """``POST /api-deploy``: journal a valid request, answer 200, let the worker do the rest.

    Everything but the durable write runs on the event loop: ``json.loads`` holds the GIL for the
    whole parse, so a thread would not free the loop, only add a hop. The write goes to the
    journal's writer thread, which fsyncs concurrent requests together.
    """
    state = request.app.state
    settings: Settings = state.settings
    client = admit(request)  # before the body is read: a throttled guesser costs a header parse
    try:
        # A bound on the whole body, so a client trickling bytes cannot hold a slot forever.
        async with asyncio.timeout(settings.body_timeout):
            body = await _read_capped(request, settings.max_body_bytes)
    except ClientDisconnect:  # a truncated body: the answer is for the log, nobody reads it
        raise ApiError(400, "The client closed the connection before the body ended.") from None
    except TimeoutError:
        waited = f"{settings.body_timeout:g}"
        raise ApiError(408, f"The request body did not arrive within {waited} s.") from None
    try:
        data = load_body(body)
        secret = presented_secret(data)
    except RequestError as exc:
        raise ApiError(400, exc.message, exc.field) from None
    if not secret_matches(request, client, secret):
        raise ApiError(403, "The secret does not match.", "secret")
    try:
        req = parse_request(data)  # attachments are decoded by the worker (decision 52)
    except RequestError as exc:
        raise ApiError(400, exc.message, exc.field) from None
    # Cancelled only when the server shuts down: the row is then resumed by the next start.
    _, is_new = await state.journal.record_async(req)
    answer: dict[str, Any] = {
        "status": "accepted",
        "task": req.task,
        "round": req.round,
        "nonce": req.nonce,
        "status_url": f"{settings.public_url}/api-deploy/{quote(req.task, safe='')}",
    }
    if not is_new:  # a new one is already the worker's: the journal handed it over (decision 55)
        answer["duplicate"] = True
    return JSONResponse(answer)


def public_status(status: dict[str, Any]) -> dict[str, Any]:
    """What anyone may see of a task: each round's number and state, nothing else.

    A whitelist, so whatever a mode adds to a round (runs, commits, paths, errors) stays behind
    the secret without this function knowing about it.
    """
    return {
        "task": status["task"],
        "rounds": [{"round": r["round"], "state": r["state"]} for r in status["rounds"]],
    }


async def status(request: Request) -> Response:
    """``GET /api-deploy/{task}``: each round's state; with the secret as bearer, everything."""
    full = bearer(request)
    task = request.path_params["task"]
    found = await run_in_threadpool(request.app.state.journal.status, task)
    if found is None:
        raise ApiError(404, f"No request for task {task!r} was received.", "task")
    shown = await run_in_threadpool(request.app.state.mode.status, found)
    return JSONResponse(
        shown if full else public_status(shown),
        headers={"Cache-Control": "no-store", "Vary": "Authorization"},
    )


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
    throttle: Throttle | None = None,
) -> Starlette:
    """The receiver app; missing collaborators are built from the settings and mode at startup.

    ``throttle`` replaces the default (5 wrong secrets per client, then 429 for a minute), for
    tests that send thousands of wrong secrets from one address on purpose.
    """
    mode = mode or mode_for(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        mode.start()
        jr = journal or Journal(settings.data_dir / "journal.sqlite3")
        wk = worker or Worker(settings, jr, forge or mode.forge(), action=mode.action())
        app.state.journal, app.state.worker = jr, wk
        mode.bind(jr)
        log.info("%s", mode.describe())
        wk.start()
        try:
            yield
        finally:
            wk.stop()
            mode.shutdown()
            if journal is None:  # the journal this app opened
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
    app.state.throttle = throttle or Throttle()
    app.state.secret = settings.deploy_secret.encode("utf-8", "surrogateescape")
    return app
