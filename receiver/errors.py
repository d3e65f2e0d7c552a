"""The one error shape of every HTTP answer, and the handlers that turn exceptions into it.

Endpoints raise ``ApiError``; Starlette's own ``HTTPException`` (404, 405) and any unexpected
exception (500) get the same ``{"error": ..., "field": ...}`` body, so a client parses one shape.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response


class ApiError(Exception):
    """An answer other than 2xx: status, one sentence a client can act on, the field at fault."""

    def __init__(
        self,
        status: int,
        message: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.field, self.headers = status, message, field, headers


def error_response(
    status: int, message: str, field: str | None = None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """The one shape of every error answer."""
    return JSONResponse(
        {"error": message, "field": field}, status_code=status, headers=dict(headers or {})
    )


async def api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.message, exc.field, exc.headers)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, str(exc.detail), headers=exc.headers)


async def server_error(request: Request, exc: Exception) -> Response:
    # The exception's text may quote anything (a path, a body): it goes to the log, not the client.
    return error_response(500, "The receiver failed on this request; see its log.")


EXCEPTION_HANDLERS = {ApiError: api_error, HTTPException: http_error, Exception: server_error}
