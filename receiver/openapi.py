"""``GET /openapi.json``: the receiver's OpenAPI 3.1 description, for the routes the app mounts.

The description is a document, ``receiver/openapi.json``, read as it is written (its limits are
held to the code's by ``tests/test_openapi.py``). A mode adds its own paths
(``Mode.openapi_paths``); this module adds the server's URL and leaves out what is not mounted.
"""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from importlib import resources
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from receiver.config import Settings


@cache
def _document() -> dict[str, Any]:
    text = resources.files("receiver").joinpath("openapi.json").read_text(encoding="utf-8")
    return dict(json.loads(text))


def route_paths(routes: list[Any]) -> dict[str, set[str]]:
    """Mounted routes as OpenAPI path templates → lower-case methods (HEAD left out)."""
    found: dict[str, set[str]] = {}
    for route in routes:
        path = getattr(route, "path", None)
        if path is None:
            continue
        template = re.sub(r"\{(\w+):\w+\}", r"{\1}", path)
        methods = getattr(route, "methods", None) or {"GET"}
        found.setdefault(template, set()).update(m.lower() for m in methods if m != "HEAD")
    return found


def openapi_document(
    settings: Settings,
    mounted: dict[str, set[str]] | None = None,
    extra: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The description, with a mode's ``extra`` paths; with ``mounted``, only those are listed."""
    doc = copy.deepcopy(_document())
    paths = {**doc["paths"], **(extra or {})}
    if mounted is not None:
        paths = {
            p: {m: op for m, op in ops.items() if m in mounted[p]}
            for p, ops in paths.items()
            if p in mounted
        }
    return {**doc, "servers": [{"url": settings.public_url}], "paths": paths}


async def spec(request: Request) -> Response:
    """``GET /openapi.json`` describing the routes of the app that serves it."""
    mounted = route_paths(list(request.app.routes))
    state = request.app.state
    return JSONResponse(openapi_document(state.settings, mounted, state.mode.openapi_paths()))


def openapi_routes() -> list[Route]:
    """The route serving the OpenAPI document."""
    return [Route("/openapi.json", spec, methods=["GET"])]
