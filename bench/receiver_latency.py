"""Print POST /api-deploy → 200 latency and server CPU of the receiver beside a bare endpoint.

Two shapes: 20 concurrent clients sending 1 MB requests, and the evaluator's real shape, 10
concurrent clients sending bodies of a few KB. For each, the real receiver and a *bare endpoint*
(same uvicorn and Starlette, one route that reads the body, parses it, compares the secret and
answers 200: the floor any receiver pays) are loaded in the same run, alternately, and the ratio
of their p99 latencies and of their server CPU per request is printed. Goal: both ratios ≤ 1.5,
with every request of the real receiver durable (fsync'd) before its 200.

The receiver runs in a subprocess under uvicorn, built by ``create_app`` exactly as ``llm-deploy
serve`` builds it, in local mode, with one change: its worker accepts every submitted id (the real
``Worker.submit`` runs, so its cost stays inside the measurement) but never processes it. The
bench is about the door; a working forge would steal the CPU the door is measured on, and the
requests it leaves queued are simply resumed by a real receiver started on the same journal.

The client is one process running asyncio with raw keep-alive HTTP/1.1 connections: a pure-Python
client library would cost as much CPU per 1 MB request as the server does, and the two share the
machine's cores. Every request is valid (1 MB body, a data-URI attachment, a unique nonce).
Run from the repo root: ``python bench/receiver_latency.py [--requests 400] [--runs 3]``.
The load average is printed per run: on a shared machine it moves every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SECRET = "bench-secret"
TARGET_RATIO = 1.5
NONCE_MARK = b"NONCE-0000000000"
BURST_PAUSE = 0.3  # seconds between waves, so one wave's fsyncs and checkpoint settle


def _bare_app() -> Any:
    """The floor: read the body, parse it once, compare the secret, answer 200. Nothing stored."""
    import hmac

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    secret = SECRET.encode()

    async def deploy(request: Request) -> JSONResponse:
        data = json.loads(await request.body())
        if not hmac.compare_digest(str(data.get("secret", "")).encode(), secret):
            return JSONResponse({"error": "The secret does not match."}, status_code=403)
        return JSONResponse(
            {
                "status": "accepted",
                "task": data["task"],
                "round": data["round"],
                "nonce": data["nonce"],
            }
        )

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/api-deploy", deploy, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ]
    )


def _serve(port: int, data_dir: str, http: str) -> None:
    """The server side: the real app, a worker that never works, uvicorn on 127.0.0.1."""
    import uvicorn

    if data_dir == "bare":
        uvicorn.run(_bare_app(), host="127.0.0.1", port=port, log_level="warning", http=http)
        return

    from receiver.app import create_app
    from receiver.config import Settings
    from receiver.journal import Journal
    from receiver.worker import Worker

    class DoorOnlyWorker(Worker):
        def process(self, request_id: int) -> None:
            return None  # queued in the journal, never worked: the bench measures the door

    settings = Settings.from_environ(
        {"DEPLOY_SECRET": SECRET, "LLM_DEPLOY_DATA": data_dir, "PORT": str(port)}
    )
    journal = Journal(Path(data_dir) / "journal.sqlite3")
    worker = DoorOnlyWorker(settings, journal, forge=None)  # type: ignore[arg-type]
    app = create_app(settings, journal=journal, worker=worker)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", http=http)


def _body_template(size: int) -> bytes:
    """A valid request of about ``size`` bytes whose nonce is NONCE_MARK, to be replaced."""
    raw = os.urandom(size * 3 // 4 - 1024)
    uri = "data:application/octet-stream;base64," + base64.b64encode(raw).decode("ascii")
    doc = {
        "email": "bench@example.com",
        "secret": SECRET,
        "task": "bench-latency",
        "round": 1,
        "nonce": NONCE_MARK.decode(),
        "brief": "Publish a page that shows the attached data.",
        "checks": ["Page has a title"],
        "evaluation_url": "http://127.0.0.1:9/notify",
        "attachments": [{"name": "data.bin", "url": uri}],
    }
    return json.dumps(doc).encode("utf-8")


class _Connection:
    """One keep-alive HTTP/1.1 connection posting the body template with a given nonce."""

    def __init__(self, port: int, template: bytes) -> None:
        self.port, self.template = port, template
        self.head = (
            f"POST /api-deploy HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json\r\n"
            f"Content-Length: {len(template)}\r\n\r\n"
        ).encode()

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    async def post(self, nonce: str, latencies: list[float], failures: list[str]) -> None:
        body = self.template.replace(NONCE_MARK, nonce.encode().rjust(len(NONCE_MARK), b"0"), 1)
        start = time.perf_counter()
        self.writer.write(self.head)
        self.writer.write(body)
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        answer = await self.reader.readexactly(length)
        latencies.append(time.perf_counter() - start)
        if b" 200 " not in status_line:
            failures.append(f"{status_line.decode().strip()}: {answer[:200]!r}")


async def _load(
    port: int, template: bytes, total: int, clients: int, run_tag: str, burst: bool
) -> tuple[list[float], list[str], float]:
    latencies: list[float] = []
    failures: list[str] = []
    conns = [_Connection(port, template) for _ in range(clients)]
    await asyncio.gather(*(c.open() for c in conns))
    nonces = iter(f"{run_tag}{i}" for i in range(total))
    resting = 0.0

    async def closed_loop(conn: _Connection) -> None:
        for nonce in nonces:  # the shared iterator hands each nonce to exactly one client
            await conn.post(nonce, latencies, failures)

    start = time.perf_counter()
    if burst:  # waves: every client sends one request at once, then all rest
        for first in range(0, total, clients):
            wave = conns[: min(clients, total - first)]
            await asyncio.gather(*(c.post(next(nonces), latencies, failures) for c in wave))
            await asyncio.sleep(BURST_PAUSE)
            resting += BURST_PAUSE
    else:  # closed loop: each client sends its next request as soon as one is answered
        await asyncio.gather(*(closed_loop(c) for c in conns))
    wall = time.perf_counter() - start - resting
    for c in conns:
        c.writer.close()
    return latencies, failures, wall


def _percentile(sorted_values: list[float], q: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(q * len(sorted_values)) - 1))
    return sorted_values[index]


def _wait_healthy(port: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the receiver exited with status {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the receiver did not answer /health in time")


def _cpu_seconds(pid: int, thread: int | None = None) -> float:
    """User + system CPU time of a process, or of one of its threads, so far (Linux), robust to
    other load on the machine. The main thread (``thread=pid``) is the server's event loop."""
    stat = Path(f"/proc/{pid}/stat" if thread is None else f"/proc/{pid}/task/{thread}/stat")
    fields = stat.read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Run:
    """One load run against one server: latencies, rate and server CPU per request."""

    def __init__(self, lat: list[float], wall: float, cpu_ms: float, loop_ms: float) -> None:
        lat.sort()
        self.p50, self.p99 = _percentile(lat, 0.50) * 1000, _percentile(lat, 0.99) * 1000
        self.max, self.rate, self.cpu = lat[-1] * 1000, len(lat) / wall, cpu_ms / len(lat)
        self.loop = loop_ms / len(lat)  # of ``cpu``, the event loop's share (the rest: threads)


