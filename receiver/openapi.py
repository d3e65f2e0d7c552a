"""The receiver's OpenAPI 3.1 description, built in code so limits come from the modules that
enforce them, and served at ``GET /openapi.json`` for the routes the running app has mounted.

``tests/test_openapi.py`` keeps it in step: corpus requests validate against the request schema
and pass ``parse_request``; mutations the schema rejects are rejected with a 400 naming the same
field; every mounted route is documented; the document passes openapi-spec-validator.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from receiver.config import Settings
from receiver.request import MAX_ATTACHMENTS, MAX_CHECKS, MAX_ROUND, MAX_TASK

VERSION = "1"
_NONBLANK = r"\S"
_REF = "#/components/schemas/"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF + name}


def _json(schema: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


def _text(media: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {media: {"schema": {"type": "string"}}}}


def _nullable(kind: str, **extra: Any) -> dict[str, Any]:
    return {"type": [kind, "null"], **extra}


def schemas() -> dict[str, Any]:
    """The component schemas; DeployRequest mirrors receiver/request.py's checks."""
    check = {
        "oneOf": [
            {"type": "string"},
            {"type": "object", "required": ["js"], "properties": {"js": {"type": "string"}}},
        ]
    }
    attachment = {
        "type": "object",
        "required": ["name", "url"],
        "properties": {
            "name": {"type": "string", "pattern": _NONBLANK},
            "url": {
                "type": "string",
                "pattern": "^data:",
                "description": "A data: URI; the MIME type is not trusted, the bytes must "
                "decode (base64 or percent-encoded).",
            },
        },
    }
    url = "^[Hh][Tt][Tt][Pp][Ss]?://[^/?#]"
    request = {
        "type": "object",
        "required": ["email", "secret", "task", "round", "nonce", "brief", "evaluation_url"],
        "additionalProperties": True,
        "description": "Unknown fields are ignored.",
        "properties": {
            "email": {"type": "string"},
            "secret": {"type": "string", "description": "The deploy secret (else 403)."},
            "task": {"type": "string", "pattern": _NONBLANK, "maxLength": MAX_TASK},
            "round": {"type": "integer", "minimum": 1, "maximum": MAX_ROUND},
            "nonce": {"type": "string", "pattern": _NONBLANK},
            "brief": {"type": "string", "pattern": _NONBLANK},
            "evaluation_url": {"type": "string", "pattern": url},
            "checks": {
                "type": ["array", "null"],
                "items": check,
                "default": [],
                "maxItems": MAX_CHECKS,
            },
            "attachments": {
                "type": ["array", "null"],
                "items": attachment,
                "default": [],
                "maxItems": MAX_ATTACHMENTS,
            },
        },
    }
    accepted = {
        "type": "object",
        "required": ["status", "task", "round", "nonce", "status_url"],
        "properties": {
            "status": {"const": "accepted"},
            "task": {"type": "string"},
            "round": {"type": "integer"},
            "nonce": {"type": "string"},
            "status_url": {"type": "string"},
            "duplicate": {"type": "boolean", "description": "Already received; nothing redone."},
        },
    }
    error = {
        "type": "object",
        "required": ["error", "field"],
        "properties": {"error": {"type": "string"}, "field": _nullable("string")},
    }
    round_status = {
        "type": "object",
        "required": ["round", "nonce", "state", "received_at", "updated_at"],
        "properties": {
            "round": {"type": "integer"},
            "nonce": {"type": "string"},
            "state": {
                "anyOf": [_ref("State"), {"enum": ["running", "deployed", "notified"]}],
                "description": "A mode that runs the workflow itself adds its progress.",
            },
            "worker_state": {**_ref("State"), "description": "Then: the journal's state."},
            "run": {"type": ["object", "null"], "description": "Then: the run's progress."},
            "notified": {
                "type": "boolean",
                "description": "Then: an evaluator accepted the notification (200).",
            },
            "outcome": {
                "anyOf": [_ref("Outcome"), {"type": "null"}],
                "description": "How the round's run ended, once dispatched.",
            },
            "repo": _nullable("string"),
            "repo_url": _nullable("string"),
            "pages_url": _nullable("string"),
            "run_url": _nullable("string"),
            "error": _nullable("string"),
            "received_at": {"type": "number"},
            "updated_at": {"type": "number"},
        },
    }
    task_status = {
        "type": "object",
        "required": ["task", "repo", "repo_url", "pages_url", "rounds"],
        "properties": {
            "task": {"type": "string"},
            "repo": _nullable("string"),
            "repo_url": _nullable("string"),
            "pages_url": _nullable("string"),
            "rounds": {"type": "array", "items": _ref("RoundStatus")},
        },
    }
    public_status = {
        "type": "object",
        "required": ["task", "rounds"],
        "additionalProperties": False,
        "description": "Without the deploy secret: each round's number and state, nothing else.",
        "properties": {
            "task": {"type": "string"},
            "rounds": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["round", "state"],
                    "additionalProperties": False,
                    "properties": {"round": {"type": "integer"}, "state": {"type": "string"}},
                },
            },
        },
    }
    row = {
        "type": "object",
        "required": [
            "id",
            "task",
            "round",
            "state",
            "running",
            "elapsed_s",
            "received_at",
            "repo",
            "repo_url",
            "run_url",
            "pages_url",
            "error",
            "step",
        ],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "integer"},
            "task": {"type": "string"},
            "round": {"type": "integer"},
            "state": _ref("State"),
            "running": {"type": "boolean"},
            "step": _nullable("string", description="The latest completed worker step."),
            "received_at": {"type": "number"},
            "elapsed_s": {"type": "number", "minimum": 0},
            "repo": _nullable("string"),
            "repo_url": _nullable("string", pattern="^https?://"),
            "run_url": _nullable("string", pattern="^https?://"),
            "pages_url": _nullable("string", pattern="^https?://"),
            "error": _nullable("string", description="Why the request failed, scrubbed."),
            "outcome": {"anyOf": [_ref("Outcome"), {"type": "null"}]},
        },
    }
    outcome = {
        "type": "object",
        "description": "How a dispatched round's run ended (receiver.outcome.round_outcome); "
        "conclusion is null while it runs.",
        "required": [
            "conclusion",
            "commit_sha",
            "page_url",
            "checks_passed",
            "checks_failed",
            "tokens",
            "cost_usd",
            "evaluator_status",
            "evaluator_accepted_at",
        ],
        "properties": {
            "conclusion": _nullable("string"),
            "started_at": _nullable("number"),
            "ended_at": _nullable("number"),
            "step": _nullable("string"),
            "commit_sha": _nullable("string"),
            "page_url": _nullable("string"),
            "checks_passed": _nullable("integer"),
            "checks_failed": _nullable("integer"),
            "tokens": _nullable("integer"),
            "cost_usd": _nullable("number"),
            "evaluator_status": _nullable(
                "integer", description="The evaluator's last HTTP answer."
            ),
            "evaluator_accepted_at": _nullable(
                "number", description="When it answered 200 (epoch s)."
            ),
        },
    }
    dashboard = {
        "type": "object",
        "required": ["mode", "now", "refresh_seconds", "tasks"],
        "properties": {
            "mode": {"type": "string"},
            "now": {"type": "number"},
            "refresh_seconds": {"type": "integer"},
            "tasks": {"type": "array", "items": _ref("DashboardRow")},
            "doctor": _nullable(
                "object",
                description="The last `llm-deploy doctor` result "
                "(checks, round-trip phases), or null before the first run.",
            ),
        },
    }
    health = {
        "type": "object",
        "required": ["status", "mode"],
        "properties": {"status": {"const": "ok"}, "mode": {"type": "string"}},
    }
    states = ["queued", "working", "dispatching", "dispatched", "failed", "dispatch-uncertain"]
    return {
        "DeployRequest": request,
        "Accepted": accepted,
        "Error": error,
        "State": {"enum": states},
        "RoundStatus": round_status,
        "TaskStatus": task_status,
        "Outcome": outcome,
        "PublicTaskStatus": public_status,
        "DashboardRow": row,
        "Dashboard": dashboard,
        "Health": health,
    }


