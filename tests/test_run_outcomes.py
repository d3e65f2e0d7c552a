"""How a round ended: the pure ``round_outcome``, and GitHub mode reading it from the run itself.

The GitHub side runs over HTTP against the fake GitHub (every exchange checked against the
OpenAPI subset): the run's conclusion from ``GET .../actions/runs/{id}``, the report from the
run's ``llm-deploy-report-*`` artifact, kept in the journal once concluded.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from receiver.config import Settings
from receiver.github.forge import GitHubForge
from receiver.github.mode import GitHubMode
from receiver.github.outcomes import RunOutcomes, run_key
from receiver.journal import Journal
from receiver.outcome import is_final, round_outcome
from receiver.request import parse_request
from tests.fakes.github import FakeGitHub, finish_run
from tests.support import FakeTime

WORKFLOW = "llm-deploy.yml"
WORKFLOW_TEXT = b"on:\n  workflow_dispatch:\n    inputs:\n      payload: {}\n"
REPORT: dict[str, Any] = {
    "task": "t",
    "round": 1,
    "commit_sha": "a" * 40,
    "page_url": "https://o.github.io/t/",
    "tokens": {"prompt": 1200, "completion": 300},
    "cost_usd": 0.0042,
    "checks": [
        {"kind": "js", "check": "x", "result": "pass", "detail": "", "round": 0},
        {"kind": "js", "check": "y", "result": "fail", "detail": "", "round": 0},
        {"kind": "text", "check": "z", "result": "pass", "detail": "", "round": 0},
    ],
    "notify": {
        "page_url": "https://o.github.io/t/",
        "page_served": True,
        "page_wait_s": 3.0,
        "notified": "HTTP 200 after 2 attempt(s)",
        "status": 200,
        "accepted_at": 1_700_000_100.5,
    },
}


@pytest.mark.parametrize(
    ("conclusion", "report", "expected"),
    [
        (
            "success",
            REPORT,
            {
                "conclusion": "success",
                "commit_sha": "a" * 40,
                "checks_passed": 2,
                "checks_failed": 1,
                "tokens": 1500,
                "cost_usd": 0.0042,
                "evaluator_status": 200,
                "evaluator_accepted_at": 1_700_000_100.5,
            },
        ),
        ("in_progress", REPORT, {"conclusion": None}),
        (
            "failure",
            None,
            {
                "conclusion": "failure",
                "commit_sha": None,
                "checks_passed": None,
                "tokens": None,
                "evaluator_status": None,
                "evaluator_accepted_at": None,
            },
        ),
        (
            "failure",
            {"notify": {"status": 422, "accepted_at": None}},
            {"evaluator_status": 422, "evaluator_accepted_at": None},
        ),
    ],
    ids=["success", "running", "no-report", "evaluator-refused"],
)
def test_round_outcome(
    conclusion: str, report: dict[str, Any] | None, expected: dict[str, Any]
) -> None:
    found = round_outcome(conclusion, report)
    assert {k: found[k] for k in expected} == expected
    assert is_final(found) == (found["conclusion"] is not None)


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://github.com/o/r/actions/runs/42", ("o", "r", 42)),
        ("https://api.github.com/repos/o/r/actions/runs/42", ("o", "r", 42)),
        ("http://127.0.0.1:8000/runs/3", None),
    ],
    ids=["html", "api", "local"],
)
def test_run_key(url: str, key: tuple[str, str, int] | None) -> None:
    assert run_key(url) == key


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with FakeGitHub(registration_lag=0) as server:
        yield server


def _dispatched(fake: FakeGitHub) -> tuple[GitHubForge, str, int]:
    forge = GitHubForge(
        token=fake.token, api_url=fake.url, seconds_between_writes=0, sleep=lambda s: None
    )
    repo = forge.create_repo("t", "Built by llm-deploy for task t, round 1")
    forge.commit_files(repo, {f".github/workflows/{WORKFLOW}": WORKFLOW_TEXT}, "Add workflow")
    forge.wait_for_workflow(repo, WORKFLOW, timeout=10)
    dispatch = forge.dispatch(repo, WORKFLOW, {"payload": "sealed"})
    assert dispatch.run_url and dispatch.run_id
    return forge, dispatch.run_url, dispatch.run_id


def test_the_run_and_its_report_give_the_outcome(fake: FakeGitHub) -> None:
    forge, run_url, run_id = _dispatched(fake)
    t = FakeTime()
    with httpx.Client() as http:
        outcomes = RunOutcomes(
            forge.read, http, api_url=fake.url, token=fake.token, clock=t.clock, every=30
        )
        start = len(fake.requests)
        running = outcomes.outcome(run_url)
        assert running is not None and running["conclusion"] is None
        assert outcomes.outcome(run_url) == running  # within 30 s: no second call
        assert len(fake.requests) - start == 1
        finish_run(fake, run_id, "success", REPORT)
        t.sleep(31)
        done = outcomes.outcome(run_url)
    assert done is not None and done["conclusion"] == "success"
    assert (done["commit_sha"], done["tokens"], done["evaluator_status"]) == ("a" * 40, 1500, 200)
    calls = [f"{r.method} {r.path.split('/', 4)[-1]}" for r in fake.requests[start:]]
    assert calls == [f"GET actions/runs/{run_id}"] * 2 + [
        f"GET actions/runs/{run_id}/artifacts",
        f"GET actions/artifacts/{run_id + 7}/zip",
        f"GET {run_id + 7}.zip",
    ]  # the last is the blob behind the 302, not the REST API
    assert fake.violations == []


def test_a_concluded_outcome_is_kept_in_the_journal(fake: FakeGitHub, tmp_path: Path) -> None:
    forge, run_url, run_id = _dispatched(fake)
    finish_run(fake, run_id, "failure", None)
    journal = Journal(tmp_path / "journal.sqlite3")
    settings = Settings.from_environ(
        {
            "DEPLOY_SECRET": "s3cret-s3cret",
            "GITHUB_TOKEN": fake.token,
            "GITHUB_API_URL": fake.url,
            "LLM_DEPLOY_DATA": str(tmp_path),
        }
    )
    request = parse_request(
        {
            "email": "a@example.com",
            "secret": "s3cret-s3cret",
            "task": "t",
            "round": 1,
            "nonce": "n1",
            "brief": "b",
            "checks": [],
            "evaluation_url": "https://example.com/e",
            "attachments": [],
        }
    )
    request_id, _ = journal.record(request)
    journal.mark(request_id, "dispatched", run_url=run_url)
    with httpx.Client() as http:
        mode = GitHubMode(
            settings, outcomes=RunOutcomes(forge.read, http, api_url=fake.url, token=fake.token)
        )
        mode.bind(journal)
        found = journal.status("t")
        assert found is not None
        first = mode.status(found)["rounds"][0]
        start = len(fake.requests)
        again = mode.status(found)["rounds"][0]
        row = mode.rows(journal.recent())[0]
    assert first["outcome"]["conclusion"] == "failure" and first["notified"] is False
    assert again == first and row["outcome"] == first["outcome"]
    assert len(fake.requests) == start  # kept: no REST call once concluded
    assert journal.outcome(request_id) == first["outcome"]
    journal.close()
