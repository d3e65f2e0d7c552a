"""The GitHub Actions calls of ``GitHubForge``: workflow registration, dispatch and run lookup.

Kept apart from ``receiver.github.forge`` (repos, files, secrets, Pages) because these calls carry
the exactly-once rules:

* A dispatch is resent only after answers proving nothing started: the registration-lag 404 and
  422 "does not have 'workflow_dispatch' trigger", and rate-limit refusals (GitHub does not
  process a rate-limited request). After a 5xx or a timeout the outcome is unknown, so it raises.
* ``find_run`` settles such an unknown later: every dispatch carries an opaque ``dispatch-id``
  input and the generated workflow's ``run-name`` is ``llm-deploy <dispatch-id>``, which GitHub
  shows as the run's ``display_title``. A run dispatched minutes ago is near the top of the
  workflow's ``workflow_dispatch`` runs (newest first), so two pages are enough.

The REST helpers both modules share (path quoting, error text and wording) live here, so that
``receiver.github.forge`` imports them without an import cycle.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from typing import Any

from github import GithubException

from receiver.forge import Dispatch, ForgeError, Repo, WorkflowNotRegistered, run_name_matches

RUN_PAGES = 2  # pages of runs searched by find_run
RUNS_PER_PAGE = 50


class ActionsCalls:
    """The Actions half of GitHubForge, built on the forge's rate-limited, retrying request."""

    def __init__(
        self,
        request: Callable[..., Any],
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        registration_timeout: float,
    ) -> None:
        self._request = request
        self._clock, self._sleep = clock, sleep
        self._registration_timeout = registration_timeout

    def wait_for_workflow(self, repo: Repo, workflow_file: str, timeout: float) -> None:
        """Poll until the workflow is active; raise WorkflowNotRegistered on timeout."""
        url = workflow_url(repo, workflow_file)
        deadline, attempt = self._clock() + timeout, 0
        while True:
            try:
                data = self._request("GET", url, None, "check the workflow")
                if data.get("state") == "active":
                    return
            except GithubException as exc:
                if exc.status != 404:
                    raise explain(exc, "check the workflow") from exc
            attempt = self._pause(deadline, attempt, repo, workflow_file)

    def dispatch(self, repo: Repo, workflow_file: str, inputs: dict[str, str]) -> Dispatch:
        """Start the workflow on the default branch, retrying only provable non-starts."""
        url = f"{workflow_url(repo, workflow_file)}/dispatches"
        body = {"ref": repo.default_branch, "inputs": inputs, "return_run_details": True}
        deadline, attempt = self._clock() + self._registration_timeout, 0
        while True:
            try:
                data = self._request("POST", url, body, "dispatch the workflow", idempotent=False)
                break
            except GithubException as exc:
                text = error_text(exc)
                if exc.status == 404 or (exc.status == 422 and "workflow_dispatch" in text):
                    attempt = self._pause(deadline, attempt, repo, workflow_file)
                    continue
                if exc.status == 422 and "too large" in text:
                    raise ForgeError(
                        "The dispatch inputs exceed GitHub's 65,535-character limit; the payload "
                        "must travel as a side-branch file."
                    ) from exc
                if exc.status >= 500:
                    raise ForgeError(
                        f"GitHub answered {exc.status} to the dispatch, so whether the run started "
                        "is unknown; it was not resent."
                    ) from exc
                raise explain(exc, "dispatch the workflow") from exc
        if not data:
            return Dispatch(run_id=None, run_url="")
        return Dispatch(run_id=int(data["workflow_run_id"]), run_url=str(data["html_url"]))

    def find_run(self, repo: Repo, workflow_file: str, dispatch_id: str) -> str | None:
        """The html URL of the dispatched run whose run-name carries dispatch_id, or None."""
        url = f"{workflow_url(repo, workflow_file)}/runs"
        action = "list the workflow's runs"
        for page in range(1, RUN_PAGES + 1):
            params = {"event": "workflow_dispatch", "per_page": RUNS_PER_PAGE, "page": page}
            try:
                data = self._request("GET", url, None, action, params=params)
            except GithubException as exc:
                # Even a 404 is no proof that no run exists (a deleted repo, a changed token):
                # the caller must not resend on it.
                raise explain(exc, action) from exc
            runs = data.get("workflow_runs") or []
            for run in runs:
                # display_title is the rendered run-name; name is normally the workflow's name
                # but has been seen carrying the run-name (actions/runner#4141): both count.
                titles = (run.get("display_title"), run.get("name"))
                if any(run_name_matches(title, dispatch_id) for title in titles):
                    return str(run["html_url"])
            if len(runs) < RUNS_PER_PAGE:
                break
        return None

    def _pause(self, deadline: float, attempt: int, repo: Repo, workflow_file: str) -> int:
        """Sleep before the next registration check, or give up at the deadline."""
        delay = min(2.0 * 1.5**attempt, 15.0)
        if self._clock() + delay > deadline:
            raise WorkflowNotRegistered(
                f"GitHub has not registered {workflow_file} in {repo.full_name} yet; a new commit "
                "touching the file usually makes it register."
            )
        self._sleep(delay)
        return attempt + 1


def workflow_url(repo: Repo, workflow_file: str) -> str:
    return f"/repos/{q(repo.owner)}/{q(repo.name)}/actions/workflows/{q(workflow_file)}"


def q(part: str | None) -> str:
    """One URL path segment, quoted."""
    return urllib.parse.quote(part or "", safe="")


def error_text(exc: GithubException) -> str:
    """GitHub's error message and details, for matching (never echoed with user data)."""
    data = exc.data
    return str(data) if data is not None else str(exc.message or "")


def explain(exc: GithubException, action: str) -> ForgeError:
    """One sentence a user can act on for a GitHub error answer."""
    status = exc.status
    if status == 401:
        return ForgeError("GitHub rejected the token (401 Bad credentials); check GITHUB_TOKEN.")
    if status in (403, 429) and "rate limit" in error_text(exc).lower():
        return ForgeError(f"GitHub kept rate-limiting the request to {action}; try again later.")
    if status == 403:
        return ForgeError(f"The token is not allowed to {action} (GitHub answered 403).")
    if status == 404:
        return ForgeError(
            f"GitHub answered 404 when trying to {action}: the repository is missing or the "
            "token cannot see it."
        )
    if status >= 500:
        return ForgeError(f"GitHub kept failing ({status}) when trying to {action}; try later.")
    return ForgeError(f"GitHub answered {status} when trying to {action}.")
