"""Serve a built app on loopback and evaluate its JavaScript checks in headless Chromium."""

from __future__ import annotations

import contextlib
import functools
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from action.js_eval import JsResult, evaluate_all, first_line

# Flags that keep an offline Chromium from retrying connections it can never make.
LAUNCH_ARGS = [
    *("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"),
    *("--disable-background-networking", "--disable-component-update", "--disable-sync"),
]
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


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


class BrowserUnavailable(Exception):
    """No browser could start; the message says why (and how to get one)."""


def _is_own(url: str, hosts: frozenset[str]) -> bool:
    """Same-site (data:, blob:, or one of `hosts`): only those errors are the app's own."""
    parts = urlsplit(url)
    return parts.scheme not in ("http", "https", "ws", "wss") or parts.hostname in hosts


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
        self, root: Path, js_checks: list[str], *, query: str = "", **options: Any
    ) -> BrowserResult:
        """Serve `root` on loopback, offline, and check its index.html (plus `query`)."""
        with serve(root) as base:
            url = base + "index.html" + (("?" + query.lstrip("?")) if query else "")
            return self.load(url, js_checks, offline=True, **options)

    def load(
        self,
        url: str,
        js_checks: list[str],
        *,
        offline: bool = False,
        settle_ms: int = 3000,
        per_check_timeout_ms: int = 4000,
        load_timeout_ms: int = 10000,
        screenshot: Path | None = None,
    ) -> BrowserResult:
        """Load `url` and evaluate each check, polling falsy ones until the page settles.

        Offline, every request off loopback fails at once (CDNs are unreachable in tests);
        online (a deployed page), requests go out and only the page's own host counts as its.
        """
        started = time.monotonic()
        result = BrowserResult()
        hosts = _LOOPBACK if offline else frozenset({urlsplit(url).hostname or ""})
        context = self._browser.new_context(service_workers="block")
        try:
            page = context.new_page()
            self._watch(context, page, result, hosts, offline)
            try:
                page.goto(url, wait_until="load", timeout=load_timeout_ms)
            except Exception as exc:
                result.console_errors.append(f"page did not load: {first_line(exc)}")
            # No network-idle wait: falsy checks are polled until the settle deadline.
            result.checks = evaluate_all(page, js_checks, settle_ms, per_check_timeout_ms)
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
    def _watch(
        context: Any, page: Any, result: BrowserResult, hosts: frozenset[str], offline: bool
    ) -> None:
        def own(url: str) -> bool:
            return _is_own(url, hosts)

        def route(r: Any) -> None:
            # CDNs are unreachable offline: fail them at once instead of letting the page hang.
            if own(r.request.url):
                r.continue_()
            else:
                result.offline_requests.append(r.request.url)
                r.abort("internetdisconnected")

        def console(msg: Any) -> None:
            where = (msg.location or {}).get("url", "")
            # Failed loads are already recorded, with their URL, as failed requests.
            noise = msg.text.startswith("Failed to load resource") or "favicon.ico" in msg.text
            if msg.type == "error" and own(where) and not noise:
                result.console_errors.append(msg.text)

        def failed(req: Any) -> None:
            if own(req.url):
                result.failed_requests.append(f"{req.url}: {req.failure}")

        def response(resp: Any) -> None:
            if resp.status >= 400 and own(resp.url) and "favicon.ico" not in resp.url:
                result.failed_requests.append(f"HTTP {resp.status} {urlsplit(resp.url).path}")

        if offline:
            context.route("**/*", route)
        page.on("console", console)
        page.on("pageerror", lambda exc: result.console_errors.append(f"uncaught {exc}"))
        page.on("requestfailed", failed)
        page.on("response", response)


def launch(chromium: str | None = None) -> Browser:
    """A started Browser (close it with ``__exit__``); BrowserUnavailable says why there is none."""
    executable = chromium or find_chromium()
    if executable is None:
        raise BrowserUnavailable("no Chromium or Chrome found on PATH")
    try:
        return Browser(executable).__enter__()
    except ImportError:
        raise BrowserUnavailable("Playwright is not installed (pip install playwright)") from None
    except Exception as exc:
        raise BrowserUnavailable(f"Chromium at {executable} failed: {first_line(exc)}") from None


def run_browser_checks(
    root: Path | None,
    js_checks: list[str],
    *,
    chromium: str | None = None,
    browser: Browser | None = None,
    url: str | None = None,
    query: str = "",
    settle_ms: int = 3000,
    per_check_timeout_ms: int = 4000,
    screenshot: Path | None = None,
) -> BrowserResult:
    """Check root/index.html served offline, or a live `url`; skipped without a browser."""
    if not js_checks:
        return BrowserResult()
    options: dict[str, Any] = {
        "settle_ms": settle_ms,
        "per_check_timeout_ms": per_check_timeout_ms,
        "screenshot": screenshot,
    }
    own: Browser | None = None
    if browser is None:
        try:
            browser = own = launch(chromium)
        except BrowserUnavailable as exc:
            return skipped_result(js_checks, str(exc))
    try:
        if url is not None:
            return browser.load(url, js_checks, load_timeout_ms=20000, **options)
        assert root is not None, "give a root to serve or a url"
        return browser.run(root, js_checks, query=query, **options)
    finally:
        if own is not None:
            own.__exit__(None, None, None)


def skipped_result(js_checks: list[str], reason: str) -> BrowserResult:
    """Every check skipped for `reason` (no browser): neither passed nor failed."""
    return BrowserResult(checks=[JsResult(s, "skipped", reason) for s in js_checks], skipped=reason)
