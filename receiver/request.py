"""Validation of the POST /api-deploy body into a typed request (pure, no I/O).

Attachments are only checked to be data: URIs here; the worker decodes them (docs/decisions.md,
entry 52)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

MAX_TASK = 200
MAX_CHECKS = 1000  # real tasks carry 3 to 10; naming 300,000 duplicate attachments took minutes
MAX_ATTACHMENTS = 100
MAX_ROUND = 2**31 - 1  # far above any real round; keeps the journal's INTEGER and JS numbers exact

Check = str | dict[str, str]


class RequestError(ValueError):
    """The request body is malformed; ``field`` names the offending field."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class DeployRequest:
    email: str
    secret: str
    task: str
    round: int
    nonce: str
    brief: str
    evaluation_url: str
    checks: list[Check] = field(default_factory=list)
    attachments: list[dict[str, str]] = field(default_factory=list)

    def public_document(self) -> dict[str, Any]:
        """The request minus its secret, as the journal stores it."""
        return {name: value for name, value in vars(self).items() if name != "secret"}


def _unicode(value: str, where: str) -> str:
    # JSON may carry lone surrogates ("\\ud800"); they cannot be encoded as UTF-8 later (secret
    # comparison, journal, payload), so they are a 400 here rather than a 500 there.
    if value.isascii():  # the common case (a 1 MB base64 data URI), answered without a copy
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise RequestError(where, f"'{where}' is not valid Unicode (lone surrogate).") from None
    return value


def _str(body: dict[str, Any], name: str, *, required_nonempty: bool = True) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise RequestError(name, f"'{name}' must be a string.")
    _unicode(value, name)
    if required_nonempty and not value.strip():
        raise RequestError(name, f"'{name}' must not be empty.")
    return value


def _round(body: dict[str, Any]) -> int:
    value = body.get("round")
    # bool is an int subclass: `true` must not pass as round 1.
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ROUND:
        raise RequestError("round", f"'round' must be a positive integer of at most {MAX_ROUND}.")
    return value


def _list(body: dict[str, Any], name: str, limit: int) -> list[Any]:
    value = body.get(name)
    if value is None:  # absent or null: none
        return []
    if not isinstance(value, list):
        raise RequestError(name, f"'{name}' must be a list.")
    if len(value) > limit:
        raise RequestError(name, f"'{name}' must hold at most {limit} items.")
    return value


def _checks(body: dict[str, Any]) -> list[Check]:
    checks: list[Check] = []
    for i, item in enumerate(_list(body, "checks", MAX_CHECKS)):
        if isinstance(item, str):
            checks.append(_unicode(item, f"checks[{i}]"))
        elif isinstance(item, dict) and isinstance(item.get("js"), str):
            checks.append({"js": _unicode(item["js"], f"checks[{i}]")})
        else:
            raise RequestError(
                f"checks[{i}]", f'\'checks[{i}]\' must be a string or an object {{"js": "..."}}.'
            )
    return checks


def _url(body: dict[str, Any]) -> str:
    value = _str(body, "evaluation_url")
    try:
        parts = urlsplit(value)
    except ValueError:  # e.g. "http://0[": an unbalanced IPv6 bracket (found by schemathesis)
        raise RequestError("evaluation_url", "'evaluation_url' is not a valid URL.") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise RequestError("evaluation_url", "'evaluation_url' must be an http(s) URL.")
    return value


def _attachments(body: dict[str, Any]) -> list[dict[str, str]]:
    items: list[dict[str, str]] = []
    for i, item in enumerate(_list(body, "attachments", MAX_ATTACHMENTS)):
        where = f"attachments[{i}]"
        if not isinstance(item, dict):
            raise RequestError(where, f"'{where}' must be an object with 'name' and 'url'.")
        name, url = item.get("name"), item.get("url")
        if not isinstance(name, str) or not name.strip():
            raise RequestError(f"{where}.name", f"'{where}.name' must be a non-empty string.")
        if not isinstance(url, str) or not url.startswith("data:"):
            raise RequestError(f"{where}.url", f"'{where}.url' must be a data: URI.")
        _unicode(name, f"{where}.name")
        items.append({"name": name, "url": _unicode(url, f"{where}.url")})
    return items


def load_body(raw: bytes) -> dict[str, Any]:
    """Parse the body once into a JSON object; anything else is a RequestError, never a crash.

    Nesting deeper than the interpreter's recursion limit (about 1,000 levels) raises
    RecursionError inside the decoder; integers longer than 4,300 digits raise ValueError.
    """
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise RequestError(None, "The body is not valid JSON.") from None
    except RecursionError:
        raise RequestError(None, "The body is nested too deeply to be a request.") from None
    if not isinstance(data, dict):
        raise RequestError(None, "The request body must be a JSON object.")
    return data


def presented_secret(body: dict[str, Any]) -> bytes:
    """The secret the body carries, as UTF-8 bytes to compare; checked before anything else."""
    return _str(body, "secret", required_nonempty=False).encode("utf-8")


def parse_request(body: dict[str, Any]) -> DeployRequest:
    """Validate a JSON object (``load_body``); raise RequestError naming the first bad field."""
    task = _str(body, "task")
    if len(task) > MAX_TASK:
        raise RequestError("task", f"'task' must be at most {MAX_TASK} characters.")
    return DeployRequest(
        email=_str(body, "email", required_nonempty=False),
        secret=_str(body, "secret", required_nonempty=False),
        task=task,
        round=_round(body),
        nonce=_str(body, "nonce"),
        brief=_str(body, "brief"),
        evaluation_url=_url(body),
        checks=_checks(body),
        attachments=_attachments(body),
    )