def _one_run(
    port: int, pid: int, template: bytes, args: argparse.Namespace, clients: int, tag: str
) -> _Run:
    cpu, loop = _cpu_seconds(pid), _cpu_seconds(pid, pid)
    lat, failures, wall = asyncio.run(
        _load(port, template, args.requests, clients, tag, args.mode == "waves")
    )
    if failures:
        raise SystemExit(f"{len(failures)} non-200 answers, first: {failures[0]}")
    return _Run(lat, wall, (_cpu_seconds(pid) - cpu) * 1000, (_cpu_seconds(pid, pid) - loop) * 1000)


def _start(data_dir: str, http: str) -> tuple[int, subprocess.Popen[bytes]]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--http", http, "--serve", str(port), data_dir]
    )
    _wait_healthy(port, proc)
    return port, proc


def _shape(name: str, clients: int, size: int, args: argparse.Namespace, data_dir: str) -> bool:
    """Real receiver and bare endpoint, alternately, ``args.runs`` times; print ratios."""
    template = _body_template(size)
    servers = {"receiver": _start(data_dir, args.http), "bare": _start("bare", args.http)}
    runs: dict[str, list[_Run]] = {"receiver": [], "bare": []}
    try:
        for which, (port, _) in servers.items():  # warm both
            asyncio.run(_load(port, template, clients, clients, f"w{which[0]}{name[:3]}-", False))
        for run in range(args.runs):
            for which, (port, proc) in servers.items():
                r = _one_run(port, proc.pid, template, args, clients, f"{name[:3]}{run}-")
                runs[which].append(r)
                print(
                    f"  {name} {which:8} run {run + 1}: p50 {r.p50:6.1f} ms  p99 {r.p99:6.1f} ms"
                    f"  max {r.max:6.1f} ms  {r.rate:4.0f} req/s  server CPU {r.cpu:5.2f} ms/req"
                    f" (loop {r.loop:5.2f})"
                    f"  load {' '.join(Path('/proc/loadavg').read_text().split()[:3])}"
                )
    finally:
        for _, proc in servers.values():
            proc.terminate()
            proc.wait(10)
    med = {
        w: (
            statistics.median(r.p99 for r in rs),
            statistics.median(r.cpu for r in rs),
            statistics.median(r.p50 for r in rs),
            statistics.median(r.loop for r in rs),
        )
        for w, rs in runs.items()
    }
    p99_ratio = med["receiver"][0] / med["bare"][0]
    cpu_ratio = med["receiver"][1] / med["bare"][1]
    met = p99_ratio <= TARGET_RATIO and cpu_ratio <= TARGET_RATIO
    print(
        f"{name}: {clients} clients ({args.mode}), {len(template)} byte bodies, "
        f"{args.requests} requests x {args.runs} runs (medians): receiver p50 "
        f"{med['receiver'][2]:.1f} ms p99 {med['receiver'][0]:.1f} ms CPU "
        f"{med['receiver'][1]:.2f} ms/req (event loop {med['receiver'][3]:.2f}); bare p50 "
        f"{med['bare'][2]:.1f} ms p99 "
        f"{med['bare'][0]:.1f} ms CPU {med['bare'][1]:.2f} ms/req; ratio p99 {p99_ratio:.2f}, "
        f"CPU {cpu_ratio:.2f} (goal <= {TARGET_RATIO}: {'met' if met else 'MISSED'})"
    )
    return met


