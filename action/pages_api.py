"""What GitHub's Pages API says about a repository's site: its URL and the deployment of a commit.

The Action asks the API rather than guessing, because the guess is wrong off github.com (GitHub
Enterprise serves Pages elsewhere, local mode at the receiver) and because, when the app's own
workflow deploys the site, the page's content tells nothing: that workflow may publish a folder
holding no ``index.html`` at all (``Analyze`` publishes only ``result.json``). The deployment of a
commit (``GET /repos/{owner}/{repo}/pages/deployments/{sha}``, which accepts a commit SHA for the
id) reaches ``succeed`` only once Pages serves that commit, whichever workflow deployed it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

POLL_SECONDS = 5.0
SUCCEEDED = "succeed"
# Terminal states of a Pages deployment besides success (GitHub's enum).
FAILED = frozenset(
    {
        "deployment_cancelled",
        "deployment_failed",
        "deployment_content_failed",
        "deployment_attempt_error",
        "deployment_lost",
    }
)
TIMED_OUT = "timed out"


def _headers(token: str) -> dict[str, str]:
    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def _repo_url(api_url: str, repository: str, rest: str) -> str:
    return f"{api_url.rstrip('/')}/repos/{repository}/{rest}"


def site_url(http: httpx.Client, api_url: str, repository: str, token: str) -> str | None:
    """The site's ``html_url`` from ``GET /repos/{owner}/{repo}/pages``; None when unknown."""
    if not api_url or "/" not in repository:
        return None
    try:
        response = http.get(
            _repo_url(api_url, repository, "pages"), headers=_headers(token), timeout=15.0
        )
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    try:
        url = response.json().get("html_url")
    except (ValueError, AttributeError):
        return None
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return None
    return url if url.endswith("/") else url + "/"


def deployment_status(
    http: httpx.Client, api_url: str, repository: str, token: str, sha: str
) -> str | None:
    """The status of the Pages deployment of ``sha``; None while there is none (404)."""
    url = _repo_url(api_url, repository, f"pages/deployments/{sha}")
    try:
        response = http.get(url, headers=_headers(token), timeout=15.0)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    try:
        status = response.json().get("status")
    except (ValueError, AttributeError):
        return None
    return status if isinstance(status, str) else None


def wait_for_deployment(
    http: httpx.Client,
    api_url: str,
    repository: str,
    token: str,
    sha: str,
    deadline: float,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
    poll: float = POLL_SECONDS,
) -> str:
    """Poll until the deployment of ``sha`` ends; its final status, or ``TIMED_OUT``."""
    while True:
        status = deployment_status(http, api_url, repository, token, sha)
        if status == SUCCEEDED or status in FAILED:
            return status
        remaining = deadline - clock()
        if remaining <= 0:
            return TIMED_OUT
        sleep(min(poll, remaining))
