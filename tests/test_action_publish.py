"""Publishing the Action into the user's account, against the fake GitHub (spec-checked).

Every exchange is validated against GitHub's OpenAPI description; the fake's ``actions/*``
repositories carry the tags that ``action.yml`` and the workflow name, so pinning is real.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from receiver.app import create_app
from receiver.config import Settings
from receiver.github.action_bundle import build_bundle, load_sources
from receiver.github.action_ref import ActionPublishError, ActionSource, ensure_action
from receiver.github.pins import tag_refs, unpin
from receiver.journal import Journal
from receiver.local.mode import LocalMode
from receiver.request import parse_request
from receiver.worker import Worker
from receiver.workflow import WORKFLOW_PATH, template_text
from tests.fakes.github import FakeGitHub
from tests.test_github_forge import FakeTime, make_forge

REPO = "octo-user/llm-deploy-action"
ACTIONS = {  # the tags action.yml and the workflow template name, as the fake serves them
    "actions/setup-python": ("v7", True),
    "actions/upload-pages-artifact": ("v5", False),
    "actions/deploy-pages": ("v5", True),
    "actions/upload-artifact": ("v7", False),
    "actions/checkout": ("v7", False),
    "actions/cache": ("v5", False),
}


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with FakeGitHub(registration_lag=0) as server:
        server.pins = {  # type: ignore[attr-defined]
            f"{name}@{tag}": server.seed_action(name, tag, annotated=annotated)
            for name, (tag, annotated) in ACTIONS.items()
        }
        yield server
        assert server.violations == []


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def settings_for(fake: FakeGitHub, **env: str) -> Settings:
    return Settings.from_environ(
        {"DEPLOY_SECRET": "s3cret", "GITHUB_TOKEN": fake.token, "GITHUB_API_URL": fake.url, **env}
    )


def writes(fake: FakeGitHub, since: int = 0) -> list[str]:
    return [f"{r.method} {r.path}" for r in fake.requests[since:] if r.method != "GET"]


def test_the_seeded_tags_are_the_ones_the_action_and_workflow_name() -> None:
    named = set(tag_refs(load_sources().action_yml)) | set(tag_refs(template_text()))
    assert named == {f"{name}@{tag}" for name, (tag, _) in ACTIONS.items()}


def test_first_publish_into_an_empty_account(fake: FakeGitHub, http: httpx.Client) -> None:
    choice = ensure_action(settings_for(fake), http=http, sleep=lambda s: None)

    repo = fake.repo(REPO)
    head = repo.branches["main"]
    assert choice.ref == f"{REPO}@{head}" and len(head) == 40
    assert repo.git.tags == {"v0.1.0": head, "v0": head}
    sources = load_sources()
    files = repo.files["main"]
    published_yml = files["action.yml"].decode()
    assert dict(files) == build_bundle(sources, REPO, published_yml)  # exactly the bundle
    for name, (tag, _) in ACTIONS.items():  # action.yml's own uses: pinned, annotated followed
        if name != "actions/checkout":
            assert f"uses: {name}@{fake.pins[f'{name}@{tag}']} # {tag}\n" in published_yml
    assert "@v7\n" not in published_yml and "@v5\n" not in published_yml
    assert unpin(published_yml) == sources.action_yml  # nothing but the pins changed
    assert b"uses: octo-user/llm-deploy-action@" in files["README.md"]
    assert b"MIT License" in files["LICENSE"]
    assert b'packages = ["action"]' in files["pyproject.toml"]
    assert choice.pins == {"actions/checkout@v7": fake.pins["actions/checkout@v7"]}
    # one commit on top of the auto_init one, made with the Git Data API
    assert writes(fake) == [
        "POST /user/repos",
        f"POST /repos/{REPO}/git/trees",
        f"POST /repos/{REPO}/git/commits",
        f"PATCH /repos/{REPO}/git/refs/heads/main",
        f"POST /repos/{REPO}/git/refs",
        f"POST /repos/{REPO}/git/refs",
    ]


def test_nothing_changed_means_no_write_and_the_same_pin(
    fake: FakeGitHub, http: httpx.Client
) -> None:
    first = ensure_action(settings_for(fake), http=http)
    start = len(fake.requests)
    again = ensure_action(settings_for(fake), http=http)
    assert again.ref == first.ref and again.pins == first.pins
    assert writes(fake, start) == []
    reads = [r.path for r in fake.requests[start:]]
    # user, head commit, tree, published action.yml, tags, the workflow's checkout pin
    assert len(reads) == 6, reads
    assert not any("/repos/actions/setup-python" in p for p in reads)  # pins kept, not resolved


def test_a_new_version_is_committed_tagged_and_re_pinned(
    fake: FakeGitHub, http: httpx.Client
) -> None:
    settings = settings_for(fake)
    old = ensure_action(settings, http=http)
    old_sha = old.ref.rpartition("@")[2]
    sources = load_sources()
    package = {k: v for k, v in sources.package.items() if k != "usage.py"}
    package["new_step.py"] = b'"""A module the new version adds."""\n'
    newer = dataclasses.replace(sources, version="0.2.0", package=package)
    start = len(fake.requests)

    new = ensure_action(settings, http=http, sources=newer)

    repo = fake.repo(REPO)
    new_sha = repo.branches["main"]
    assert new.ref == f"{REPO}@{new_sha}" != old.ref
    assert repo.git.commits[new_sha][1] == [old_sha]  # a child of the old version
    assert repo.git.tags == {"v0.1.0": old_sha, "v0.2.0": new_sha, "v0": new_sha}
    files = repo.files["main"]
    assert "action/new_step.py" in files and "action/usage.py" not in files
    assert b'version = "0.2.0"' in files["pyproject.toml"]
    assert files["action.yml"] == fake.file(REPO, "action.yml")
    assert writes(fake, start) == [
        f"POST /repos/{REPO}/git/trees",
        f"POST /repos/{REPO}/git/commits",
        f"PATCH /repos/{REPO}/git/refs/heads/main",
        f"POST /repos/{REPO}/git/refs",
        f"PATCH /repos/{REPO}/git/refs/tags/v0",
    ]
    # the old commit still holds the old version: repos pinned to it run what they ran
    assert repo.git.trees[repo.git.commits[old_sha][0]]["action/usage.py"]


def test_same_version_other_content_keeps_the_release_tag(
    fake: FakeGitHub, http: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(fake)
    old_sha = ensure_action(settings, http=http).ref.rpartition("@")[2]
    sources = load_sources()
    dev = dataclasses.replace(sources, package={**sources.package, "dev.py": b"# dev build\n"})
    with caplog.at_level(logging.WARNING, logger="llm_deploy.action"):
        new_sha = ensure_action(settings, http=http, sources=dev).ref.rpartition("@")[2]
    tags = fake.repo(REPO).git.tags
    assert tags["v0.1.0"] == old_sha and tags["v0"] == new_sha
    assert tags[f"v0.1.0+{new_sha[:7]}"] == new_sha
    assert "tag v0.1.0" in caplog.text and "not this build's content" in caplog.text


def test_the_generated_workflow_pins_the_published_commit(fake: FakeGitHub, tmp_path: Path) -> None:
    settings = settings_for(fake, LLM_API_KEY="sk-x")
    journal = Journal(tmp_path / "journal.sqlite3")
    source = ActionSource(settings)
    request = parse_request(
        {
            "email": "a@example.com",
            "secret": "s3cret",
            "task": "pinned-demo",
            "round": 1,
            "nonce": "n1",
            "brief": "Build it.",
            "checks": [],
            "evaluation_url": "https://e.example/",
            "attachments": [],
        }
    )
    rid, _ = journal.record(request)
    Worker(settings, journal, make_forge(fake, FakeTime()), action=source.get).process(rid)
    assert journal.get(rid).state == "dispatched", journal.get(rid).error
    journal.close()

    head = fake.repo(REPO).branches["main"]
    workflow = fake.file("octo-user/pinned-demo", WORKFLOW_PATH).decode()
    steps = yaml.safe_load(workflow)["jobs"]["deploy"]["steps"]
    assert [s["uses"] for s in steps] == [
        f"actions/checkout@{fake.pins['actions/checkout@v7']}",
        f"{REPO}@{head}",
    ]
    assert f"actions/checkout@{fake.pins['actions/checkout@v7']} # v7\n" in workflow


def test_rounds_do_not_publish_again(fake: FakeGitHub, tmp_path: Path) -> None:
    settings = settings_for(fake)
    source = ActionSource(settings)
    journal = Journal(tmp_path / "journal.sqlite3")
    forge = make_forge(fake, FakeTime())
    body = {
        "email": "a@example.com",
        "secret": "s3cret",
        "task": "twice",
        "nonce": "n",
        "brief": "Build it.",
        "checks": [],
        "evaluation_url": "https://e.example/",
        "attachments": [],
    }
    for round_ in (1, 2, 1):
        rid, _ = journal.record(parse_request({**body, "round": round_, "nonce": f"n{round_}"}))
        Worker(settings, journal, forge, action=source.get).process(rid)
        assert journal.get(rid).state == "dispatched"
    journal.close()
    assert len(fake.calls("GET", "/user")) == 1  # the one lookup of the publish, made once
    assert len(fake.calls("GET", f"/repos/{REPO}/commits/")) == 2  # before and after creating
    assert len(fake.calls(None, "/repos/actions/checkout/")) == 1


def test_a_failed_publish_fails_the_request_then_the_next_one_retries(
    fake: FakeGitHub, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(fake)
    refused = {"method": "POST", "path_contains": "/user/repos"}
    fake.inject(403, "Resource not accessible by personal access token", **refused)
    source = ActionSource(settings)
    with caplog.at_level(logging.ERROR, logger="llm_deploy.action"):
        source.start()
        source.join(30)
    assert "doctor --fix" in caplog.text and REPO in caplog.text
    journal = Journal(tmp_path / "journal.sqlite3")
    forge = make_forge(fake, FakeTime())
    body = {
        "email": "a@example.com",
        "secret": "s3cret",
        "round": 1,
        "nonce": "n1",
        "brief": "Build it.",
        "checks": [],
        "evaluation_url": "https://e.example/",
        "attachments": [],
    }
    fake.inject(403, "Resource not accessible by personal access token", **refused)
    first, _ = journal.record(parse_request({**body, "task": "fails-first"}))
    Worker(settings, journal, forge, action=source.get).process(first)
    failed = journal.get(first)
    assert failed.state == "failed" and "llm-deploy doctor --fix" in (failed.error or "")
    assert fake.dispatches == [] and "octo-user/fails-first" not in fake.repos  # no repo made
    second, _ = journal.record(parse_request({**body, "task": "works-next"}))
    Worker(settings, journal, forge, action=source.get).process(second)
    assert journal.get(second).state == "dispatched"
    journal.close()
    assert (
        fake.repo(REPO).branches["main"]
        in fake.file("octo-user/works-next", WORKFLOW_PATH).decode()
    )


def test_an_organisation_owner_gets_the_repo(fake: FakeGitHub, http: httpx.Client) -> None:
    choice = ensure_action(
        settings_for(fake, GITHUB_OWNER="octo-org", LLM_DEPLOY_ACTION_REPO="our-action"), http=http
    )
    assert choice.ref.startswith("octo-org/our-action@")
    assert "POST /orgs/octo-org/repos" in writes(fake)
    assert not fake.calls("GET", "/user")  # the owner is known, no lookup


def test_a_repo_of_other_files_is_not_overwritten(fake: FakeGitHub, http: httpx.Client) -> None:
    repo = fake.add_repo("octo-user", "llm-deploy-action", "mine", "2020-01-01T00:00:00Z")
    fake.commit_files(repo, {"main.c": b"int main;\n"}, "my own project")
    with pytest.raises(ActionPublishError, match="LLM_DEPLOY_ACTION_REPO"):
        ensure_action(settings_for(fake), http=http)
    assert writes(fake) == []


def test_an_empty_repo_made_by_hand_gets_a_first_commit(
    fake: FakeGitHub, http: httpx.Client
) -> None:
    fake.add_repo("octo-user", "llm-deploy-action", "", "2020-01-01T00:00:00Z")
    choice = ensure_action(settings_for(fake), http=http, sleep=lambda s: None)
    assert writes(fake)[0] == f"PUT /repos/{REPO}/contents/README.md"
    assert choice.ref == f"{REPO}@{fake.repo(REPO).branches['main']}"


def test_a_dry_run_reports_without_writing(fake: FakeGitHub, http: httpx.Client) -> None:
    before = ensure_action(settings_for(fake), http=http, dry_run=True)
    assert before.ref == "" and "does not hold" in before.source and writes(fake) == []
    ensure_action(settings_for(fake), http=http)
    start = len(fake.requests)
    after = ensure_action(settings_for(fake), http=http, dry_run=True)
    assert after.ref == f"{REPO}@{fake.repo(REPO).branches['main']}"
    assert "already holds v0.1.0" in after.source and writes(fake, start) == []


@pytest.mark.parametrize(
    ("ref", "warns"),
    [("me/fork@" + "a" * 40, False), ("me/fork@v1", True)],
    ids=["full-sha", "tag"],
)
def test_the_override_is_used_as_is(
    ref: str, warns: bool, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings.from_environ(
        {
            "DEPLOY_SECRET": "s",
            "GITHUB_TOKEN": "ghp_x",
            "GITHUB_API_URL": "http://127.0.0.1:9",
            "LLM_DEPLOY_ACTION_REF": ref,
        }
    )
    source = ActionSource(settings)
    with caplog.at_level(logging.INFO, logger="llm_deploy.action"):
        source.start()
    assert source.get().ref == ref  # no GitHub call: the API URL is a closed port
    assert f"new repos will use the Action {ref} (LLM_DEPLOY_ACTION_REF)" in caplog.text
    assert ("not a full commit SHA" in caplog.text) is warns


def test_the_receiver_says_at_start_which_action_new_repos_use(
    fake: FakeGitHub, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(fake, LLM_DEPLOY_DATA=str(tmp_path / "data"))
    app = create_app(settings, forge=make_forge(fake, FakeTime()))

    async def start_then_stop() -> None:
        async with app.router.lifespan_context(app):
            for _ in range(600):  # published in the background; the line follows
                if "new repos will use the Action" in caplog.text:
                    return
                await asyncio.sleep(0.05)

    with caplog.at_level(logging.INFO, logger="llm_deploy.action"):
        asyncio.run(start_then_stop())
    head = fake.repo(REPO).branches["main"]
    lines = [r.getMessage() for r in caplog.records if "new repos will use" in r.getMessage()]
    assert lines == [
        f"new repos will use the Action {REPO}@{head} "
        f"(published v0.1.0 into {REPO}, tagged v0.1.0, v0)"
    ]


def test_local_mode_names_the_local_forges_action(caplog: pytest.LogCaptureFixture) -> None:
    mode = LocalMode(Settings.from_environ({"DEPLOY_SECRET": "s"}))
    with caplog.at_level(logging.INFO, logger="llm_deploy.action"):
        get = mode.action()
    assert get().ref == "repos/llm-deploy-action@local"  # the local forge's namespace
    assert "new repos will use the Action repos/llm-deploy-action@local (local mode" in caplog.text
