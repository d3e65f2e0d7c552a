"""Validate HTTP exchanges against GitHub's own OpenAPI description (the project's subset).

The spec takes seconds to load, so it is loaded once per process and cached. Paths are matched
here rather than by openapi-core because GitHub's ``{path}`` and ``{ref}`` parameters may contain
``/`` (``contents/.github/workflows/x.yml``, ``git/ref/heads/main``); the matched template is handed
to openapi-core as ``path_pattern``.

GitHub answers some statuses on every operation even where the description omits them (401 bad
credentials, 403/429 rate limits, 404 for missing or hidden resources, 422 validation, 5xx). Such
an undocumented status is accepted only when its body has GitHub's basic-error shape.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_schema_validator import OAS30Validator
from werkzeug.datastructures import Headers, ImmutableMultiDict

SPEC_PATH = (
    Path(__file__).resolve().parents[2].parent / "shared/reference/github-rest-openapi-subset.json"
)
SERVER = "https://api.github.com"
GITHUB_WIDE = frozenset({401, 403, 404, 409, 422, 429, 500, 502, 503})
BASIC_ERROR = {
    "type": "object",
    "required": ["message", "documentation_url"],
    "properties": {
        "message": {"type": "string"},
        "documentation_url": {"type": "string"},
        "status": {"type": "string"},
        "errors": {"type": "array"},
    },
}
_SLASHY = {"path", "ref"}  # parameters GitHub lets span several segments
_lock = threading.Lock()


@dataclass
class _Request:
    host_url: str
    path: str
    path_pattern: str
    method: str
    body: bytes | None
    content_type: str
    parameters: RequestParameters = field(default_factory=RequestParameters)


@dataclass
class _Response:
    status_code: int
    data: bytes | None
    content_type: str
    headers: Headers


@cache
def _spec() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    return loaded


def api() -> OpenAPI:
    """The OpenAPI object for the subset, built once per process."""
    with _lock:
        return _api()


@cache
def _api() -> OpenAPI:
    return OpenAPI.from_dict(_spec())


@cache
def _templates() -> list[tuple[re.Pattern[str], str, int]]:
    out = []
    for template in _spec()["paths"]:

        def group(m: re.Match[str]) -> str:
            name = m.group(1)
            return f"(?P<{name}>.+)" if name in _SLASHY else f"(?P<{name}>[^/]+)"

        regex = re.sub(r"\\\{(\w+)\\\}", group, re.escape(template))
        out.append((re.compile(f"^{regex}$"), template, template.count("{")))
    # Literal segments win over parameters (secrets/public-key vs secrets/{secret_name}).
    return sorted(out, key=lambda item: item[2])


def match(method: str, path: str) -> tuple[str, dict[str, str]] | None:
    """The spec template and path parameters for a request, or None when undocumented."""
    for regex, template, _ in _templates():
        m = regex.match(path)
        if m and method.lower() in _spec()["paths"][template]:
            return template, m.groupdict()
    return None


def check_exchange(
    method: str,
    path: str,
    query: dict[str, str],
    request_headers: dict[str, str],
    request_body: bytes,
    status: int,
    response_headers: dict[str, str],
    response_body: bytes,
) -> list[str]:
    """Violations of the spec by one request and its response (empty when both conform)."""
    label = f"{method} {path} -> {status}"
    found = match(method, path)
    if found is None:
        return [f"{label}: no such operation in the spec"]
    template, params = found
    lower = {k.lower(): v for k, v in request_headers.items()}
    request = _Request(
        host_url=SERVER,
        path=path,
        path_pattern=template,
        method=method.lower(),
        body=request_body or None,
        content_type=lower.get("content-type", "application/json").lower(),
        parameters=RequestParameters(
            path=params,
            query=ImmutableMultiDict(query),
            header=Headers(request_headers),
            cookie=ImmutableMultiDict(),
        ),
    )
    problems = []
    try:
        api().validate_request(request)
    except Exception as exc:  # openapi-core raises a family of errors; all are violations
        problems.append(f"{label}: request: {_describe(exc)}")
    documented = _spec()["paths"][template][method.lower()]["responses"]
    if str(status) in documented:
        ctype = {k.lower(): v for k, v in response_headers.items()}.get("content-type", "")
        response = _Response(status, response_body or None, ctype.lower(), Headers({}))
        try:
            api().validate_response(request, response)
        except Exception as exc:
            problems.append(f"{label}: response: {_describe(exc)}")
    elif status in GITHUB_WIDE:
        problems += [f"{label}: error body: {e}" for e in _basic_error(response_body)]
    else:
        problems.append(f"{label}: status not documented for this operation")
    return problems


def _basic_error(body: bytes) -> list[str]:
    try:
        data = json.loads(body)
    except ValueError:
        return ["not JSON"]
    return [e.message for e in OAS30Validator(BASIC_ERROR).iter_errors(data)]


def _describe(exc: Exception) -> str:
    """The schema errors (with their JSON paths) rather than the whole offending value."""
    errors = getattr(exc.__cause__, "schema_errors", None) or getattr(exc, "schema_errors", None)
    if errors:
        return "; ".join(f"{'/'.join(map(str, e.path))}: {e.message[:300]}" for e in errors)
    return f"{type(exc).__name__}: {str(exc)[:500]}"
