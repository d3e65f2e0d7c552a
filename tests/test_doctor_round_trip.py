"""``llm-deploy doctor --round-trip`` end to end: against the fake GitHub and in local mode.

The fake GitHub cannot run Actions, so with ``simulate_runs`` each dispatch becomes a run that is
queued, then in progress (it commits index.html and records a Pages deployment), then completed;
``FakePagesHost`` serves the page. Local mode runs the real action.yml with the offline
generator. No test asserts a duration: phases are checked for order and presence only.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from receiver.config import Settings
from receiver.doctor import cli
from receiver.doctor.result import Report, load_last, render
from receiver.doctor.round_trip import (
    COMPLETED,
    CREATED,
    DEPLOYED,
    DISPATCHED,
    NOTIFIED,
    REGISTERED,
    SERVING,
    STARTED,
)
from receiver.doctor.trips import TripResult, github_trip, local_trip
from receiver.github.forge import GitHubForge
from tests.e2e_support import link_tool_cache, prebuild_action_venv
from tests.fakes.github import FakeGitHub, FakePagesHost
from tests.fakes.llm import FakeLLM

STRONG = "Vq7-xN2pLk9_rT4mZs8wYb3c"


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub(registration_lag=1) as fake:
        fake.scopes = "repo, workflow, delete_repo"
        fake.simulate_runs = True
        yield fake
        assert fake.violations == []


def _env(fake: FakeGitHub, tmp_path: Path) -> dict[str, str]:
    return {
        "DEPLOY_SECRET": STRONG,
        "GITHUB_TOKEN": fake.token,
        "GITHUB_API_URL": fake.url,
        "LLM_API_KEY": "sk-must-not-reach-the-scratch-repo",
        "LLM_DEPLOY_ACTION_REF": "octo-user/llm-deploy-action@" + "a" * 40,
        "LLM_DEPLOY_DATA": str(tmp_path / "data"),
    }


def _settings(fake: FakeGitHub, tmp_path: Path) -> Settings:
    return Settings.from_environ(_env(fake, tmp_path))


def _trip(fake: FakeGitHub, tmp_path: Path, **kw: object) -> tuple[object, list[str]]:
    settings = _settings(fake, tmp_path)
    forge = GitHubForge.from_settings(settings, seconds_between_writes=0, sleep=lambda s: None)
    with FakePagesHost(fake) as pages, httpx.Client() as http:
        result = github_trip(
            settings,
            http,
            forge=forge,
            poll_seconds=0.01,
            page_url_for=lambda repo: f"{pages.url}/{repo.name}/",
            **kw,
        )  # type: ignore[arg-type]
    created = [r.full_name for r in fake.repos.values()]
    return result, created


ALL_PHASES = {CREATED, REGISTERED, DISPATCHED, STARTED, DEPLOYED, SERVING, COMPLETED, NOTIFIED}


def test_round_trip_against_the_fake_github(github: FakeGitHub, tmp_path: Path) -> None:
    result, left = _trip(github, tmp_path)
    assert [r.round for r in result.rounds] == [1, 2]
    assert [r.error for r in result.rounds] == ["", ""]
    first, second = ([p.name for p in r.phases] for r in result.rounds)
    assert first[:3] == [CREATED, REGISTERED, DISPATCHED]
    assert set(first) == ALL_PHASES
    assert first.index(STARTED) < first.index(DEPLOYED) < first.index(SERVING)
    assert CREATED not in second and second[0] == REGISTERED  # round 2 reuses the repository
    for timing in result.rounds:
        ats = [p.at_s for p in timing.phases if not p.detail]
        assert ats == sorted(ats) and all(p.took_s >= 0 for p in timing.phases)
        notified = next(p for p in timing.phases if p.name == NOTIFIED)
        assert notified.detail.startswith("skipped")
        assert len(timing.commit_sha) == 40
    assert result.rounds[0].commit_sha != result.rounds[1].commit_sha
    assert len(github.dispatches) == 2 and result.repo.startswith("octo-user/llm-deploy-doctor-")
    assert not result.kept and left == []  # deleted
    assert any(r.method == "DELETE" for r in github.requests)
    text = render(Report(mode="github", rounds=result.rounds, repo=result.repo))
    assert "round 1 in octo-user/llm-deploy-doctor-" in text and "deleted" in text


def test_keep_leaves_the_repository_and_no_llm_key_travels(
    github: FakeGitHub, tmp_path: Path
) -> None:
    result, left = _trip(github, tmp_path, keep=True)
    assert result.kept and left == [result.repo]
    repo = github.repo(result.repo)
    assert "LLM_API_KEY" not in repo.secrets  # the offline generator builds it: no LLM spend
    assert "LLM_DEPLOY_PAYLOAD_KEY" in repo.secrets
    assert not any(r.method == "DELETE" for r in github.requests)


def test_without_delete_repo_the_repository_stays_and_says_why(
    github: FakeGitHub, tmp_path: Path
) -> None:
    github.scopes = "repo, workflow"
    result, left = _trip(github, tmp_path)
    assert result.kept and left == [result.repo]
    assert "delete_repo" in result.note


def test_a_failed_run_ends_the_trip_with_its_reason(github: FakeGitHub, tmp_path: Path) -> None:
    github.run_conclusion = "failure"
    result, left = _trip(github, tmp_path)
    assert len(result.rounds) == 1 and "the run ended failure" in result.rounds[0].error
    assert "/actions/runs/" in result.rounds[0].error
    assert left == [] and not result.kept  # cleaned up all the same
    report = Report(mode="github", rounds=result.rounds, repo=result.repo)
    assert report.failed and "✗ the run ended failure" in render(report)


def test_the_round_trip_waits_for_a_fixable_setup(
    github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    github.scopes = "public_repo"  # no workflow scope: the workflow file would 404
    settings = _settings(github, tmp_path)
    args = argparse.Namespace(
        fix=False, round_trip=True, keep=False, notify_url=None, listen_port=0
    )
    with httpx.Client() as http:
        report = cli.doctor(settings, http, args)
    line = report.checks[-1]
    assert line.name == "round trip" and line.status == "fail"
    assert "token permissions failed" in line.detail and "workflow" in line.fix
    assert github.calls("POST", "/user/repos") == []


@pytest.mark.timeout(900)
def test_round_trip_in_local_mode(tmp_path: Path) -> None:
    """The real local pipeline: local forge, runner executing action.yml, offline generator."""
    prebuild_action_venv()
    data = tmp_path / "data"
    link_tool_cache(data)
    settings = Settings.from_environ({"DEPLOY_SECRET": STRONG, "LLM_DEPLOY_DATA": str(data)})
    with httpx.Client() as http:
        result = local_trip(settings, http)
    assert [r.error for r in result.rounds] == ["", ""], result.rounds
    first, second = ([p.name for p in r.phases] for r in result.rounds)
    assert set(first) == ALL_PHASES
    assert all(not p.detail for r in result.rounds for p in r.phases)  # nothing skipped
    assert CREATED not in second and NOTIFIED in second
    assert all(len(r.commit_sha) == 40 for r in result.rounds)
    assert not (data / "doctor-round-trip").exists()  # the scratch folder is gone
    assert (data / "runner-temp").exists()  # the shared tool cache is not


def test_doctor_round_trip_reports_checks_and_phases(
    github: FakeGitHub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The command's path: checks pass, the trip runs, the result is printed and saved."""
    action = github.add_repo("octo-user", "llm-deploy-action", "the Action", "2026-01-01T00:00:00Z")
    action.branches["main"] = "a" * 40
    with FakeLLM() as llm, FakePagesHost(github) as pages:
        env = {**_env(github, tmp_path), "LLM_API_KEY": llm.api_key, "LLM_BASE_URL": llm.base_url}
        for key, value in env.items():
            monkeypatch.setenv(key, value)

        def trip(settings: Settings, http: httpx.Client, **kw: Any) -> TripResult:
            forge = GitHubForge.from_settings(
                settings, seconds_between_writes=0, sleep=lambda s: None
            )
            return github_trip(
                settings,
                http,
                keep=kw["keep"],
                forge=forge,
                poll_seconds=0.01,
                page_url_for=lambda repo: f"{pages.url}/{repo.name}/",
            )

        monkeypatch.setattr(cli, "github_trip", trip)
        code = cli.main(["--round-trip"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "✓ GitHub token" in out and "round 1 in octo-user/llm-deploy-doctor-" in out
    assert "round 2 in" in out and "notification received      skipped" in out
    assert out.rstrip().endswith("Ready.") and "deleted" in out
    saved = load_last(tmp_path / "data")
    assert saved is not None and saved["ok"] is True and len(saved["rounds"]) == 2
    assert [p["name"] for p in saved["rounds"][0]["phases"]][:3] == [
        CREATED,
        REGISTERED,
        DISPATCHED,
    ]
    assert llm.requests and all(r.path == "/v1/chat/completions" for r in llm.requests)
