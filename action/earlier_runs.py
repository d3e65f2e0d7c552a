"""Wait until no earlier run of this workflow in this repository is still in flight.

Two rounds of one app must not overlap: round 2 revises the tree round 1 commits, so a round-2
run that starts generating while round 1's run is still at work would revise a tree without
round 1's app. GitHub's ``concurrency`` groups cannot guarantee this (one running, one pending:
a third run cancels the pending one, and a round is lost), so the Action asks the Actions REST
API itself: the runs of its own workflow that are queued, in progress or waiting, with a smaller
run id than its own (run ids grow with creation, so smaller is earlier). It polls with a
backoff until none is left or the deadline passes. In local mode the runner points
``GITHUB_API_URL`` at local mode's GitHub-compatible listing, so this code is the same there.

A listing that fails (no ``actions: read`` permission, API down) is not worth failing a round
for: the wait is skipped with a warning that says how to enable it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

# The statuses of a run that has not finished (``requested``/``pending`` are short-lived or
# only occur with concurrency groups, which llm-deploy does not use; they are asked anyway).
IN_FLIGHT = ("queued", "in_progress", "waiting", "requested", "pending")
FIRST_POLL = 2.0
MAX_POLL = 15.0


@dataclass
class WaitOutcome:
    """How the wait went: seconds spent, the runs waited for, and why it stopped."""

    waited_s: float = 0.0
    runs: list[int] = field(default_factory=list)  # earlier run ids seen in flight
    note: str = ""  # a sentence for the report when the wait was cut short or skipped


def workflow_file(workflow_ref: str) -> str:
    """The workflow's file name in ``GITHUB_WORKFLOW_REF`` (``o/r/.github/workflows/f@ref``)."""
    path = workflow_ref.split("@", 1)[0]
    return path.rsplit("/", 1)[-1] if "/.github/workflows/" in path else ""


def earlier_in_flight(
    http: httpx.Client, api_url: str, repository: str, workflow: str, run_id: int, token: str
) -> list[int]:
    """Ids of this workflow's runs, earlier than ``run_id``, that have not completed."""
    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    url = f"{api_url.rstrip('/')}/repos/{repository}/actions/workflows/{workflow}/runs"
    found: set[int] = set()
    for status in IN_FLIGHT:
        answer = http.get(url, params={"status": status, "per_page": "100"}, headers=headers)
        answer.raise_for_status()
        for run in answer.json().get("workflow_runs") or []:
            other = run.get("id")
            if isinstance(other, int) and other < run_id:
                found.add(other)
    return sorted(found)


def wait_for_earlier_runs(
    http: httpx.Client,
    *,
    api_url: str,
    repository: str,
    workflow_ref: str,
    run_id: str,
    token: str,
    deadline: float,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    log: Callable[[str], None] = print,
) -> WaitOutcome:
    """Poll until no earlier run is in flight or ``deadline`` (a ``clock`` time) has passed."""
    outcome = WaitOutcome()
    workflow = workflow_file(workflow_ref)
    if not run_id.isdigit():
        return outcome  # not on a runner (a direct call): there are no runs to wait for
    if not (api_url and "/" in repository and workflow):
        outcome.note = "No repository or workflow to look up earlier runs by; not waiting."
        return outcome
    started, delay = clock(), FIRST_POLL
    while True:
        try:
            busy = earlier_in_flight(http, api_url, repository, workflow, int(run_id), token)
        except (httpx.HTTPError, ValueError) as exc:
            status = exc.response.status_code if isinstance(exc, httpx.HTTPStatusError) else 0
            outcome.note = (
                f"Could not list this workflow's runs ({f'HTTP {status}' if status else exc}); "
                "not waiting for earlier rounds. Give the job the permission `actions: read`."
            )
            log(f"::warning::{outcome.note}")
            break
        if not busy:
            break
        outcome.runs = sorted(set(outcome.runs) | set(busy))
        left = deadline - clock()
        if left <= 0:
            outcome.note = (
                f"Earlier run(s) {', '.join(map(str, busy))} still in flight at the deadline; "
                "going ahead without them."
            )
            log(f"::warning::{outcome.note}")
            break
        log(f"Waiting for earlier run(s) {', '.join(map(str, busy))} of this workflow to finish.")
        sleep(min(delay, left))
        delay = min(delay * 1.5, MAX_POLL)
    outcome.waited_s = round(clock() - started, 1)
    return outcome
