"""A small GitHub REST client on an injected ``httpx.Client``, for publishing the Action.

Rate-limit answers are waited out with the same policy as the forge (``receiver.github.rate``);
5xx answers and dropped connections are retried with backoff: every call the publisher makes is
safe to repeat (git objects are content-addressed, a ref update names its target, a repeated
create answers 422 "already exists", which the caller reads as success).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from receiver.forge import ForgeError
from receiver.github import rate as github_rate

API_VERSION = "2022-11-28"


class ActionPublishError(ForgeError):
    """The Action could not be checked or published; the message names the fix."""


class GitHubAnswer(Exception):
    """A non-2xx answer the caller may want to branch on (404 missing, 409 empty, 422 exists)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status} {message}")
        self.status, self.message = status, message


class Rest:
    """JSON calls to one GitHub API base URL with one token; never logs the token."""

    def __init__(
        self,
        http: httpx.Client,
        *,
        token: str,
        api_url: str = "https://api.github.com",
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        max_retries: int = 4,
    ) -> None:
        self._http, self._base = http, api_url.rstrip("/")
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
        }
        self._sleep, self._clock, self._max_retries = sleep, clock, max_retries

    def sleep(self, seconds: float) -> None:
        """The injected sleep, for callers that wait on GitHub (tests never wait)."""
        self._sleep(seconds)

    def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        action: str,
        params: dict[str, str] | None = None,
    ) -> Any:
        """The decoded JSON of a 2xx answer; raises GitHubAnswer or ActionPublishError."""
        attempt = 0
        while True:
            try:
                answer = self._http.request(
                    method, self._base + path, json=body, params=params, headers=self._headers
                )
            except httpx.HTTPError as exc:
                if attempt >= self._max_retries:
                    raise ActionPublishError(
                        f"Could not reach GitHub to {action} ({type(exc).__name__})."
                    ) from exc
                self._sleep(github_rate.backoff(attempt))
                attempt += 1
                continue
            if answer.is_success:
                return answer.json() if answer.content else None
            message = _message(answer)
            delay = github_rate.rate_limit_delay(
                answer.status_code, answer.headers, message, self._clock(), attempt
            )
            if delay is None and answer.status_code >= 500:
                delay = github_rate.backoff(attempt)
            if delay is None or attempt >= self._max_retries:
                if answer.status_code == 401:
                    raise ActionPublishError(
                        f"GitHub refused the token (401) while trying to {action}; check "
                        "GITHUB_TOKEN."
                    )
                raise GitHubAnswer(answer.status_code, message)
            self._sleep(delay)
            attempt += 1


def _message(answer: httpx.Response) -> str:
    try:
        data = answer.json()
    except ValueError:
        return answer.reason_phrase
    return str(data.get("message", "")) if isinstance(data, dict) else answer.reason_phrase
