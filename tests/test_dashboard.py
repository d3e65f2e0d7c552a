"""The dashboard: safe rows, bearer-only JSON, and the page itself in headless Chromium."""

from __future__ import annotations

import dataclasses
import json
import shutil
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from receiver import dashboard
from receiver.app import create_app
from receiver.auth import authorized
from receiver.config import Settings
from receiver.dashboard import dashboard_rows, scrub
from receiver.doctor.result import Phase, Report, RoundTiming, fail, ok, save_last
from receiver.github.mode import GitHubMode
from receiver.github.outcomes import RunOutcomes
from receiver.journal import Journal
from receiver.local.notify import local_row, with_run
from receiver.outcome import round_outcome
from receiver.worker import Worker
from tests.conftest import load_task
from tests.fakes.memory_forge import MemoryForge
from tests.support import CHROMIUM_ARGS, ServerThread, free_socket

SECRET = "dashboard-test-secret"
EMAIL = "student.private@example.com"
EVAL_URL = "https://eval.example/notify?sig=evaluation-only"
FAILURE = "Bad credentials for ghp_abcdefghijkl1234 (owner student.private@example.com)"


class _Outcomes(RunOutcomes):
    """GitHub's answer for every run: it succeeded, and the evaluator answered 200."""

    def __init__(self) -> None:
        super().__init__(lambda *a, **k: {}, httpx.Client(), api_url="", token="")

    def outcome(self, run_url: str) -> dict[str, Any] | None:
        report = {
            "commit_sha": "abcdef1" + "0" * 33,
            "tokens": {"prompt": 1000, "completion": 234},
            "cost_usd": 0.0123,
            "checks": [{"result": "pass"}, {"result": "fail"}],
            "notify": {"status": 200, "accepted_at": 1_700_000_000.0},
        }
        return round_outcome("success", report, started_at=120.0, ended_at=190.0)


def _row(**changes: Any) -> dict[str, Any]:
    base = {
        "id": 1,
        "task": "t",
        "round": 1,
        "state": "dispatched",
        "repo": "o/t",
        "repo_url": "https://github.com/o/t",
        "pages_url": "https://o.github.io/t/",
        "run_url": "https://github.com/o/t/actions/runs/1",
        "error": None,
        "received_at": 100.0,
        "updated_at": 130.0,
        "last_step": "dispatched",
    }
    return {**base, **changes}


ROW_CASES = [
    ("final-uses-updated-at", _row(), {"elapsed_s": 30.0, "running": False}),
    (
        "running-uses-now",
        _row(state="working", updated_at=101.0),
        {"elapsed_s": 900.0, "running": True},
    ),
    ("clock-skew-never-negative", _row(updated_at=90.0), {"elapsed_s": 0.0}),
    ("local-clone-path-is-no-link", _row(repo_url="/data/repos/t.git"), {"repo_url": None}),
    ("script-url-is-no-link", _row(pages_url="javascript:alert(1)"), {"pages_url": None}),
    (
        "failed-reason-scrubbed",
        _row(state="failed", error=FAILURE),
        {"error": "Bad credentials for [token] (owner [email])"},
    ),
    ("stale-error-hidden-once-dispatched", _row(error="transient"), {"error": None}),
    (
        "run-going-on-counts-to-now",
        _row(outcome=round_outcome(None, None, started_at=120.0)),
        {"elapsed_s": 900.0, "running": True},
    ),
    (
        "run-ended-counts-to-its-end",
        _row(outcome=round_outcome("success", None, started_at=120.0, ended_at=190.0)),
        {"elapsed_s": 90.0, "running": False},
    ),
]


@pytest.mark.parametrize(
    ("row", "expected"), [c[1:] for c in ROW_CASES], ids=[c[0] for c in ROW_CASES]
)
def test_dashboard_rows(row: dict[str, Any], expected: dict[str, Any]) -> None:
    [out] = dashboard_rows([row], now=1000.0)
    assert {k: out[k] for k in expected} == expected
    assert "body" not in out and "email" not in out and "evaluation_url" not in out


