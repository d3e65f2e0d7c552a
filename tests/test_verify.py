"""verify(): static and browser checks together, over the corpus's correct and wrong apps."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from action.browser import Browser, BrowserResult, JsResult, find_chromium
from action.checks import CheckResult, js_sources, normalise
from action.job import Job
from action.verify import VerifyReport, page_query, verify
from tests.apps.build import APPS, build_app, task_stems, wrong_spec

CHROMIUM = find_chromium()
SETTLE_MS = 1500  # the hand-written apps settle in well under a second


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    if CHROMIUM is None:
        pytest.skip("no chromium/google-chrome on PATH (apt-get install chromium)")
    with Browser(CHROMIUM) as b:
        yield b


def _app(root: Path, body: str) -> Path:
    shutil.copytree(APPS / "_common", root, dirs_exist_ok=True)
    (root / "index.html").write_text(f"<!doctype html><title>T</title>{body}", "utf-8")
    return root


@pytest.mark.browser
@pytest.mark.parametrize("stem", task_stems())
def test_correct_app_passes(chromium: Browser, tmp_path: Path, stem: str) -> None:
    job = build_app(stem, tmp_path)
    shot = tmp_path / "report" / "screenshot.png"
    report = verify(tmp_path, job, browser=chromium, screenshot=shot, settle_ms=SETTLE_MS)
    assert report.failures == []
    assert report.passed
    js_count = sum(1 for row in report.summary_rows() if row[0] == "js")
    assert js_count == len(report.js) == len(js_sources(normalise(job.checks)))
    if report.js:
        assert shot.is_file() and report.to_dict()["screenshot"] == "screenshot.png"
    json.dumps(report.to_dict())


@pytest.mark.browser
@pytest.mark.parametrize("stem", task_stems())
def test_wrong_app_fails_the_right_check(chromium: Browser, tmp_path: Path, stem: str) -> None:
    job = build_app(stem, tmp_path, wrong=True)
    report = verify(tmp_path, job, browser=chromium, settle_ms=SETTLE_MS)
    assert not report.passed
    failing = [r.name for r in report.static if not r.passed]
    failing += [r.source for r in report.js if r.status != "pass"]
    for expected in wrong_spec(stem)["fails"]:
        assert any(expected in f for f in failing), (expected, failing)
        assert any(expected in line for line in report.failures)
    # Only the checks the mutation targets fail.
    assert len(failing) == len(wrong_spec(stem)["fails"]), failing


@pytest.mark.browser
def test_bare_and_throwing_checks_reach_the_repair_lines(chromium: Browser, tmp_path: Path) -> None:
    _app(tmp_path, "<h1>Hi</h1><script>fetch('gone.csv')</script>")
    job = Job(
        task="t",
        round=1,
        brief="A page.",
        checks=[
            "document.title === 'T'",
            {"js": "document.querySelector('h2').textContent"},
            "js: document.querySelectorAll('h1').length === 2",
            "The page is friendly",
        ],
    )
    report = verify(tmp_path, job, browser=chromium, settle_ms=300)
    assert [r.status for r in report.js] == ["pass", "error", "fail"]
    assert report.failed_checks == [
        "document.querySelector('h2').textContent",
        "document.querySelectorAll('h1').length === 2",
    ]
    assert report.text_checks == ["The page is friendly"]
    assert report.failures[:2] == [
        "JavaScript check `document.querySelector('h2').textContent` threw: "
        "TypeError: Cannot read properties of null (reading 'textContent')",
        "JavaScript check `document.querySelectorAll('h1').length === 2` was falsy: "
        "it returned false.",
    ]
    assert "Page error: HTTP 404 /gone.csv" in report.failures
    rows = report.summary_rows()
    assert rows[-1] == ("text", "The page is friendly", "not run", "for an LLM judge")
    doc = report.to_dict()
    assert doc["passed"] is False and doc["js"][1]["status"] == "error"
    assert doc["failed_requests"] == ["HTTP 404 /gone.csv"]


@pytest.mark.browser
def test_cdn_script_before_inline_script_fails_statically(
    chromium: Browser, tmp_path: Path
) -> None:
    body = (
        "<script src='https://cdn.jsdelivr.net/npm/marked/marked.min.js'></script>"
        "<script>fetch('input.md')</script>"
    )
    _app(tmp_path, body)
    check = 'js: !!document.querySelector("script").textContent.includes("fetch(")'
    report = verify(
        tmp_path, Job(task="t", round=1, brief="x", checks=[check]), browser=chromium, settle_ms=300
    )
    assert report.failures[0].startswith(
        "Static check failed: first <script> in index.html is inline — the first <script> loads "
        "https://cdn.jsdelivr.net/npm/marked/marked.min.js"
    )
    assert report.browser is not None
    assert report.browser.offline_requests == ["https://cdn.jsdelivr.net/npm/marked/marked.min.js"]


def test_no_js_checks_means_no_browser(tmp_path: Path) -> None:
    _app(tmp_path, "<p>hi</p>")
    job = Job(task="t", round=1, brief="x", checks=["README.md is professional"])
    report = verify(tmp_path, job, chromium="/nonexistent/chrome")
    assert report.browser is None and report.js == [] and report.passed
    assert report.to_dict()["screenshot"] is None


def test_missing_browser_is_reported_as_skipped(tmp_path: Path) -> None:
    _app(tmp_path, "<p>hi</p>")
    job = Job(task="t", round=1, brief="x", checks=["js: 1 === 1"])
    report = verify(tmp_path, job, chromium=str(tmp_path / "no-chrome"))
    assert report.skipped and not report.passed and report.failures == []
    assert report.failed_checks == []  # skipped is not failed: nothing for a repair to fix
    assert report.summary_rows()[-1][2] == "skipped"


@pytest.mark.parametrize(
    ("checks", "query"),
    [
        (["js: new URLSearchParams(location.search).get('url') === 'a.png'"], ""),
        (["js: location.href.endsWith('?url=sample.png')"], "url=sample.png"),
        (["js: location.search === '?token=abc&user=octocat'"], "token=abc&user=octocat"),
        (["Page displays captcha URL passed at ?url=..."], ""),
        (["js: location.search === '?url=...'"], ""),
    ],
    ids=["no-literal", "url", "two-params", "sentence", "placeholder"],
)
def test_page_query(checks: list[str], query: str) -> None:
    assert page_query(Job(task="t", round=1, brief="", checks=list(checks))) == query


def test_report_without_failures_lists_no_page_errors() -> None:
    report = VerifyReport(
        static=[CheckResult("LICENSE is MIT", True)],
        js=[JsResult("1", "pass", "returned 1")],
        browser=BrowserResult(console_errors=["noise"]),
    )
    assert report.passed and report.failures == []


def test_workflow_files_without_a_push_token_fail_but_ask_no_repair(tmp_path: Path) -> None:
    from action.repair import verdict

    _app(tmp_path, "<p>hi</p>")
    brief = "Add .github/workflows/ci.yml that runs execute.py, and commit execute.py."
    job = Job(task="t", round=1, brief=brief, checks=["The CI runs"])
    plain = verify(tmp_path, job)
    assert plain.failed_checks == ["files the brief names exist"]
    assert "missing: .github/workflows/ci.yml, execute.py" in plain.failures[0]
    blocked = verify(tmp_path, job, unwritable=(".github/workflows/",))
    assert blocked.failed_checks == ["files the brief names exist"]
    assert "missing: execute.py" in blocked.failures[0] and "ci.yml" not in blocked.failures[0]
    (tmp_path / "execute.py").write_text("print(1)\n")
    done = verify(tmp_path, job, unwritable=(".github/workflows/",))
    assert done.failed_checks == [] and done.failures == []  # nothing a repair could fix
    row = done.to_dict()["static"][0]
    assert (row["passed"], row["fixable"]) == (False, False) and "push-token" in row["detail"]
    assert verdict(done) == "fail"  # but the report stays honest
