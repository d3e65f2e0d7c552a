"""Serve a built app on loopback and evaluate its JavaScript checks in headless Chromium.

A page under verification is sealed: its browser context sends every request through the site's
own server (``action.site_server``), which serves that one origin and refuses the rest, so the
page reaches nothing else (other loopback ports, other hosts, WebSockets, workers' requests).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from action.js_eval import JsResult, evaluate_all, first_line
from action.site_server import Site, serve_site

# Flags that keep an offline Chromium from retrying connections it can never make. WebRTC may use
# only proxied transports, so it cannot send UDP around the sealing proxy.
BASE_ARGS = [
    *("--headless", "--disable-gpu", "--disable-quic", "--no-first-run"),
    *("--disable-background-networking", "--disable-component-update", "--disable-sync"),
    "--webrtc-ip-handling-policy=disable_non_proxied_udp",
]
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def launch_options(euid: int | None = None) -> dict[str, Any]:
    """Playwright's launch options: the sandbox stays on unless we run as root.

    Playwright adds ``--no-sandbox`` itself unless ``chromium_sandbox`` is true; Chromium refuses
    to start sandboxed as root, so only there is the sandbox given up.
    """
    root = (os.geteuid() if euid is None else euid) == 0
    args = [*BASE_ARGS, "--no-sandbox"] if root else list(BASE_ARGS)
    return {"args": args, "chromium_sandbox": not root}


@dataclass
class BrowserResult:
    """Everything one page load taught us: check outcomes, page errors, requests, screenshot."""

    checks: list[JsResult] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    offline_requests: list[str] = field(default_factory=list)
    blocked_requests: list[str] = field(default_factory=list)
    sandbox_note: str = ""  # why Chromium ran without its sandbox, when it had to
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


def _is_network(url: str) -> bool:
    return urlsplit(url).scheme in ("http", "https", "ws", "wss")


LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def _owner(site: Site | None, url: str, offline: bool = False) -> Callable[[str], bool]:
    """Which URLs are the page's own: the site's exact origin, or a live page's host (any
    loopback host when ``offline``: a machine without internet serving the page itself)."""
    if site is not None:
        return lambda u: not _is_network(u) or site.is_own(u)
    hosts = LOOPBACK if offline else frozenset({urlsplit(url).hostname})
    return lambda u: not _is_network(u) or urlsplit(u).hostname in hosts


@contextlib.contextmanager
def serve(root: Path) -> Iterator[str]:
    """Serve what Pages would publish of `root` on 127.0.0.1; yields the base URL."""
    with serve_site(root) as site:
        yield site.url


class Browser:
    """One headless Chromium, reused across page loads; use as a context manager."""

    def __init__(self, executable: str) -> None:
        self.executable = executable
        self.sandbox_note = ""  # set when the sandbox had to be given up
        self._playwright: Any = None
        self._browser: Any = None

    def __enter__(self) -> Browser:
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        options = launch_options()
        try:
            self._browser = self._launch(options)
        except Exception:
            self._playwright.stop()
            raise
        return self

    def _launch(self, options: dict[str, Any]) -> Any:
        try:
            return self._playwright.chromium.launch(executable_path=self.executable, **options)
        except Exception as exc:
            if not options["chromium_sandbox"]:
                raise
            # Some hosts forbid the user namespaces the sandbox needs (Ubuntu 24.04's AppArmor
            # rule for unprivileged namespaces). The page stays sealed by the site's proxy, so
            # checking without the sandbox beats not checking; the report says so.
            self.sandbox_note = f"Chromium's sandbox could not start ({first_line(exc)})"
            fallback = launch_options(euid=0)
            return self._playwright.chromium.launch(executable_path=self.executable, **fallback)

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
        """Serve `root` on loopback, sealed, and check its index.html (plus `query`)."""
        with serve_site(root) as site:
            url = site.url + "index.html" + (("?" + query.lstrip("?")) if query else "")
            return self.load(url, js_checks, site=site, **options)

    def load(
        self,
        url: str,
        js_checks: list[str],
        *,
        site: Site | None = None,
        settle_ms: int = 3000,
        per_check_timeout_ms: int = 4000,
        load_timeout_ms: int = 10000,
        screenshot: Path | None = None,
        offline: bool = False,
    ) -> BrowserResult:
        """Load `url` and evaluate each check, polling falsy ones until the page settles.

        With `site` (the app being verified), the context is sealed: every request goes through
        the site's server, and any not for its exact origin fails at once and is listed in
        ``blocked_requests``. Without one (a deployed page), requests go out and only the page's
        own host counts as its.
        """
        started = time.monotonic()
        result = BrowserResult(sandbox_note=self.sandbox_note)
        options: dict[str, Any] = {"service_workers": "block"}
        if site is not None:
            options["proxy"] = site.proxy
        context = self._browser.new_context(**options)
        try:
            page = context.new_page()
            own = _owner(site, url, offline)
            self._watch(context, page, result, own, route_foreign=site is not None or offline)
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
        if site is not None:
            seen = set(result.blocked_requests)
            result.blocked_requests += [b for b in site.blocked if b not in seen]
        result.elapsed_s = round(time.monotonic() - started, 3)
        return result

    @staticmethod
    def _watch(
        context: Any,
        page: Any,
        result: BrowserResult,
        own: Callable[[str], bool],
        route_foreign: bool,
    ) -> None:
        def route(r: Any) -> None:
            # Fail foreign requests at once (CDNs are unreachable here) instead of letting the
            # page hang; what this route does not see, the site's proxy still refuses.
            if own(r.request.url):
                r.continue_()
            else:
                result.offline_requests.append(r.request.url)
                result.blocked_requests.append(r.request.url)
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

        if route_foreign:
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