LOCAL_RUN_CASES = [
    (
        "running",
        {
            "state": "running",
            "started_at": 950.0,
            "steps": [
                {"name": "action: Install", "state": "success", "elapsed": 1.0},
                {"name": "action: Generate", "state": "running", "elapsed": 0.0},
            ],
        },
        {"state": "running", "running": True, "step": "action: Generate", "elapsed_s": 900.0},
    ),
    (
        "success",
        {"state": "success", "elapsed": 4.0, "steps": []},
        {"state": "deployed", "running": False, "step": "dispatched", "error": None},
    ),
    (
        "failure",
        {
            "state": "failure",
            "error": "",
            "steps": [{"name": "action: Generate", "state": "failure", "elapsed": 2.0}],
        },
        {
            "state": "failed",
            "running": False,
            "error": "The run failed at the step 'action: Generate'.",
        },
    ),
    ("no-record-yet", None, {"state": "dispatched", "running": False}),
    # A round that ran a minute reads a minute, not the seconds until its dispatch.
    (
        "success-lasts-as-its-run",
        {"state": "success", "started_at": 130.0, "elapsed": 60.0, "steps": []},
        {"state": "deployed", "running": False, "elapsed_s": 90.0},
    ),
]


@pytest.mark.parametrize(
    ("record", "expected"), [c[1:] for c in LOCAL_RUN_CASES], ids=[c[0] for c in LOCAL_RUN_CASES]
)
def test_local_rows_show_their_run(
    tmp_path: Path, record: dict[str, Any] | None, expected: dict[str, Any]
) -> None:
    (tmp_path / "runs").mkdir()
    if record is not None:
        (tmp_path / "runs" / "7.json").write_text(json.dumps({"run_id": 7, **record}))
    row = _row(run_url="http://127.0.0.1:8000/runs/7")
    [out] = dashboard_rows([local_row(with_run(row, tmp_path))], now=1000.0)
    assert {k: out[k] for k in expected} == expected
    if record is not None:
        finished = record["state"] in ("success", "failure")
        assert out["outcome"]["conclusion"] == (record["state"] if finished else None)


