"""GitHubForge (PyGithub) over real HTTP against the fake GitHub, every exchange spec-checked."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from receiver.forge import ForgeError, NameTaken, Repo, WorkflowNotRegistered
from receiver.github.forge import GitHubForge
from receiver.naming import description, task_tag
from tests.fakes.github import FakeGitHub
from tests.support import FakeTime

WORKFLOW = "llm-deploy.yml"
WORKFLOW_PATH = f".github/workflows/{WORKFLOW}"
WORKFLOW_TEXT = b"name: llm-deploy\non:\n  workflow_dispatch:\n    inputs:\n      payload: {}\n"
DESCRIPTION = description("demo", 1)
START = 1_800_000_000.0


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with FakeGitHub(registration_lag=2) as server:
        yield server
        assert server.violations == []


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime()


def make_forge(fake: FakeGitHub, clock: FakeTime, **kw: Any) -> GitHubForge:
    kw.setdefault("seconds_between_writes", 0)
    kw.setdefault("token", fake.token)
    return GitHubForge(api_url=fake.url, sleep=clock.sleep, clock=clock.clock, **kw)


def round_one(forge: GitHubForge, name: str = "demo") -> Repo:
    repo = forge.create_repo(name, DESCRIPTION)
    forge.commit_files(repo, {WORKFLOW_PATH: WORKFLOW_TEXT}, "Add the llm-deploy workflow")
    forge.set_secret(repo, "LLM_DEPLOY_PAYLOAD_KEY", "cGF5bG9hZC1rZXk=")
    forge.set_secret(repo, "LLM_API_KEY", "sk-test-123")
    forge.enable_pages(repo)
    forge.wait_for_workflow(repo, WORKFLOW, timeout=120)
    return repo


@pytest.mark.parametrize(
    ("owner", "expected_owner"), [(None, "octo-user"), ("octo-org", "octo-org")]
)
def test_round_one_creates_commits_stores_secrets_and_dispatches(
    fake: FakeGitHub, clock: FakeTime, owner: str | None, expected_owner: str
) -> None:
    forge = make_forge(fake, clock, owner=owner)
    repo = round_one(forge, "Demo App")
    assert (repo.owner, repo.name) == (expected_owner, "Demo-App")  # real name read back
    assert repo.pages_url == f"https://{expected_owner}.github.io/Demo-App/"
    assert repo.created_at > 1_700_000_000
    assert fake.file(repo.full_name, WORKFLOW_PATH) == WORKFLOW_TEXT
    assert fake.secret(repo.full_name, "LLM_API_KEY") == "sk-test-123"
    assert fake.secret(repo.full_name, "LLM_DEPLOY_PAYLOAD_KEY") == "cGF5bG9hZC1rZXk="
    assert len(fake.calls("GET", "secrets/public-key")) == 1  # key fetched once, cached
    forge.enable_pages(repo)  # second enable: GitHub answers 409, which counts as success
    assert [r.status for r in fake.calls("POST", "/pages")] == [201, 409]
    assert [r.status for r in fake.calls("GET", "/actions/workflows/")] == [404, 404, 200]
    assert len(clock.sleeps) == 2  # one backoff per registration 404

    run = forge.dispatch(repo, WORKFLOW, {"payload": "sealed", "dispatch-id": "d1"})
    assert run.run_id == fake.dispatches[0].run_id
    assert run.run_url.endswith(f"/{repo.full_name}/actions/runs/{run.run_id}")
    assert fake.dispatches[0].inputs == {"payload": "sealed", "dispatch-id": "d1"}
    assert fake.dispatches[0].ref == "main"


def test_round_two_dispatches_again_without_waiting(fake: FakeGitHub, clock: FakeTime) -> None:
    forge = make_forge(fake, clock)
    repo = round_one(forge)
    forge.dispatch(repo, WORKFLOW, {"payload": "r1"})
    before = len(fake.requests)
    assert set(fake.repo(repo.full_name).secrets) == {"LLM_DEPLOY_PAYLOAD_KEY", "LLM_API_KEY"}
    forge.dispatch(repo, WORKFLOW, {"payload": "r2"})
    assert [d.inputs["payload"] for d in fake.dispatches] == ["r1", "r2"]
    assert len(fake.requests) - before == 1  # the dispatch alone: no registration wait


def test_taken_name_raises_name_taken(fake: FakeGitHub, clock: FakeTime) -> None:
    forge = make_forge(fake, clock)
    forge.create_repo("demo", DESCRIPTION)
    with pytest.raises(NameTaken):
        forge.create_repo("demo", DESCRIPTION)
    assert forge.create_repo("demo-2", DESCRIPTION).name == "demo-2"


@pytest.mark.parametrize(
    ("extra", "fits"),
    [(0, True), (1, False), (40_000, False)],
    ids=["exactly-at-cap", "one-over", "far-over"],
)
def test_dispatch_input_cap(fake: FakeGitHub, clock: FakeTime, extra: int, fits: bool) -> None:
    forge = make_forge(fake, clock)
    repo = round_one(forge)
    filler = 65_535 - len(json.dumps({"payload": ""}, separators=(",", ":"))) + extra
    inputs = {"payload": "é" * filler}  # characters, not bytes
    if fits:
        forge.dispatch(repo, WORKFLOW, inputs)
        assert len(fake.dispatches) == 1
    else:
        with pytest.raises(ForgeError, match="65,535"):
            forge.dispatch(repo, WORKFLOW, inputs)
        assert fake.dispatches == []
        assert len(fake.calls("POST", "/dispatches")) == 1  # a 422 is final


def test_dispatch_rides_out_registration_lag_without_polling(
    fake: FakeGitHub, clock: FakeTime
) -> None:
    forge = make_forge(fake, clock)
    repo = forge.create_repo("demo", DESCRIPTION)
    forge.commit_files(repo, {WORKFLOW_PATH: WORKFLOW_TEXT}, "Add workflow")
    forge.dispatch(repo, WORKFLOW, {"payload": "x"})
    assert [r.status for r in fake.calls("POST", "/dispatches")] == [404, 404, 200]
    assert len(fake.dispatches) == 1


@pytest.mark.parametrize("how", ["wait", "dispatch"])
def test_never_registered_raises_workflow_not_registered(
    fake: FakeGitHub, clock: FakeTime, how: str
) -> None:
    fake.registration_lag = 10_000
    forge = make_forge(fake, clock, registration_timeout=60)
    repo = forge.create_repo("demo", DESCRIPTION)
    forge.commit_files(repo, {WORKFLOW_PATH: WORKFLOW_TEXT}, "Add workflow")
    with pytest.raises(WorkflowNotRegistered, match="new commit"):
        if how == "wait":
            forge.wait_for_workflow(repo, WORKFLOW, timeout=60)
        else:
            forge.dispatch(repo, WORKFLOW, {"payload": "x"})
    assert clock.now - START <= 60
    assert fake.dispatches == []


def test_recovery_commit_touching_the_workflow_updates_it(
    fake: FakeGitHub, clock: FakeTime
) -> None:
    forge = make_forge(fake, clock)
    repo = round_one(forge)
    sha = forge.commit_files(repo, {WORKFLOW_PATH: WORKFLOW_TEXT + b"# touched\n"}, "Touch")
    assert fake.repo(repo.full_name).branches["main"] == sha
    assert fake.file(repo.full_name, WORKFLOW_PATH).endswith(b"# touched\n")


@pytest.mark.parametrize(
    "inject",
    [
        lambda f: f.secondary_rate_limit(7, method="PUT", path_contains="/secrets/"),
        lambda f: f.inject(429, "slow down", headers={"retry-after": "7"}, method="PUT"),
        lambda f: f.exhaust_primary(int(START) + 6, method="PUT"),
    ],
    ids=["secondary-403-retry-after", "429-retry-after", "primary-exhausted-reset"],
)
def test_rate_limits_are_waited_out(fake: FakeGitHub, clock: FakeTime, inject: Any) -> None:
    forge = make_forge(fake, clock)
    repo = forge.create_repo("demo", DESCRIPTION)
    inject(fake)
    forge.set_secret(repo, "LLM_API_KEY", "sk-1")
    assert clock.sleeps == [7.0]
    assert fake.secret(repo.full_name, "LLM_API_KEY") == "sk-1"
    assert len(fake.calls("PUT", "/secrets/")) == 2


def test_rate_limited_dispatch_is_resent_once_allowed(fake: FakeGitHub, clock: FakeTime) -> None:
    forge = make_forge(fake, clock)
    repo = round_one(forge)
    fake.secondary_rate_limit(30, method="POST", path_contains="/dispatches")
    forge.dispatch(repo, WORKFLOW, {"payload": "x"})
    assert clock.sleeps[-1] == 30.0
    assert len(fake.dispatches) == 1


def test_5xx_burst_is_retried_with_backoff_on_get(fake: FakeGitHub, clock: FakeTime) -> None:
    forge = make_forge(fake, clock)
    repo = round_one(forge)
    clock.sleeps.clear()
    fake.inject(502, "Server Error", times=3, method="GET", path_contains="/runs")
    assert forge.find_run(repo, WORKFLOW, "no-such-dispatch") is None
    assert clock.sleeps == [1.0, 2.0, 4.0]


def test_5xx_on_dispatch_is_not_resent(fake: FakeGitHub, clock: FakeTime) -> None:
    forge = make_forge(fake, clock)
    repo = round_one(forge)
    fake.inject(502, "Server Error", method="POST", path_contains="/dispatches")
    with pytest.raises(ForgeError, match="unknown"):
        forge.dispatch(repo, WORKFLOW, {"payload": "x"})
    assert len(fake.calls("POST", "/dispatches")) == 1


def test_writes_are_spaced(fake: FakeGitHub, clock: FakeTime) -> None:
    forge = make_forge(fake, clock, seconds_between_writes=1.0)
    repo = forge.create_repo("demo", DESCRIPTION)
    forge.set_secret(repo, "A", "1")
    forge.set_secret(repo, "B", "2")
    assert clock.sleeps == [1.0, 1.0]  # the GET of the public key is not a write


@pytest.mark.parametrize(
    ("server", "forge_kw", "action", "message"),
    [
        ({"workflow_scope": False}, {}, "commit", "'workflow' scope"),
        ({"pages_rights": False}, {}, "pages", "Pages write and Administration write"),
        ({}, {"token": "ghp_wrong"}, "create", "Bad credentials"),
        ({}, {"owner": "no-such-org"}, "create", "GITHUB_OWNER"),
    ],
    ids=["no-workflow-scope", "no-pages-rights", "bad-token", "missing-owner"],
)
def test_actionable_errors(
    clock: FakeTime, server: dict[str, Any], forge_kw: dict[str, Any], action: str, message: str
) -> None:
    with FakeGitHub(**server) as fake:
        setup = make_forge(fake, clock)
        repo = setup.create_repo("demo", DESCRIPTION)
        forge = make_forge(fake, clock, **forge_kw)
        with pytest.raises(ForgeError, match=message) as info:
            if action == "commit":
                forge.commit_files(repo, {WORKFLOW_PATH: WORKFLOW_TEXT}, "Add workflow")
            elif action == "pages":
                forge.enable_pages(repo)
            else:
                forge.create_repo("other", DESCRIPTION)
        assert fake.token not in str(info.value)
        assert str(info.value)[-1] == "."  # one finished sentence
        assert fake.violations == []


def test_side_file_goes_to_its_own_branch(fake: FakeGitHub, clock: FakeTime) -> None:
    forge = make_forge(fake, clock)
    repo = round_one(forge)
    forge.put_side_file(repo, "llm-deploy-payloads", "payloads/r1.bin", b"sealed-1")
    forge.put_side_file(repo, "llm-deploy-payloads", "payloads/r1.bin", b"sealed-2")
    assert fake.file(repo.full_name, "payloads/r1.bin", "llm-deploy-payloads") == b"sealed-2"
    assert "payloads/r1.bin" not in fake.repo(repo.full_name).files["main"]


@pytest.mark.parametrize("owner", [None, "octo-org"])
def test_task_repos_recovers_mapping_from_github(
    fake: FakeGitHub, clock: FakeTime, owner: str | None
) -> None:
    login = owner or fake.user
    seeded = [
        ("demo-3", DESCRIPTION, "2026-01-03T00:00:00Z", True),
        ("demo", DESCRIPTION, "2026-01-01T00:00:00Z", True),
        ("demo-2", DESCRIPTION, "2026-01-02T00:00:00Z", True),
        ("demo-4", "someone's own repo", "2026-01-04T00:00:00Z", False),
        ("demo-extra", DESCRIPTION, "2026-01-05T00:00:00Z", False),
        ("demolition", DESCRIPTION, "2026-01-06T00:00:00Z", False),
        # Same base name, another task id ("demo " and "Demo" are different tasks).
        ("demo-6", description("demo ", 1), "2026-01-07T00:00:00Z", False),
        ("Demo-7", description("Demo", 1), "2026-01-08T00:00:00Z", False),
    ]
    for name, text, created, _ in seeded:
        fake.add_repo(login, name, text, created)
    for i in range(120):  # enough unrelated repos to need a second page
        fake.add_repo(login, f"other-{i}", DESCRIPTION, "2025-01-01T00:00:00Z")
    fake.add_repo(
        "octo-org" if owner is None else fake.user, "demo-5", DESCRIPTION, "2026-02-01T00:00:00Z"
    )
    found = make_forge(fake, clock, owner=owner).task_repos("demo", task_tag("demo"))
    assert [r.name for r in found] == ["demo", "demo-2", "demo-3"]
    assert {r.owner for r in found} == {login}
    assert found[0].created_at < found[1].created_at < found[2].created_at
    assert len(fake.calls("GET", "/repos")) == 2  # two pages of 100