SHAPES = {"1mb": ("20x1MB", 20, 1024 * 1024), "evaluator": ("10x4KB", 10, 4 * 1024)}


def main(argv: list[str] | None = None) -> int:
    """Load the receiver and the bare endpoint in each shape; exit 1 when a ratio misses."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=400, help="requests per run")
    parser.add_argument("--runs", type=int, default=3, help="runs per server; medians reported")
    parser.add_argument("--shape", default="both", choices=["both", *SHAPES])
    parser.add_argument(
        "--mode",
        default="closed",
        choices=["closed", "waves"],
        help="closed: each client sends on as soon as answered; waves: all at "
        f"once, then {BURST_PAUSE} s rest",
    )
    parser.add_argument("--http", default="auto", choices=["auto", "h11", "httptools"])
    parser.add_argument("--serve", nargs=2, metavar=("PORT", "DATA_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        _serve(int(args.serve[0]), args.serve[1], args.http)
        return 0

    print(f"load average at start: {Path('/proc/loadavg').read_text().strip()}")
    met = True
    for key in SHAPES if args.shape == "both" else [args.shape]:
        with tempfile.TemporaryDirectory(prefix="llm-deploy-bench-") as data_dir:
            met &= _shape(*SHAPES[key], args, data_dir)
    print(
        f"durability: every request of the receiver is in its body log, fdatasync'd, before its "
        f"200, then its row committed with synchronous=FULL; the bare endpoint stores nothing; "
        f"{os.cpu_count()} cores shared by this client and both servers; uvicorn "
        f"http={args.http}; the receiver's worker queues but never works (see the docstring)"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