SCRUB_CASES = [
    ("email", "mail a.b+c@ex-ample.co.uk now", "mail [email] now"),
    ("classic-token", "token ghp_0123456789abcdef leaked", "token [token] leaked"),
    ("fine-grained", "github_pat_11ABCDEFG_xyz", "[token]"),
    ("openai-key", "key sk-proj-abcdef123456", "key [token]"),
    ("key-value", "secret=hunter22, next", "secret=[hidden], next"),
    ("bearer", "Authorization: Bearer abc.def", "Authorization: Bearer [hidden]"),
    ("signed-url", "POST https://e.example/n?token=abc failed", "POST [url] failed"),
    ("plain-sentence-kept", "The secret does not match.", "The secret does not match."),
    (
        "repo-name-kept",
        "Every name from sum-of-sales-2 on is taken; delete old repos.",
        "Every name from sum-of-sales-2 on is taken; delete old repos.",
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"), [c[1:] for c in SCRUB_CASES], ids=[c[0] for c in SCRUB_CASES]
)
def test_scrub(text: str, expected: str) -> None:
    assert scrub(text) == expected


AUTH_CASES = [
    ("right", f"Bearer {SECRET}", True),
    ("scheme-case", f"bearer {SECRET}", True),
    ("missing", None, False),
    ("empty-token", "Bearer ", False),
    ("wrong", "Bearer nope", False),
    ("prefix-of-secret", f"Bearer {SECRET[:-1]}", False),
    ("basic-scheme", f"Basic {SECRET}", False),
]


@pytest.mark.parametrize(
    ("header", "ok"), [c[1:] for c in AUTH_CASES], ids=[c[0] for c in AUTH_CASES]
)
def test_authorized(header: str | None, ok: bool) -> None:
    assert authorized(header, SECRET) is ok


class Served:
    """The receiver with a MemoryForge under uvicorn on a loopback port; two tasks journaled."""

    def __init__(self, tmp_path: Path) -> None:
        sock = free_socket()
        self.port = int(sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        base = Settings.from_environ(
            {
                "DEPLOY_SECRET": SECRET,
                "GITHUB_TOKEN": "ghp_test",
                "LLM_DEPLOY_DATA": str(tmp_path / "data"),
                "LLM_DEPLOY_ACTION_REF": "octo/a@" + "d4" * 20,
            }
        )
        settings = dataclasses.replace(base, port=self.port, public_url=self.url)
        self.forge = MemoryForge()
        self.journal = Journal(tmp_path / "journal.sqlite3")
        self.worker = Worker(settings, self.journal, self.forge)
        mode = GitHubMode(settings, outcomes=_Outcomes())
        app = create_app(
            settings, mode=mode, forge=self.forge, journal=self.journal, worker=self.worker
        )
        self.served = ServerThread(app, sock)

    def start(self) -> httpx.Client:
        self.served.start()
        self.client = httpx.Client(base_url=self.url, timeout=10)
        return self.client

    def send(self, name: str, **changes: Any) -> None:
        body = {
            **load_task(name),
            "secret": SECRET,
            "email": EMAIL,
            "evaluation_url": EVAL_URL,
            **changes,
        }
        assert self.client.post("/api-deploy", json=body).status_code == 200
        assert self.worker.drain(10)

    def stop(self) -> None:
        self.client.close()
        self.served.stop()
        self.journal.close()


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    monkeypatch.setattr(dashboard, "REFRESH_SECONDS", 1)
    srv = Served(tmp_path)
    srv.start()
    srv.send("sum-of-sales-601-r1")
    srv.forge.fail["create_repo"] = FAILURE
    srv.send("markdown-to-html-3f1a2-r1")
    del srv.forge.fail["create_repo"]
    yield srv
    srv.stop()


def _leaks(text: str) -> list[str]:
    return [s for s in (SECRET, EMAIL, EVAL_URL, "eval.example", "ghp_abcdef") if s in text]


@pytest.mark.parametrize("header", [None, "Bearer wrong"], ids=["no-token", "wrong-token"])
def test_dashboard_json_needs_the_secret(served: Served, header: str | None) -> None:
    headers = {"authorization": header} if header else {}
    res = served.client.get("/api/dashboard", headers=headers)
    assert res.status_code == 401
    assert res.headers["www-authenticate"].startswith("Bearer")
    assert res.json()["field"] == "authorization" and "tasks" not in res.json()


def test_dashboard_json_rows_are_safe(served: Served) -> None:
    res = served.client.get("/api/dashboard", headers={"authorization": f"Bearer {SECRET}"})
    assert res.status_code == 200 and res.headers["cache-control"] == "no-store"
    data = res.json()
    assert data["mode"] == "github" and data["refresh_seconds"] == 1
    states = {(t["task"], t["round"]): t for t in data["tasks"]}
    ok, bad = states[("sum-of-sales-601", 1)], states[("markdown-to-html-3f1a2", 1)]
    assert [t["task"] for t in data["tasks"]] == ["markdown-to-html-3f1a2", "sum-of-sales-601"]
    assert ok["state"] == "dispatched" and ok["run_url"].startswith("https://example.test/")
    assert ok["pages_url"] and ok["repo_url"] and ok["error"] is None
    assert bad["state"] == "failed" and bad["repo_url"] is None
    assert bad["error"] == "Bad credentials for [token] (owner [email])"
    assert _leaks(res.text) == []


@pytest.mark.parametrize(
    ("path", "media"),
    [
        ("/", "text/html"),
        ("/static/dashboard.js", "text/javascript"),
        ("/static/dashboard.css", "text/css"),
    ],
    ids=["page", "script", "style"],
)
def test_page_and_assets_are_served_with_a_strict_policy(
    served: Served, path: str, media: str
) -> None:
    res = served.client.get(path)
    assert res.status_code == 200 and res.headers["content-type"].startswith(media)
    assert "script-src 'self'" in res.headers["content-security-policy"]
    assert "default-src 'none'" in res.headers["content-security-policy"]
    assert "http://" not in res.text and "https://" not in res.text  # no external assets
    assert _leaks(res.text) == [] and "sum-of-sales" not in res.text


def test_unknown_asset_is_404(served: Served) -> None:
    assert served.client.get("/static/../config.py").status_code == 404
    assert served.client.get("/static/secrets.txt").status_code == 404


CHROMIUM = shutil.which("chromium")


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


@pytest.mark.browser
def test_dashboard_in_chromium(served: Served, tmp_path: Path) -> None:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 520})
            page.goto(served.url + "/")
            # Without the secret: a sign-in form and no data at all.
            expect(page.locator("#login")).to_be_visible()
            expect(page.locator("#board")).to_be_hidden()
            assert page.locator("tr[data-task]").count() == 0
            page.fill("#secret", "not-the-secret")
            page.click("#login button[type=submit]")
            expect(page.locator("#login-error")).to_have_text("That secret was not accepted.")
            assert page.locator("tr[data-task]").count() == 0

            page.fill("#secret", SECRET)
            page.click("#login button[type=submit]")
            rows = page.locator("#tasks tbody tr")
            expect(rows).to_have_count(2)
            ok = page.locator('tr[data-task="sum-of-sales-601"]')
            bad = page.locator('tr[data-task="markdown-to-html-3f1a2"]')
            expect(ok.locator(".state")).to_have_text("dispatched")
            expect(bad.locator(".state")).to_have_text("failed")
            assert ok.locator("td").nth(1).inner_text() == "1"
            hrefs = {
                a.inner_text(): a.get_attribute("href") for a in ok.locator("td.links a").all()
            }
            repo = served.forge.repos["sum-of-sales-601"].repo
            assert hrefs == {
                "repo": repo.html_url,
                "page": repo.pages_url,
                "run": f"{repo.html_url}/actions/runs/1",
            }
            assert bad.locator("td.links").inner_text() == "—"
            expect(bad.locator("td.detail")).to_have_text(
                "Bad credentials for [token] (owner [email])"
            )
            assert ok.locator("td.elapsed").inner_text().endswith("s")
            # How the round's run ended, from the run itself.
            for part in (
                "run: success",
                "commit abcdef1",
                "checks 1 passed, 1 failed",
                "1234 tokens",
                "$0.0123",
                "evaluator 200 at ",
            ):
                expect(ok.locator("td.detail")).to_contain_text(part)
            expect(page.locator("#mode")).to_have_text("github mode")

            # It refreshes itself: a round 2 sent now appears without a reload.
            served.send("sum-of-sales-601-r2a")
            expect(rows).to_have_count(3, timeout=5000)
            expect(rows.first.locator("td").nth(1)).to_have_text("2")

            html = page.content()
            assert _leaks(html) == []
            shot = page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
            width, height = _png_size(shot)
            assert width >= 1200 and height >= 200 and len(shot) > 15_000

            # Signing out forgets the secret and clears the table.
            page.click("#logout")
            expect(page.locator("#login")).to_be_visible()
            assert page.locator("tr[data-task]").count() == 0
            assert page.evaluate("sessionStorage.length") == 0
        finally:
            browser.close()


