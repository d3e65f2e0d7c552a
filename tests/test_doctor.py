"""``llm-deploy doctor``'s checks against the fake GitHub and the fake LLM on 127.0.0.1.

Every check is made to fail for its real cause (the fake answers as GitHub or AI Pipe does in that
situation), and must then say so with its fix sentence. Every exchange with the fake GitHub is
validated against GitHub's OpenAPI description.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from receiver.config import Settings
from receiver.doctor import cli
from receiver.doctor.action_ref import ActionRef, parse_action_ref
from receiver.doctor.checklist import run_checks
from receiver.doctor.host_checks import check_public_url, check_secret
from receiver.doctor.result import DoctorError, Report, load_last, render
from tests.fakes.github import FakeGitHub
from tests.fakes.llm import FakeLLM

SHA = "3f786850e387550fdab836ed7e6dc881de23001b"
STRONG = "Vq7-xN2pLk9_rT4mZs8wYb3c"


@dataclass
class Rig:
    github: FakeGitHub
    llm: FakeLLM
    env: dict[str, str]
    http: httpx.Client

    def settings(self) -> Settings:
        return Settings.from_environ(self.env)

    def run(self) -> Report:
        return run_checks(self.settings(), self.http, usage_url=self.llm.usage_url)

    def line(self, name: str) -> Any:
        report = self.run()
        assert self.github.violations == []
        return next(c for c in report.checks if c.name == name)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with FakeGitHub() as github, FakeLLM() as llm, httpx.Client() as http:
        github.scopes = "repo, workflow, delete_repo"
        action = github.add_repo(
            "octo-user", "llm-deploy-action", "the Action", "2026-01-01T00:00:00Z"
        )
        action.branches["main"] = SHA
        env = {
            "DEPLOY_SECRET": STRONG,
            "GITHUB_TOKEN": github.token,
            "GITHUB_API_URL": github.url,
            "LLM_API_KEY": llm.api_key,
            "LLM_BASE_URL": llm.base_url,
            "LLM_MODEL": "gpt-4.1-mini",
            "LLM_DEPLOY_ACTION_REF": f"octo-user/llm-deploy-action@{SHA}",
            "LLM_DEPLOY_DATA": str(tmp_path / "data"),
        }
        yield Rig(github, llm, env, http)


def test_a_good_setup_passes_every_check(rig: Rig) -> None:
    report = rig.run()
    assert rig.github.violations == []
    assert [(c.name, c.status) for c in report.checks] == [
        ("DEPLOY_SECRET", "ok"),
        ("GitHub token", "ok"),
        ("token permissions", "ok"),
        ("Actions for new repos", "ok"),
        ("GitHub Pages", "ok"),
        ("Action pinned", "ok"),
        ("LLM key and model", "ok"),
        ("AI Pipe budget", "ok"),
        ("public URL", "skip"),
    ]
    assert "classic token of octo-user" in report.checks[1].detail
    assert f"pinned to {SHA[:12]}" in report.checks[5].detail
    assert "$0.12 of $1.00" in report.checks[7].detail
    assert not report.failed and render(report).endswith("Ready.")
    sent = rig.llm.requests[0].json
    assert sent["max_tokens"] <= 5 and sent["model"] == "gpt-4.1-mini"


def _org_actions_off(rig: Rig) -> None:
    rig.env["GITHUB_OWNER"] = "octo-org"
    rig.github.org_actions["enabled_repositories"] = "none"


def _fine_grained_without_secrets(rig: Rig) -> None:
    rig.github.scopes = None
    rig.github.denied = {"secrets"}


def _set(key: str, value: str) -> Callable[[Rig], None]:
    return lambda rig: rig.env.__setitem__(key, value)


# (id, how the world is broken, which line fails, words in its detail, words in its fix)
FAILURES: list[tuple[str, Callable[[Rig], None], str, str, str]] = [
    (
        "bad-token",
        _set("GITHUB_TOKEN", "ghp_wrong"),
        "GitHub token",
        "401 Bad credentials",
        "export it as GITHUB_TOKEN",
    ),
    (
        "missing-workflow-scope",
        lambda r: setattr(r.github, "scopes", "public_repo"),
        "token permissions",
        "missing workflow",
        "tick workflow",
    ),
    (
        "missing-repo-scope",
        lambda r: setattr(r.github, "scopes", "workflow, gist"),
        "token permissions",
        "missing public_repo (or repo)",
        "tick public_repo",
    ),
    (
        "fine-grained-no-secrets",
        _fine_grained_without_secrets,
        "token permissions",
        "no access to Secrets",
        "Secrets: read and write",
    ),
    (
        "org-actions-disabled",
        _org_actions_off,
        "Actions for new repos",
        "Actions are disabled in organisation octo-org",
        "'All repositories'",
    ),
    (
        "repo-actions-disabled",
        lambda r: r.github.repo_actions.update(enabled=False),
        "Actions for new repos",
        "Actions are disabled on octo-user/llm-deploy-action",
        "Enable Actions",
    ),
    (
        "local-actions-only",
        lambda r: r.github.repo_actions.update(allowed_actions="local_only"),
        "Actions for new repos",
        "allows only local actions",
        "Allow 'all actions'",
    ),
    (
        "sha-pinning-and-a-tag",
        lambda r: (
            r.github.repo_actions.update(sha_pinning_required=True),
            r.env.__setitem__("LLM_DEPLOY_ACTION_REF", "octo-user/llm-deploy-action@main"),
        ),
        "Actions for new repos",
        "requires every action pinned",
        "doctor --fix",
    ),
    (
        "pages-unavailable",
        lambda r: setattr(r.github, "denied", {"pages"}),
        "GitHub Pages",
        "may not use Pages",
        "Pages: read and write",
    ),
    (
        "action-repo-missing",
        _set("LLM_DEPLOY_ACTION_REF", f"octo-user/nowhere@{SHA}"),
        "Action pinned",
        "octo-user/nowhere does not exist",
        "doctor --fix",
    ),
    (
        "action-repo-private",
        lambda r: setattr(r.github.repo("octo-user/llm-deploy-action"), "private", True),
        "Action pinned",
        "is private",
        "doctor --fix",
    ),
    (
        "action-commit-missing",
        _set("LLM_DEPLOY_ACTION_REF", "octo-user/llm-deploy-action@" + "0" * 40),
        "Action pinned",
        "has no commit",
        "doctor --fix",
    ),
    (
        "bad-llm-key",
        _set("LLM_API_KEY", "sk-wrong"),
        "LLM key and model",
        "rejected the key (401",
        "export it as LLM_API_KEY",
    ),
    (
        "no-llm-key",
        lambda r: r.env.pop("LLM_API_KEY"),
        "LLM key and model",
        "offline generator",
        "export it as LLM_API_KEY",
    ),
    (
        "unpriced-model",
        lambda r: setattr(r.llm, "priced", {"gpt-4.1-nano"}),
        "LLM key and model",
        "Model gpt-4.1-mini pricing unknown",
        "Set LLM_MODEL to a model in the provider's price",
    ),
    (
        "budget-spent",
        lambda r: r.llm.usage.update(cost=1.02),
        "AI Pipe budget",
        "$1.02 of $1.00 used in the last 7 days: spent",
        "7-day window",
    ),
    (
        "short-secret",
        _set("DEPLOY_SECRET", "change-me"),
        "DEPLOY_SECRET",
        "9 characters; fewer than 20",
        "secrets.token_urlsafe",
    ),
]


@pytest.mark.parametrize(
    ("case", "breaks", "name", "detail", "fix"), FAILURES, ids=[f[0] for f in FAILURES]
)
def test_each_check_fails_for_its_real_cause_with_a_fix(
    rig: Rig, case: str, breaks: Callable[[Rig], None], name: str, detail: str, fix: str
) -> None:
    if case == "bad-llm-key":
        rig.llm._check_key = True  # the provider knows its key, as a real one does
    breaks(rig)
    report = rig.run()
    assert rig.github.violations == []
    line = next(c for c in report.checks if c.name == name)
    assert line.status == "fail", line
    assert detail in line.detail and fix in line.fix
    assert report.failed
    text = render(report)
    assert f"✗ {name}" in text and f"fix: {line.fix}" in text
    assert [c.name for c in report.checks if c.failed] == [name]  # nothing else is blamed


SECRETS = [
    ("long-random", STRONG, "ok"),
    ("readme-example", "change-me", "fail"),
    ("common-word-padded", "password-password-password", "fail"),
    ("one-character", "a" * 40, "fail"),
    ("nineteen", "Vq7-xN2pLk9_rT4mZs8", "fail"),
    ("twenty", "Vq7-xN2pLk9_rT4mZs8w", "ok"),
]


@pytest.mark.parametrize(("case", "secret", "status"), SECRETS, ids=[s[0] for s in SECRETS])
def test_secret_strength(case: str, secret: str, status: str) -> None:
    result = check_secret(secret)
    assert result.status == status
    assert secret not in result.detail  # the secret never lands in the output


class _Health:
    def __init__(self, status: int, body: bytes) -> None:
        answer = (status, body)

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                code, data = answer if self.path == "/health" else (404, b"{}")
                self.send_response(code)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> _Health:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


HEALTH = [
    ("answers-ok", 200, b'{"status": "ok", "mode": "github"}', "ok", "answers ok"),
    ("wrong-app", 200, b'{"hello": "world"}', "fail", "without status ok"),
    ("down", 502, b'{"error": "bad gateway"}', "fail", "answered 502"),
]


@pytest.mark.parametrize(
    ("case", "code", "body", "status", "words"), HEALTH, ids=[h[0] for h in HEALTH]
)
def test_public_url_health(case: str, code: int, body: bytes, status: str, words: str) -> None:
    with _Health(code, body) as server, httpx.Client() as http:
        result = check_public_url(http, server.url)
    assert result.status == status and words in result.detail
    if status == "fail":
        assert "LLM_DEPLOY_PUBLIC_URL" in result.fix


def test_public_url_nobody_listens() -> None:
    with _Health(200, b"{}") as server:
        url = server.url
    with httpx.Client() as http:
        result = check_public_url(http, url)
    assert result.status == "fail" and "did not answer" in result.detail


def test_local_mode_skips_github(rig: Rig) -> None:
    rig.env.pop("GITHUB_TOKEN")
    report = rig.run()
    github = [c for c in report.checks if c.name in cli.GITHUB_LINES]
    assert {c.status for c in github} == {"skip"} and len(github) == 5
    assert rig.github.requests == []


ACTION_REFS = [
    ("pinned", f"me/act@{SHA}", ActionRef("me", "act", "", SHA), True),
    ("tag", "me/act@v1", ActionRef("me", "act", "", "v1"), False),
    ("sub-path", "me/act/sub/dir@main", ActionRef("me", "act", "/sub/dir", "main"), False),
]


@pytest.mark.parametrize(
    ("case", "text", "parsed", "pinned"), ACTION_REFS, ids=[a[0] for a in ACTION_REFS]
)
def test_parse_action_ref(case: str, text: str, parsed: ActionRef, pinned: bool) -> None:
    assert parse_action_ref(text) == parsed and parsed.pinned is pinned and parsed.uses == text


@pytest.mark.parametrize("text", ["", "me/act", "act@v1", "me/act@"], ids=repr)
def test_parse_action_ref_rejects(text: str) -> None:
    with pytest.raises(DoctorError, match="owner/repo@ref"):
        parse_action_ref(text)


def test_fix_uses_the_injected_publisher(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--fix`` hands the Action to the ensure seam; what it returns is what gets checked."""
    called: list[str] = []

    def publish(settings: Settings, http: httpx.Client) -> ActionRef:
        called.append(settings.action_ref)
        return ActionRef("octo-user", "llm-deploy-action", "", SHA, SHA)

    monkeypatch.setattr(cli, "FIX_ACTION", publish)
    for key, value in rig.env.items():
        monkeypatch.setenv(key, value)
    code = cli.main(["--fix", "--json"], http=rig.http)
    assert called == [rig.env["LLM_DEPLOY_ACTION_REF"]]
    saved = load_last(Path(rig.env["LLM_DEPLOY_DATA"]))
    assert saved is not None
    action = next(c for c in saved["checks"] if c["name"] == "Action pinned")
    assert action["status"] == "ok" and SHA[:12] in action["detail"]
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["ok"] is True and printed["checks"] == saved["checks"]
    assert cli.main(["--json"], http=rig.http) == 0 and len(called) == 1  # no --fix: not called


