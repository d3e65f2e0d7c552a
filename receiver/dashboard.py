"""The dashboard: a static page at ``GET /`` that polls ``GET /api/dashboard`` with the secret.

The page itself holds no data, so it is served to anyone; the JSON behind it answers only a
request carrying ``Authorization: Bearer <DEPLOY_SECRET>`` (``receiver.auth``: constant-time
compare, wrong tokens throttled). Rows are built from journal columns that never hold a secret,
an email, a brief or an evaluation URL, and error texts are scrubbed once more here, because an
exception message may quote anything.
"""

from __future__ import annotations

import re
import time
from importlib import resources
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from receiver.auth import require_bearer
from receiver.doctor.summary import last_doctor
from receiver.errors import ApiError

RECENT = 50
REFRESH_SECONDS = 5
# "running" is a state a mode may report (a run under way on this machine).
RUNNING_STATES = frozenset({"queued", "working", "dispatching", "running"})

# No inline code and nothing from elsewhere: the page works offline and an injected string in a
# task name cannot run even if it slipped past textContent.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
_ASSETS = {"dashboard.js": "text/javascript", "dashboard.css": "text/css"}

_SCRUB = [
    (re.compile(r"https?://\S*[?&](token|key|secret|sig)=\S*", re.I), "[url]"),
    (re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"), "[email]"),
    (re.compile(r"\b(gh[pousr]_|github_pat_|sk-)[A-Za-z0-9_-]{6,}"), "[token]"),
    (
        re.compile(r"(?i)\b(bearer\s+|(?:token|secret|key|password)\s*[=:]\s*)[^\s,;]+"),
        r"\1[hidden]",
    ),
]


def scrub(text: str | None) -> str | None:
    """Text with anything shaped like an email, a token or a signed URL replaced."""
    if text is None:
        return None
    for pattern, replacement in _SCRUB:
        text = pattern.sub(replacement, text)
    return text


def _link(url: str | None) -> str | None:
    # Only web links become hrefs; a filesystem path or a `javascript:` URL is never one.
    return url if url and url.startswith(("https://", "http://")) else None


def dashboard_rows(rows: list[dict[str, Any]], now: float) -> list[dict[str, Any]]:
    """Journal rows (``Journal.recent``) as the dashboard's JSON rows, with elapsed seconds."""
    out = []
    for row in rows:
        outcome = row.get("outcome")
        running = row["state"] in RUNNING_STATES
        end = now if running else row["updated_at"]
        if outcome:  # a dispatched round lasts until its run ends, not until the dispatch
            running = outcome.get("conclusion") is None
            end = now if running else (outcome.get("ended_at") or end)
        out.append(
            {
                "id": row["id"],
                "task": row["task"],
                "round": row["round"],
                "state": row["state"],
                "running": running,
                "step": row.get("last_step"),
                "received_at": row["received_at"],
                "elapsed_s": round(max(0.0, end - row["received_at"]), 1),
                "repo": row["repo"],
                "repo_url": _link(row["repo_url"]),
                "run_url": _link(row["run_url"]),
                "pages_url": _link(row["pages_url"]),
                "error": scrub(row["error"]) if row["state"] != "dispatched" else None,
                "outcome": outcome or None,
            }
        )
    return out


def _asset(name: str) -> bytes:
    return resources.files("receiver").joinpath("static", name).read_bytes()


async def page(request: Request) -> Response:
    """``GET /``: the page; it holds no data."""
    return Response(
        _asset("dashboard.html"), media_type="text/html; charset=utf-8", headers=_PAGE_HEADERS
    )


async def asset(request: Request) -> Response:
    """``GET /static/{name}``: the page's script and style."""
    name = request.path_params["name"]
    if name not in _ASSETS:
        raise ApiError(404, "Not found.")
    return Response(_asset(name), media_type=_ASSETS[name], headers=_PAGE_HEADERS)


async def data(request: Request) -> Response:
    """``GET /api/dashboard``: the recent requests, for the bearer of the deploy secret."""
    state = request.app.state
    require_bearer(request)  # throttled with wrong secrets sent anywhere else
    rows = await run_in_threadpool(lambda: state.mode.rows(state.journal.recent(RECENT)))
    now = time.time()
    body = {
        "mode": state.mode.name,
        "now": now,
        "refresh_seconds": REFRESH_SECONDS,
        "tasks": dashboard_rows(rows, now),
        "doctor": await run_in_threadpool(last_doctor, state.settings.data_dir, scrub),
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


def dashboard_routes() -> list[Route]:
    """Routes for the page, its two assets and its JSON (state comes from ``app.state``)."""
    return [
        Route("/", page, methods=["GET"]),
        Route("/static/{name}", asset, methods=["GET"]),
        Route("/api/dashboard", data, methods=["GET"]),
    ]
