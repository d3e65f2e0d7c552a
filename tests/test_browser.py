"""Evaluating JavaScript checks against a page served on loopback, in Debian's Chromium."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from action import browser as browser_module
from action.browser import Browser, BrowserResult, find_chromium, run_browser_checks, serve

pytestmark = pytest.mark.browser
CHROMIUM = find_chromium()
FAST = {"settle_ms": 800, "per_check_timeout_ms": 1000}

PAGE = """<!doctype html><html><head><title>Demo 7</title>
<link rel="stylesheet" href="https://cdn.example.invalid/x.css"></head>
<body><h1 id="h">Hello</h1><div id="late"></div>
<script>
  setTimeout(() => { document.querySelector("#late").textContent = "ready"; }, 300);
  fetch("missing.json").catch(() => {});
  console.error("boom from the page");
</script>
<script src="https://cdn.example.invalid/lib.js"></script>
</body></html>"""


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    if CHROMIUM is None:
        pytest.skip("no chromium/google-chrome on PATH (apt-get install chromium)")
    with Browser(CHROMIUM) as b:
        yield b


@pytest.fixture
def site(tmp_path: Path) -> Path:
    (tmp_path / "index.html").write_text(PAGE, "utf-8")
    return tmp_path


CASES = [
    ("document.title === 'Demo 7'", "pass", "returned true"),
    ("document.title === 'Demo 8'", "fail", "returned false"),
    ("document.querySelector('#nope').textContent", "error", "Cannot read properties of null"),
    ("!!document.querySelector('#h')", "pass", ""),
    ("new Promise((r) => setTimeout(() => r(document.title), 50))", "pass", '"Demo 7"'),
    ("fetch('index.html').then((r) => r.ok)", "pass", ""),
    ("document.querySelector('#late').textContent === 'ready'", "pass", ""),
    ("(() => { throw new Error('custom failure') })()", "error", "custom failure"),
    ("document.title ===", "error", "SyntaxError"),
    ("new Promise(() => {})", "error", "no answer within 1000 ms"),
]


def test_checks_pass_fail_throw_and_wait(chromium: Browser, site: Path) -> None:
    sources = [c[0] for c in CASES]
    result = chromium.run(site, sources, **FAST)
    got = [(r.source, r.status) for r in result.checks]
    assert got == [(c[0], c[1]) for c in CASES]
    for r, (_, _, detail) in zip(result.checks, CASES, strict=True):
        assert detail in r.detail
    assert result.skipped == ""
    assert result.console_errors == ["boom from the page"]
    assert result.failed_requests == ["HTTP 404 /missing.json"]
    assert sorted(result.offline_requests) == [
        "https://cdn.example.invalid/lib.js",
        "https://cdn.example.invalid/x.css",
    ]


def test_query_and_screenshot(chromium: Browser, tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text(
        "<title>q</title><script>throw new Error('top-level')</script>", "utf-8"
    )
    shot = tmp_path / "out" / "shot.png"
    result = chromium.run(
        tmp_path,
        ["new URLSearchParams(location.search).get('url') === 'a.png'"],
        query="?url=a.png",
        screenshot=shot,
        **FAST,
    )
    assert [r.status for r in result.checks] == ["pass"]
    assert result.screenshot == shot and shot.read_bytes().startswith(b"\x89PNG")
    assert any("top-level" in e for e in result.console_errors)


def test_run_browser_checks_launches_its_own_browser(site: Path) -> None:
    if CHROMIUM is None:
        pytest.skip("no chromium/google-chrome on PATH (apt-get install chromium)")
    # Playwright's sync API allows one driver per thread, and the module's browser holds this one.
    results: list[BrowserResult] = []
    worker = threading.Thread(
        target=lambda: results.append(
            run_browser_checks(site, ["document.title === 'Demo 7'"], chromium=CHROMIUM, **FAST)
        )
    )
    worker.start()
    worker.join()
    assert [r.status for r in results[0].checks] == ["pass"], results[0].skipped


def test_no_browser_means_skipped_not_passed(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(browser_module.shutil, "which", lambda name: None)
    assert find_chromium() is None
    result = run_browser_checks(site, ["document.title === 'Demo 7'"])
    assert result.skipped == "no Chromium or Chrome found on PATH"
    assert [r.status for r in result.checks] == ["skipped"]
    broken = run_browser_checks(site, ["1"], chromium=str(site / "no-such-chrome"))
    assert broken.skipped.startswith("Chromium at ") and broken.checks[0].status == "skipped"


def test_no_checks_launch_nothing(site: Path) -> None:
    result = run_browser_checks(site, [], chromium="/nonexistent/chrome")
    assert result.checks == [] and result.skipped == ""


def test_serve_serves_files_and_stops(tmp_path: Path) -> None:
    import httpx

    (tmp_path / "a.txt").write_text("hi")
    with serve(tmp_path) as base, httpx.Client() as http:
        assert base.startswith("http://127.0.0.1:")
        assert http.get(base + "a.txt").text == "hi"
    with pytest.raises(httpx.ConnectError), httpx.Client() as http:
        http.get(base + "a.txt")