def _doctor_report() -> Report:
    return Report(
        mode="github",
        checks=[
            ok("GitHub token", "valid classic token of octo-user"),
            fail(
                "LLM key and model",
                f"rejected ghp_abcdef1234567 of {EMAIL}",
                "Get a new key and export it as LLM_API_KEY.",
            ),
        ],
        rounds=[
            RoundTiming(
                1,
                [
                    Phase("repository created", 1.5, 1.5),
                    Phase("notification received", 0.0, 0.0, "skipped: no listener"),
                ],
            )
        ],
    )


def test_dashboard_json_carries_the_last_doctor_result(served: Served, tmp_path: Path) -> None:
    headers = {"authorization": f"Bearer {SECRET}"}
    assert served.client.get("/api/dashboard", headers=headers).json()["doctor"] is None
    save_last(tmp_path / "data", _doctor_report())
    res = served.client.get("/api/dashboard", headers=headers)
    doctor = res.json()["doctor"]
    assert doctor["ok"] is False and doctor["mode"] == "github"
    assert [(c["name"], c["status"]) for c in doctor["checks"]] == [
        ("GitHub token", "ok"),
        ("LLM key and model", "fail"),
    ]
    assert doctor["checks"][1]["detail"] == "rejected [token] of [email]"
    assert doctor["checks"][1]["fix"] == "Get a new key and export it as LLM_API_KEY."
    assert [p["name"] for p in doctor["rounds"][0]["phases"]] == [
        "repository created",
        "notification received",
    ]
    assert _leaks(res.text) == []


@pytest.mark.browser
def test_dashboard_shows_the_last_doctor_result(served: Served, tmp_path: Path) -> None:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    save_last(tmp_path / "data", _doctor_report())
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            page.goto(served.url + "/")
            expect(page.locator("#doctor")).to_be_hidden()  # nothing before signing in
            page.fill("#secret", SECRET)
            page.click("#login button[type=submit]")
            checks = page.locator("#doctor-checks li")
            expect(checks).to_have_count(2)
            expect(checks.nth(0)).to_have_text("✓ GitHub token: valid classic token of octo-user")
            expect(checks.nth(1)).to_contain_text("✗ LLM key and model: rejected [token]")
            expect(checks.nth(1)).to_contain_text("fix: Get a new key")
            expect(page.locator("#doctor-when")).to_contain_text("problems found")
            expect(page.locator("#doctor-rounds li")).to_have_text(
                "round 1: repository created +1.5s, notification received (skipped: no listener)"
            )
        finally:
            browser.close()
