"""The Action asks GitHub's Pages API for the site's URL and for the deployment of its commit.

Against the fake GitHub (every exchange checked against the OpenAPI subset): the notify step of a
run whose app workflow owns the site waits until the Pages deployment of the commit succeeded,
whichever workflow made it, and only then notifies.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from action import pages_api
from action.__main__ import notify_step
from action.settings import ActionSettings
from tests.fakes.evaluator import FakeEvaluator
from tests.fakes.github import FakeGitHub, deploy_pages
from tests.support import FakeTime

SHA = "c0ffee" + "0" * 34


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with FakeGitHub() as server:
        server.add_repo(server.user, "app", "Built by llm-deploy", "2026-01-01T00:00:00Z")
        yield server


def test_site_url_is_the_pages_html_url(fake: FakeGitHub) -> None:
    full = f"{fake.user}/app"
    with httpx.Client() as http:
        assert pages_api.site_url(http, fake.url, full, fake.token) is None  # Pages is off
        fake.repo(full).pages = True
        assert pages_api.site_url(http, fake.url, full, fake.token) == (
            f"https://{fake.user.lower()}.github.io/app/"
        )
        assert pages_api.site_url(http, "", full, fake.token) is None  # not on a runner
    assert fake.violations == []


@pytest.mark.parametrize(
    ("statuses", "expected", "polls"),
    [
        ([None, None, "succeed"], "succeed", 3),
        ([None, "deployment_in_progress", "deployment_failed"], "deployment_failed", 3),
        ([None] * 10, pages_api.TIMED_OUT, 5),
    ],
    ids=["succeeds", "fails", "never"],
)
def test_wait_for_deployment(
    fake: FakeGitHub, statuses: list[str | None], expected: str, polls: int
) -> None:
    full = f"{fake.user}/app"
    t = FakeTime()
    pending = list(statuses)

    def next_status() -> None:
        pending.pop(0)
        if pending and pending[0] is not None:
            deploy_pages(fake, full, SHA, pending[0])

    t.on_sleep = next_status
    with httpx.Client() as http:
        found = pages_api.wait_for_deployment(
            http, fake.url, full, fake.token, SHA, t.now + 20, sleep=t.sleep, clock=t.clock, poll=5
        )
    assert found == expected
    assert len(fake.calls("GET", f"/pages/deployments/{SHA}")) == polls
    assert fake.violations == []


def _repo(tmp_path: Path) -> tuple[Path, str]:
    work = tmp_path / "work"
    work.mkdir()
    (work / "index.html").write_text("<!doctype html><title>app</title>\n")
    git = ["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "app"], check=True)
    sha = subprocess.run(
        [*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    return work, sha


def test_notify_waits_for_the_app_workflows_deployment(fake: FakeGitHub, tmp_path: Path) -> None:
    work, sha = _repo(tmp_path)
    full = f"{fake.user}/app"
    t = FakeTime()
    sleeps_before_deploy = 3

    def deploy_later() -> None:
        if len(t.sleeps) == sleeps_before_deploy:
            assert not ev.bodies, "notified before the deployment succeeded"
            deploy_pages(fake, full, sha)

    t.on_sleep = deploy_later
    with FakeEvaluator() as ev, httpx.Client() as http:
        settings = ActionSettings(
            workspace=str(work),
            repository=full,
            api_url=fake.url,
            github_token=fake.token,
            brief="A page",
            task="app",
            evaluation_url=ev.url,
            email="s@example.com",
            nonce="n1",
            commit_sha=sha,
            site_by_action=False,
            generated_page_url="https://pages.example/app/",
        )
        result = notify_step(settings, http=http, clock=t.clock, sleep=t.sleep)
    assert result.page_served is True and result.deployment == "succeed"
    assert result.status == 200 and result.accepted_at is not None
    assert ev.bodies[0]["commit_sha"] == sha
    assert ev.bodies[0]["pages_url"] == "https://pages.example/app/"
    assert len(fake.calls("GET", f"/pages/deployments/{sha}")) == sleeps_before_deploy + 1
    assert fake.violations == []