def operations(settings: Settings) -> dict[str, dict[str, Any]]:
    """Every path of the core; a mode documents its own (``Mode.openapi_paths``)."""
    limit_mb = settings.max_body_bytes // (1024 * 1024)
    bearer: list[dict[str, list[str]]] = [{"deploySecret": []}]
    throttled = {
        **_json(
            "Error",
            "Too many wrong secrets from this address; wait `Retry-After` "
            "seconds. Answered before the body is read.",
        ),
        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
    }
    wrong_token = _json(
        "Error", "The bearer token is not the deploy secret (counts as a wrong secret)."
    )
    task = {"name": "task", "in": "path", "required": True, "schema": {"type": "string"}}

    return {
        "/api-deploy": {
            "post": {
                "summary": "Receive a task; answers once it is durably journaled",
                "operationId": "deploy",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("DeployRequest")}},
                },
                "responses": {
                    "200": _json("Accepted", "Journaled; the GitHub work happens afterwards."),
                    "400": _json("Error", "Not JSON, or a field is wrong; `field` names it."),
                    "403": _json("Error", "The secret does not match."),
                    "413": _json("Error", f"The body is larger than {limit_mb} MB."),
                    "408": _json("Error", "The body did not arrive within the body timeout."),
                    "429": throttled,
                },
            }
        },
        "/api-deploy/{task}": {
            "get": {
                "summary": "A task's rounds: state only; with the deploy secret as bearer, also "
                "nonce, repo, run, page and error (never secrets, emails or URLs to notify)",
                "operationId": "status",
                "parameters": [task],
                "security": [{}, *bearer],
                "responses": {
                    "200": {
                        "description": "The task's rounds, oldest first.",
                        "content": {
                            "application/json": {
                                "schema": {"oneOf": [_ref("TaskStatus"), _ref("PublicTaskStatus")]}
                            }
                        },
                    },
                    "401": wrong_token,
                    "404": _json("Error", "No request for this task was received."),
                    "429": throttled,
                },
            }
        },
        "/health": {
            "get": {
                "summary": "Liveness",
                "operationId": "health",
                "responses": {"200": _json("Health", "The process is up.")},
            }
        },
        "/": {
            "get": {
                "summary": "The dashboard page (data needs the deploy secret)",
                "operationId": "dashboardPage",
                "responses": {"200": _text("text/html", "A static page.")},
            }
        },
        "/static/{name}": {
            "get": {
                "summary": "The dashboard's script and style sheet",
                "operationId": "dashboardAsset",
                "parameters": [
                    {
                        "name": "name",
                        "in": "path",
                        "required": True,
                        "schema": {"enum": ["dashboard.js", "dashboard.css"]},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "The asset.",
                        "content": {
                            m: {"schema": {"type": "string"}}
                            for m in ("text/javascript", "text/css")
                        },
                    },
                    "404": _json("Error", "No such asset."),
                },
            }
        },
        "/api/dashboard": {
            "get": {
                "summary": "Recent requests for the dashboard, newest first",
                "operationId": "dashboard",
                "security": bearer,
                "responses": {
                    "200": _json("Dashboard", "Up to 50 requests."),
                    "401": _json("Error", "No or wrong bearer token."),
                    "429": throttled,
                },
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This description",
                "operationId": "openapi",
                "responses": {"200": {"description": "OpenAPI 3.1 JSON."}},
            }
        },
    }


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
    paths = {**operations(settings), **(extra or {})}
    if mounted is not None:
        paths = {
            p: {m: op for m, op in ops.items() if m in mounted[p]}
            for p, ops in paths.items()
            if p in mounted
        }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "llm-deploy receiver",
            "version": VERSION,
            "summary": "Brief in, deployed GitHub Pages app out.",
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "servers": [{"url": settings.public_url}],
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {
                "deploySecret": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The receiver's DEPLOY_SECRET as a bearer token.",
                }
            },
        },
    }


async def spec(request: Request) -> Response:
    """``GET /openapi.json`` describing the routes of the app that serves it."""
    mounted = route_paths(list(request.app.routes))
    state = request.app.state
    return JSONResponse(openapi_document(state.settings, mounted, state.mode.openapi_paths()))


def openapi_routes() -> list[Route]:
    """The route serving the OpenAPI document."""
    return [Route("/openapi.json", spec, methods=["GET"])]