def test_an_action_published_elsewhere_than_the_setting_names_fails(rig: Rig) -> None:
    def publish(settings: Settings, http: httpx.Client) -> ActionRef:
        return ActionRef("octo-user", "llm-deploy-action", "", "b" * 40, "b" * 40)

    report = run_checks(rig.settings(), rig.http, ensure=publish, usage_url=rig.llm.usage_url)
    line = next(c for c in report.checks if c.name == "Action pinned")
    assert line.status == "fail" and "but LLM_DEPLOY_ACTION_REF names" in line.detail
    assert line.fix.startswith(f"Set LLM_DEPLOY_ACTION_REF=octo-user/llm-deploy-action@{'b' * 40}")


def test_cli_exits_1_and_prints_the_fix(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rig.github.scopes = "public_repo"
    for key, value in rig.env.items():
        monkeypatch.setenv(key, value)
    assert cli.main([], http=rig.http) == 1
    out = capsys.readouterr().out
    assert "✗ token permissions" in out and "fix: Edit the token" in out
    assert "✓ GitHub token" in out and "problem to fix before going live" in out
    assert STRONG not in out and rig.github.token not in out and rig.llm.api_key not in out
    saved = load_last(Path(rig.env["LLM_DEPLOY_DATA"]))
    assert saved is not None and saved["ok"] is False


def test_the_console_script_runs_the_doctor(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from receiver import cli as console

    for key, value in rig.env.items():
        monkeypatch.setenv(key, value)
    assert console.main(["doctor", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    assert rig.github.violations == []
