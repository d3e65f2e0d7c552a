"""Who may see and do what: the deploy secret, in a body or as a bearer token, and its throttle.

Every place that compares the secret goes through here, so a guesser meets one throttle whether
it guesses through ``POST /api-deploy``, the status endpoint or the dashboard: each wrong secret
takes a token from its address's bucket (``receiver.throttle``), and an empty bucket is answered
``429`` before anything else is done.
"""

from __future__ import annotations

import hmac

from starlette.requests import Request

from receiver.errors import ApiError
from receiver.throttle import Throttle, client_address

BEARER_HINT = "Send the deploy secret as 'Authorization: Bearer <secret>'."
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="llm-deploy"'}


def admit(request: Request) -> str:
    """The client's address; raise 429 with Retry-After if it sent too many wrong secrets."""
    state = request.app.state
    client = client_address(
        request.client.host if request.client else None, request.headers, state.settings.trust_proxy
    )
    throttle: Throttle = state.throttle
    wait = throttle.retry_after(client)
    if wait is not None:
        message = f"Too many wrong secrets from this address; retry in {wait} s."
        raise ApiError(429, message, "secret", headers={"Retry-After": str(wait)})
    return client


def secret_matches(request: Request, client: str, presented: bytes) -> bool:
    """Compare a presented secret in constant time; a wrong one counts against the client."""
    if hmac.compare_digest(presented, request.app.state.secret):
        return True
    request.app.state.throttle.wrong_secret(client)
    return False


def authorized(header: str | None, secret: str) -> bool:
    """True when an Authorization header carries ``Bearer <secret>``, compared in constant time.

    Header values arrive decoded as Latin-1, so encoding them back gives the bytes as sent.
    """
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return False
    return hmac.compare_digest(token.strip().encode("latin-1"), secret.encode("utf-8"))


def bearer(request: Request) -> bool:
    """True for ``Authorization: Bearer <secret>``, False without the header; 401 if it is wrong.

    A wrong token is refused rather than treated as absent, so it is counted and throttled like
    a wrong secret in a body, and a client learns its token is wrong instead of seeing less.
    """
    client = admit(request)
    header = request.headers.get("authorization")
    if header is None:
        return False
    if authorized(header, request.app.state.settings.deploy_secret):
        return True
    request.app.state.throttle.wrong_secret(client)
    raise ApiError(
        401,
        "The bearer token is not the deploy secret; " + BEARER_HINT[0].lower() + BEARER_HINT[1:],
        "authorization",
        headers=_CHALLENGE,
    )


def require_bearer(request: Request) -> None:
    """Raise 401 unless the request carries the deploy secret as a bearer token."""
    if not bearer(request):
        raise ApiError(401, BEARER_HINT, "authorization", headers=_CHALLENGE)
