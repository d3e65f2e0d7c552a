"""Serve a built app on loopback and evaluate its JavaScript checks in headless Chromium."""

from __future__ import annotations

import contextlib
import functools
import re
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Literal
from urllib.parse import urlsplit

Status = Literal["pass", "fail", "error", "skipped"]

# Flags that keep an offline Chromium from retrying connections it can never make.
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_WRAPPER = """async () => {{
  const timer = new Promise((_, reject) =>
    setTimeout(() => reject(new Error("no answer within {timeout} ms")), {timeout}));
  const value = await Promise.race([(async () => (
{expr}
))(), timer]);
  let shown;
  try {{ shown = JSON.stringify(value); }} catch (e) {{ shown = undefined; }}
  return {{ ok: !!value, shown: shown === undefined ? String(value) : shown }};
}}"""


@dataclass
class JsResult:
    """The outcome of one JavaScript check."""

    source: str
    status: Status
    detail: str = ""
    elapsed_ms: int = 0


@dataclass
class BrowserResult:
    """Everything one page load taught us: check outcomes, page errors, requests, screenshot."""

    checks: list[JsResult] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    offline_requests: list[str] = field(default_factory=list)
    screenshot: Path | None = None
    skipped: str = ""
    elapsed_s: float = 0.0


def find_chromium() -> str | None:
    """The first Chromium or Chrome on PATH (GitHub's runners have google-chrome)."""
    for name in BROWSER_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _is_loopback(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme not in ("http", "https", "ws", "wss") or parts.hostname in _LOOPBACK


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def serve(root: Path) -> Iterator[str]:
    """Serve `root` on 127.0.0.1 with an ephemeral port; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "message", "") or exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    # Drop Playwright's "Page.evaluate: " framing; the page's own message is what helps.
    return re.sub(r"^(?:Error: )?(?:[A-Za-z]+\.[A-Za-z]+: )?", "", line, count=1)


class Browser:
    """One headless Chromium, reused across page loads; use as a context manager."""

    def __init__(self, executable: str) -> None:
        self.executable = executable
        self._playwright: Any = None
        self._browser: Any = None

    def __enter__(self) -> Browser:
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        try:
            self._browser = self._playwright.chromium.launch(
                executable_path=self.executable, args=LAUNCH_ARGS
            )
        except Exception:
            self._playwright.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with contextlib.suppress(Exception):
            self._browser.close()
        self._playwright.stop()

    def run(
        self,
        root: Path,
        js_checks: list[str],
        *,
        query: str = "",
        settle_ms: int = 3000,
        per_check_timeout_ms: int = 4000,
        load_timeout_ms: int = 10000,
        screenshot: Path | None = None,
    ) -> BrowserResult:
        """Load root/index.html (plus `query`) and evaluate each check, polling falsy ones."""
        started = time.monotonic()
        result = BrowserResult()
        with serve(root) as base:
            context = self._browser.new_context(service_workers="block")
            try:
                page = context.new_page()
                self._watch(context, page, result)
                url = base + "index.html" + (("?" + query.lstrip("?")) if query else "")
                try:
                    page.goto(url, wait_until="load", timeout=load_timeout_ms)
                except Exception as exc:
                    result.console_errors.append(f"page did not load: {_first_line(exc)}")
                # No network-idle wait: falsy checks are polled until the settle deadline.
                result.checks = _evaluate_all(page, js_checks, settle_ms, per_check_timeout_ms)
                if screenshot is not None:
                    screenshot.parent.mkdir(parents=True, exist_ok=True)
                    with contextlib.suppress(Exception):
                        page.screenshot(path=str(screenshot), timeout=5000)
                        result.screenshot = screenshot
            finally:
                context.close()
        result.elapsed_s = round(time.monotonic() - started, 3)
        return result

    @staticmethod
    def _watch(context: Any, page: Any, result: BrowserResult) -> None:
        def route(r: Any) -> None:
            # CDNs are unreachable offline: fail them at once instead of letting the page hang.
            if _is_loopback(r.request.url):
                r.continue_()
            else:
                result.offline_requests.append(r.request.url)
                r.abort("internetdisconnected")

        def console(msg: Any) -> None:
            where = (msg.location or {}).get("url", "")
            # Failed loads are already recorded, with their URL, as failed requests.
            noise = msg.text.startswith("Failed to load resource") or "favicon.ico" in msg.text
            if msg.type == "error" and _is_loopback(where) and not noise:
                result.console_errors.append(msg.text)

        def failed(req: Any) -> None:
            if _is_loopback(req.url):
                result.failed_requests.append(f"{req.url}: {req.failure}")

        def response(resp: Any) -> None:
            if resp.status >= 400 and _is_loopback(resp.url) and "favicon.ico" not in resp.url:
                result.failed_requests.append(f"HTTP {resp.status} {urlsplit(resp.url).path}")

        context.route("**/*", route)
        page.on("console", console)
        page.on("pageerror", lambda exc: result.console_errors.append(f"uncaught {exc}"))
        page.on("requestfailed", failed)
        page.on("response", response)


def _evaluate_one(page: Any, expr: str, timeout_ms: int) -> tuple[Status, str]:
    try:
        answer = page.evaluate(_WRAPPER.format(expr=expr, timeout=timeout_ms))
    except Exception as exc:
        return "error", _first_line(exc)
    return ("pass" if answer["ok"] else "fail"), f"returned {answer['shown'][:200]}"


def _evaluate_all(page: Any, sources: list[str], settle_ms: int, timeout_ms: int) -> list[JsResult]:
    """Evaluate every check; falsy or throwing ones are retried until the settle deadline."""
    results = [JsResult(src, "fail") for src in sources]
    pending = list(range(len(sources)))
    deadline = time.monotonic() + settle_ms / 1000
    while pending:
        pass_started = time.monotonic()
        for i in list(pending):
            t0 = time.monotonic()
            status, detail = _evaluate_one(page, sources[i], timeout_ms)
            results[i] = JsResult(sources[i], status, detail, int((time.monotonic() - t0) * 1000))
            # Syntax errors and hung promises never heal by waiting.
            if status == "pass" or "SyntaxError" in detail or "no answer within" in detail:
                pending.remove(i)
        # Stop only after a whole pass that began at or after the deadline, so a slow check
        # cannot starve the others of a look at the settled page.
        if not pending or pass_started >= deadline:
            break
        page.wait_for_timeout(150)
    return results


def run_browser_checks(
    root: Path,
    js_checks: list[str],
    *,
    chromium: str | None = None,
    browser: Browser | None = None,
    query: str = "",
    settle_ms: int = 3000,
    per_check_timeout_ms: int = 4000,
    screenshot: Path | None = None,
) -> BrowserResult:
    """Evaluate `js_checks` against root/index.html; skipped (not passed) when no browser."""
    if not js_checks:
        return BrowserResult()
    options: dict[str, Any] = {
        "query": query,
        "settle_ms": settle_ms,
        "per_check_timeout_ms": per_check_timeout_ms,
        "screenshot": screenshot,
    }
    if browser is not None:
        return browser.run(root, js_checks, **options)
    executable = chromium or find_chromium()
    if executable is None:
        return _skipped(js_checks, "no Chromium or Chrome found on PATH")
    try:
        with Browser(executable) as own:
            return own.run(root, js_checks, **options)
    except ImportError:
        return _skipped(js_checks, "Playwright is not installed (pip install playwright)")
    except Exception as exc:
        return _skipped(js_checks, f"Chromium at {executable} failed: {_first_line(exc)}")


def _skipped(js_checks: list[str], reason: str) -> BrowserResult:
    return BrowserResult(checks=[JsResult(s, "skipped", reason) for s in js_checks], skipped=reason)
