"""A thin GitHub REST helper over an injected httpx client: the doctor's only way to GitHub.

The doctor reads answers the receiver's PyGithub adapter never needs (the ``X-OAuth-Scopes``
header, 403s that mean "this permission is missing"), so it speaks HTTP itself.
"""

from __future__ import annotations

from typing import Any

import httpx

from receiver.doctor.result import DoctorError

ACCEPT = "application/vnd.github+json"
API_VERSION = "2022-11-28"


class GitHubApi:
    def __init__(self, http: httpx.Client, base_url: str, token: str) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Accept": ACCEPT,
            "X-GitHub-Api-Version": API_VERSION,
        }

    def request(
        self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None
    ) -> httpx.Response:
        """One call; a network failure becomes a DoctorError naming the API, never the token."""
        try:
            return self._http.request(
                method,
                f"{self._base}{path}",
                headers=self._headers,
                json=json,
                params=params,
                timeout=30.0,
            )
        except httpx.HTTPError as exc:
            raise DoctorError(
                f"GitHub's API at {self._base} did not answer ({type(exc).__name__}): check the "
                "network and GITHUB_API_URL."
            ) from None

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.request("GET", path, params=params or None)

    @staticmethod
    def expect(response: httpx.Response, doing: str) -> None:
        """Raise a DoctorError quoting GitHub's message unless the answer is a 2xx."""
        if response.is_success:
            return
        raise DoctorError(
            f"GitHub answered {response.status_code} while {doing}: {message(response)}."
        )


def message(response: httpx.Response) -> str:
    """GitHub's error message from a response body, or its reason phrase."""
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase
    text = body.get("message") if isinstance(body, dict) else None
    return str(text or response.reason_phrase).rstrip(".")
