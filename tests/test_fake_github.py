"""The fake GitHub itself: it must behave as github-facts.md says and its checker must bite."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from nacl.encoding import Base64Encoder
from nacl.public import PublicKey, SealedBox

from tests.fakes import openapi_check
from tests.fakes.github import FakeGitHub

WF = ".github/workflows/llm-deploy.yml"


@pytest.fixture
def seen() -> list[tuple[str, str, dict[str, str]]]:
    return []


@pytest.fixture
def fake(seen: list[Any]) -> Iterator[FakeGitHub]:
    hook = lambda repo, wf, inputs: seen.append((repo, wf, inputs))  # noqa: E731
    with FakeGitHub(registration_lag=1, on_dispatch=hook) as server:
        yield server
        assert server.violations == []


@pytest.fixture
def gh(fake: FakeGitHub) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"token {fake.token}", "Accept": "application/vnd.github+json"}
    with httpx.Client(base_url=fake.url, headers=headers) as client:
        yield client


def make_repo(
    gh: httpx.Client, name: str = "demo", workflow: bytes = b"on: workflow_dispatch\n"
) -> str:
    full = gh.post("/user/repos", json={"name": name, "description": "llm-deploy"}).json()[
        "full_name"
    ]
    content = base64.b64encode(workflow).decode()
    assert (
        gh.put(
            f"/repos/{full}/contents/{WF}", json={"message": "m", "content": content}
        ).status_code
        == 201
    )
    return str(full)


def test_requests_without_the_token_get_401(fake: FakeGitHub) -> None:
    answer = httpx.get(f"{fake.url}/user")
    assert answer.status_code == 401
    assert answer.json()["message"] == "Bad credentials"


def test_names_are_sanitised_and_duplicates_refused(gh: httpx.Client) -> None:
    first = gh.post("/user/repos", json={"name": "my app!!"})
    assert (first.status_code, first.json()["name"]) == (201, "my-app-")
    again = gh.post("/user/repos", json={"name": "MY-APP-"})
    assert again.status_code == 422
    assert "name already exists on this account" in json.dumps(again.json())


def test_registration_lag_then_dispatch_with_run_details(
    fake: FakeGitHub, gh: httpx.Client, seen: list[Any]
) -> None:
    full = make_repo(gh)
    url = f"/repos/{full}/actions/workflows/llm-deploy.yml"
    body = {"ref": "main", "inputs": {"payload": "p"}, "return_run_details": True}
    assert gh.post(f"{url}/dispatches", json=body).status_code == 404
    assert gh.get(url).json()["state"] == "active"
    answer = gh.post(f"{url}/dispatches", json=body)
    assert answer.status_code == 200
    assert set(answer.json()) == {"workflow_run_id", "run_url", "html_url"}
    assert gh.post(f"{url}/dispatches", json={"ref": "main"}).status_code == 204
    assert seen == [(full, "llm-deploy.yml", {"payload": "p"}), (full, "llm-deploy.yml", {})]
    assert len(fake.dispatches) == 2


@pytest.mark.parametrize(
    ("workflow", "body", "status", "message"),
    [
        (b"on: push\n", {"ref": "main"}, 422, "does not have 'workflow_dispatch' trigger"),
        (b"on: workflow_dispatch\n", {"ref": "nope"}, 422, "No ref found for: nope"),
        (
            b"on: workflow_dispatch\n",
            {"ref": "main", "inputs": {"p": "x" * 65_530}},
            422,
            "inputs are too large.",
        ),
    ],
    ids=["no-trigger", "bad-ref", "too-large"],
)
def test_dispatch_refusals(
    fake: FakeGitHub, gh: httpx.Client, workflow: bytes, body: Any, status: int, message: str
) -> None:
    fake.registration_lag = 0
    full = make_repo(gh, workflow=workflow)
    answer = gh.post(f"/repos/{full}/actions/workflows/llm-deploy.yml/dispatches", json=body)
    assert answer.status_code == status
    assert message in answer.json()["message"]
    assert fake.dispatches == []


def test_secrets_are_sealed_to_a_per_repo_key(fake: FakeGitHub, gh: httpx.Client) -> None:
    full = make_repo(gh)
    other = make_repo(gh, "other")
    key = gh.get(f"/repos/{full}/actions/secrets/public-key").json()
    assert key != gh.get(f"/repos/{other}/actions/secrets/public-key").json()
    sealed = SealedBox(PublicKey(key["key"].encode(), Base64Encoder)).encrypt(b"s3cret")
    body = {"encrypted_value": base64.b64encode(sealed).decode(), "key_id": key["key_id"]}
    assert gh.put(f"/repos/{full}/actions/secrets/X", json=body).status_code == 201
    assert gh.put(f"/repos/{full}/actions/secrets/X", json=body).status_code == 204
    assert fake.secret(full, "X") == "s3cret"
    assert gh.get(f"/repos/{full}/actions/secrets/X").status_code == 200
    assert gh.get(f"/repos/{full}/actions/secrets/Y").status_code == 404


def test_pages_enable_then_409(gh: httpx.Client) -> None:
    full = make_repo(gh)
    assert gh.get(f"/repos/{full}/pages").status_code == 404
    assert gh.post(f"/repos/{full}/pages", json={"build_type": "workflow"}).status_code == 201
    again = gh.post(f"/repos/{full}/pages", json={"build_type": "workflow"})
    assert (again.status_code, again.json()["message"]) == (409, "GitHub Pages is already enabled.")
    assert gh.get(f"/repos/{full}/pages").json()["build_type"] == "workflow"


def test_workflow_files_need_the_workflow_scope(fake: FakeGitHub, gh: httpx.Client) -> None:
    fake.workflow_scope = False
    full = gh.post("/user/repos", json={"name": "demo"}).json()["full_name"]
    body = {"message": "m", "content": "eA=="}
    assert gh.put(f"/repos/{full}/contents/{WF}", json=body).status_code == 404
    assert gh.put(f"/repos/{full}/contents/index.html", json=body).status_code == 201


def test_injected_faults_carry_headers_and_run_out(fake: FakeGitHub, gh: httpx.Client) -> None:
    fake.secondary_rate_limit(5, times=2)
    first, second, third = (gh.get("/user/repos") for _ in range(3))
    assert (first.status_code, first.headers["retry-after"]) == (403, "5")
    assert second.status_code == 403
    assert third.status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "template"),
    [
        (
            "PUT",
            "/repos/o/r/contents/.github/workflows/x.yml",
            "/repos/{owner}/{repo}/contents/{path}",
        ),
        ("GET", "/repos/o/r/git/ref/heads/main", "/repos/{owner}/{repo}/git/ref/{ref}"),
        (
            "GET",
            "/repos/o/r/actions/secrets/public-key",
            "/repos/{owner}/{repo}/actions/secrets/public-key",
        ),
        (
            "GET",
            "/repos/o/r/actions/secrets/NAME",
            "/repos/{owner}/{repo}/actions/secrets/{secret_name}",
        ),
    ],
    ids=["slashy-path", "slashy-ref", "literal-wins", "param"],
)
def test_checker_matches_templates(method: str, path: str, template: str) -> None:
    found = openapi_check.match(method, path)
    assert found is not None and found[0] == template


@pytest.mark.parametrize(
    ("status", "body", "expect"),
    [
        (201, {"content": {}, "commit": {}}, ""),
        (201, {"content": {}}, "commit"),
        (418, {"message": "x", "documentation_url": "d"}, "not documented"),
        (401, {"oops": 1}, "message"),
    ],
    ids=["valid", "missing-field", "undocumented-status", "bad-error-body"],
)
def test_checker_flags_bad_responses(status: int, body: Any, expect: str) -> None:
    problems = openapi_check.check_exchange(
        "PUT",
        "/repos/o/r/contents/a/b.txt",
        {},
        {"Content-Type": "application/json"},
        json.dumps({"message": "m", "content": "eA=="}).encode(),
        status,
        {"Content-Type": "application/json"},
        json.dumps(body).encode(),
    )
    assert (problems == []) if not expect else (expect in " ".join(problems))


def test_checker_flags_bad_requests() -> None:
    problems = openapi_check.check_exchange(
        "POST", "/repos/o/r/git/refs", {}, {}, b'{"ref": "refs/heads/x"}', 422, {}, b"{}"
    )
    assert any("request" in p and "sha" in p for p in problems)
    assert openapi_check.check_exchange("GET", "/nowhere", {}, {}, b"", 200, {}, b"") != []


# ----- the doctor's endpoints ------------------------------------------------------------------


def test_scopes_header_and_denied_permissions(fake: FakeGitHub, gh: httpx.Client) -> None:
    assert "x-oauth-scopes" not in gh.get("/user").headers  # fine-grained by default
    fake.scopes = "public_repo, workflow"
    assert gh.get("/user").headers["x-oauth-scopes"] == "public_repo, workflow"
    full = make_repo(gh)
    fake.denied = {"secrets", "pages"}
    assert gh.get(f"/repos/{full}/actions/secrets/public-key").status_code == 403
    assert gh.get(f"/repos/{full}/pages").json()["message"].startswith("Resource not accessible")
    assert gh.get(f"/repos/{full}/actions/workflows").json() == {"total_count": 0, "workflows": []}


def test_actions_permissions_of_repo_and_org(fake: FakeGitHub, gh: httpx.Client) -> None:
    full = make_repo(gh)
    fake.repo_actions.update(enabled=False)
    fake.org_actions.update(enabled_repositories="none", sha_pinning_required=True)
    assert gh.get(f"/repos/{full}/actions/permissions").json()["enabled"] is False
    org = gh.get("/orgs/octo-org/actions/permissions").json()
    assert org["enabled_repositories"] == "none" and org["sha_pinning_required"] is True
    assert gh.get("/orgs/elsewhere/actions/permissions").status_code == 404


def test_commits_by_branch_or_sha_and_delete(fake: FakeGitHub, gh: httpx.Client) -> None:
    full = make_repo(gh)
    head = gh.get(f"/repos/{full}/commits/main").json()["sha"]
    assert gh.get(f"/repos/{full}/commits/{head}").json()["sha"] == head
    assert gh.get(f"/repos/{full}/commits/{'0' * 40}").status_code == 422
    fake.scopes = "repo"
    assert gh.delete(f"/repos/{full}").status_code == 403  # no delete_repo scope
    fake.scopes = "repo, delete_repo"
    assert gh.delete(f"/repos/{full}").status_code == 204
    assert gh.get(f"/repos/{full}").status_code == 404


def test_simulated_runs_commit_deploy_and_complete(fake: FakeGitHub, gh: httpx.Client) -> None:
    fake.simulate_runs = True
    full = make_repo(gh)
    gh.get(f"/repos/{full}/actions/workflows/llm-deploy.yml")  # the registration lag
    gh.get(f"/repos/{full}/actions/workflows/llm-deploy.yml")
    answer = gh.post(
        f"/repos/{full}/actions/workflows/llm-deploy.yml/dispatches",
        json={"ref": "main", "inputs": {}, "return_run_details": True},
    )
    run = f"/repos/{full}/actions/runs/{answer.json()['workflow_run_id']}"
    before = gh.get(f"/repos/{full}/commits/main").json()["sha"]
    assert gh.get(run).json()["status"] == "queued"
    assert gh.get(f"/repos/{full}/deployments").json() == []
    assert gh.get(run).json()["status"] == "in_progress"
    after = gh.get(f"/repos/{full}/commits/main").json()["sha"]
    assert after != before
    page = gh.get(f"/repos/{full}/contents/index.html", params={"ref": after}).json()
    assert b"<title>round trip</title>" in base64.b64decode(page["content"])
    (deployment,) = gh.get(
        f"/repos/{full}/deployments", params={"environment": "github-pages"}
    ).json()
    assert deployment["sha"] == after
    (status,) = gh.get(f"/repos/{full}/deployments/{deployment['id']}/statuses").json()
    assert status["state"] == "success"
    done = gh.get(run).json()
    assert (done["status"], done["conclusion"]) == ("completed", "success")


def test_git_data_api_refuses_an_empty_repo_then_commits_and_tags(
    fake: FakeGitHub, gh: httpx.Client
) -> None:
    full = gh.post("/user/repos", json={"name": "git-data"}).json()["full_name"]
    entry = {"path": "a/b.txt", "mode": "100644", "type": "blob", "content": "hi\n"}
    assert gh.post(f"/repos/{full}/git/trees", json={"tree": [entry]}).status_code == 409
    assert gh.get(f"/repos/{full}/commits/HEAD").status_code == 409
    seeded = gh.post("/user/repos", json={"name": "seeded", "auto_init": True}).json()
    full = seeded["full_name"]
    head = gh.get(f"/repos/{full}/commits/HEAD").json()
    listing = gh.get(
        f"/repos/{full}/git/trees/{head['commit']['tree']['sha']}", params={"recursive": "1"}
    ).json()["tree"]
    assert [e["path"] for e in listing] == ["README.md"]
    tree = gh.post(f"/repos/{full}/git/trees", json={"tree": [entry]}).json()
    assert [(e["path"], e["type"]) for e in tree["tree"]] == [("a", "tree")]  # top level only
    commit = gh.post(
        f"/repos/{full}/git/commits",
        json={"message": "m", "tree": tree["sha"], "parents": [head["sha"]]},
    ).json()["sha"]
    stray = gh.post(
        f"/repos/{full}/git/commits", json={"message": "x", "tree": tree["sha"], "parents": []}
    ).json()["sha"]
    refs = f"/repos/{full}/git/refs"
    assert gh.patch(f"{refs}/heads/main", json={"sha": stray}).status_code == 422  # not ff
    assert gh.patch(f"{refs}/heads/main", json={"sha": commit}).status_code == 200
    assert fake.file(full, "a/b.txt") == b"hi\n"
    assert gh.post(refs, json={"ref": "refs/tags/v1", "sha": commit}).status_code == 201
    assert gh.post(refs, json={"ref": "refs/tags/v1", "sha": commit}).status_code == 422
    assert gh.get(f"/repos/{full}/commits/v1").json()["sha"] == commit
    matching = gh.get(f"/repos/{full}/git/matching-refs/tags/v").json()
    assert [(r["ref"], r["object"]["sha"]) for r in matching] == [("refs/tags/v1", commit)]


def test_annotated_tags_are_followed_to_their_commit(fake: FakeGitHub, gh: httpx.Client) -> None:
    sha = fake.seed_action("actions/setup-python", "v7", annotated=True)
    ref = gh.get("/repos/actions/setup-python/git/ref/tags/v7").json()["object"]
    assert ref["type"] == "tag" and ref["sha"] != sha
    tag = gh.get(f"/repos/actions/setup-python/git/tags/{ref['sha']}").json()
    assert tag["object"] == {"sha": sha, "type": "commit", "url": tag["object"]["url"]}
    assert gh.get("/repos/actions/setup-python/git/ref/tags/v9").status_code == 404
