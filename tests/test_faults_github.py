"""GitHub faults: the worker and GitHubForge against the fake GitHub, with time injected.

Each case ends with exactly one dispatch, or a final journal state whose error says why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from receiver.config import Settings
from receiver.github.forge import GitHubForge
from receiver.journal import Journal
from receiver.request import DeployRequest
from receiver.worker import Worker
from tests.fakes.github import FakeGitHub
from tests.support import FakeTime

if TYPE_CHECKING:
    from tests.reliability import Recorder

pytest_plugins = ["tests.reliability"]  # imported by pytest only, so it can be rewritten

TOKEN = "ghp_faketoken"
START = 1_800_000_000.0


@pytest.fixture(scope="module")
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub(token=TOKEN) as fake:
        yield fake


@pytest.fixture
def fake(github: FakeGitHub) -> FakeGitHub:
    """The module's server, reset: loading GitHub's OpenAPI description once saves seconds."""
    github.repos.clear()
    github.requests.clear()
    github.dispatches.clear()
    github.faults.clear()
    github.registration_lag, github.workflow_scope, github.pages_rights = 2, True, True
    return github


def request(task: str, round_: int = 1) -> DeployRequest:
    return DeployRequest(
        email="student@example.com",
        secret="s3cret",
        task=task,
        round=round_,
        nonce=f"n-{task}",
        brief="A page that shows hello.",
        evaluation_url="https://eval.example/notify",
    )


def run_one(
    fake: FakeGitHub, tmp_path: Path, t: FakeTime, task: str, round_: int = 1
) -> tuple[str, str | None]:
    settings = Settings(
        deploy_secret="s3cret",
        github_token=TOKEN,
        github_api_url=fake.url,
        llm_api_key="sk-llm-key",
        data_dir=tmp_path,
        workflow_timeout=20.0,
        action_ref="octo/llm-deploy-action@" + "d4" * 20,
    )
    forge = GitHubForge(
        token=TOKEN, api_url=fake.url, sleep=t.sleep, clock=t.clock, seconds_between_writes=0.0
    )
    journal = Journal(tmp_path / "journal.sqlite3", clock=t.clock)
    try:
        request_id, _ = journal.record(request(task, round_))
        Worker(settings, journal, forge, clock=t.clock).process(request_id)
        entry = journal.get(request_id)
        return entry.state, entry.error
    finally:
        journal.close()


def dispatched(fake: FakeGitHub) -> int:
    return len(fake.dispatches)


Setup = Callable[[FakeGitHub, FakeTime], None]


def _burst(fake: FakeGitHub, t: FakeTime) -> None:
    fake.inject(502, "Server Error", times=3, method="GET", path_contains="/actions/workflows/")
    fake.inject(503, "Service Unavailable", times=2, method="PUT", path_contains="/secrets/")


def _secondary_403(fake: FakeGitHub, t: FakeTime) -> None:
    fake.secondary_rate_limit(37, method="POST", path_contains="/repos")


def _secondary_429(fake: FakeGitHub, t: FakeTime) -> None:
    fake.inject(
        429,
        "Too many requests",
        headers={"retry-after": "11"},
        method="POST",
        path_contains="/dispatches",
    )


def _primary(fake: FakeGitHub, t: FakeTime) -> None:
    fake.exhaust_primary(int(START) + 120, method="PUT", path_contains="/contents/")


def _slow_registration(fake: FakeGitHub, t: FakeTime) -> None:
    fake.registration_lag = 4


def _registers_after_recovery_commit(fake: FakeGitHub, t: FakeTime) -> None:
    fake.registration_lag = 10**9  # never, until a second commit touches the workflow file

    def maybe_register() -> None:
        written = fake.calls("PUT", "/contents/.github/workflows/")
        if len([c for c in written if c.status < 300]) >= 2:
            fake.registration_lag = 0

    t.on_sleep = maybe_register


def _never_registers(fake: FakeGitHub, t: FakeTime) -> None:
    fake.registration_lag = 10**9


def _pages_409(fake: FakeGitHub, t: FakeTime) -> None:
    fake.inject(409, "GitHub Pages is already enabled.", method="POST", path_contains="/pages")


def _name_taken(fake: FakeGitHub, t: FakeTime) -> None:
    # Someone creates the name after our listing (round 2 looked, found nothing) and before ours.
    fake.inject(
        422,
        "Repository creation failed: name already exists on this account",
        method="POST",
        path_contains="/user/repos",
    )


def _no_workflow_scope(fake: FakeGitHub, t: FakeTime) -> None:
    fake.workflow_scope = False


def _dispatch_5xx(fake: FakeGitHub, t: FakeTime) -> None:
    fake.inject(500, "Server Error", method="POST", path_contains="/dispatches")


def _create_5xx(fake: FakeGitHub, t: FakeTime) -> None:
    fake.inject(502, "Bad Gateway", method="POST", path_contains="/user/repos")


@dataclass
class Case:
    id: str
    fault: str
    setup: Setup
    state: str
    behaviour: str
    round_: int = 1
    sleeps: Callable[[list[float]], bool] = lambda s: True
    error: str = ""


CASES = [
    Case(
        "5xx-burst",
        "5xx bursts (3×502 on workflow checks, 2×503 on secret writes)",
        _burst,
        "dispatched",
        "idempotent calls retried after 1, 2, 4 s backoff; one dispatch",
        sleeps=lambda s: s.count(1.0) >= 2 and 2.0 in s,
    ),
    Case(
        "secondary-403",
        "secondary rate limit: 403 + retry-after 37 on repo creation",
        _secondary_403,
        "dispatched",
        "waited exactly retry-after (37 s), created once",
        sleeps=lambda s: 37.0 in s,
    ),
    Case(
        "secondary-429",
        "secondary rate limit: 429 + retry-after 11 on the dispatch",
        _secondary_429,
        "dispatched",
        "rate-limited dispatch is provably not started: waited 11 s and resent once",
        sleeps=lambda s: 11.0 in s,
    ),
    Case(
        "primary-exhausted",
        "primary limit exhausted (x-ratelimit-remaining: 0)",
        _primary,
        "dispatched",
        "waited until x-ratelimit-reset (+1 s), then continued",
        sleeps=lambda s: any(119.0 <= x <= 122.0 for x in s),
    ),
    Case(
        "registration-slow",
        "workflow registration slow (4 × 404)",
        _slow_registration,
        "dispatched",
        "polled with 2, 3, 4.5 … s backoff until active; one dispatch",
        sleeps=lambda s: s[:2] == [2.0, 3.0],
    ),
    Case(
        "registration-recovered",
        "workflow never registers until a recovery commit",
        _registers_after_recovery_commit,
        "dispatched",
        "after the timeout, re-committed the workflow file; it registered; one dispatch",
    ),
    Case(
        "registration-never",
        "workflow never registers, even after the recovery commit",
        _never_registers,
        "failed",
        "recovery commit made, then gave up with a clear error",
        error="has not registered",
    ),
    Case(
        "pages-409",
        "Pages 409 (already enabled)",
        _pages_409,
        "dispatched",
        "409 counted as success",
    ),
    Case(
        "name-taken",
        "repo name taken between check and create (round 2, empty forge)",
        _name_taken,
        "dispatched",
        "422 'already exists' → next free name (-2)",
        round_=2,
    ),
    Case(
        "no-workflow-scope",
        "token missing the workflow scope",
        _no_workflow_scope,
        "failed",
        "stopped before any dispatch; error names the missing scope",
        error="'workflow' scope",
    ),
    Case(
        "dispatch-5xx",
        "5xx answer to the dispatch itself",
        _dispatch_5xx,
        "failed",
        "not resent (the run may have started); error says so",
        error="not resent",
    ),
    Case(
        "create-5xx",
        "5xx answer to repo creation (non-idempotent)",
        _create_5xx,
        "failed",
        "not resent (a retry could make a second repo); error says to try later",
        error="GitHub kept failing",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_github_fault_ends_in_one_dispatch_or_a_clear_final_state(
    fake: FakeGitHub, tmp_path: Path, case: Case, reliability: Recorder
) -> None:
    t = FakeTime()
    case.setup(fake, t)
    state, error = run_one(fake, tmp_path, t, f"fault-{case.id}", case.round_)
    assert state == case.state, error
    if state == "dispatched":
        assert dispatched(fake) == 1
        assert error is None
    else:
        assert dispatched(fake) == 0
        assert error and case.error in error
        assert TOKEN not in error and "s3cret" not in error
    assert case.sleeps(t.sleeps), t.sleeps
    if case.id == "name-taken":
        assert fake.dispatches[0].repo.endswith("-2")
    if case.id == "registration-recovered":
        written = fake.calls("PUT", "/contents/.github/workflows/")
        assert len([c for c in written if c.status < 300]) == 2  # first commit + recovery
    reliability.record(
        "GitHub",
        case.fault,
        case.behaviour,
        sent=1,
        dispatched=dispatched(fake),
        lost=0,
        duplicated=max(0, dispatched(fake) - 1),
        final="" if state == "dispatched" else f"{state}: {error}",
    )


def test_resumed_request_after_a_fault_is_not_dispatched_twice(
    fake: FakeGitHub, tmp_path: Path, reliability: Recorder
) -> None:
    """A request that failed once is final; a second worker pass does nothing more."""
    t = FakeTime()
    run_one(fake, tmp_path, t, "fault-twice")
    state, _ = run_one(fake, tmp_path, t, "fault-twice")  # same journal: same record, final
    assert state == "dispatched" and dispatched(fake) == 1
    reliability.record(
        "GitHub",
        "the worker runs a finished request again",
        "final states are skipped; no second dispatch",
        sent=1,
        dispatched=dispatched(fake),
    )
