"""Print the POST /api-deploy → 200 latency with 20 concurrent clients sending 1 MB requests.

Target: p99 ≤ 50 ms on a 2-core machine, the durable (fsync'd) journal write included.

The receiver runs in a subprocess under uvicorn, built by ``create_app`` exactly as ``llm-deploy
serve`` builds it, in local mode, with one change: its worker accepts every submitted id (the real
``Worker.submit`` runs, so its cost stays inside the measurement) but never processes it. The
bench is about the door; a working forge would steal the CPU the door is measured on, and the
requests it leaves queued are simply resumed by a real receiver started on the same journal.

The client is one process running asyncio with raw keep-alive HTTP/1.1 connections: a pure-Python
client library would cost as much CPU per 1 MB request as the server does, and the two share the
machine's cores. Every request is valid (1 MB body, a data-URI attachment, a unique nonce).
Run from the repo root: ``python bench/receiver_latency.py [--requests 400] [--runs 3]``.
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SECRET = "bench-secret"
TARGET_P99_MS = 50.0
NONCE_MARK = b"NONCE-0000000000"
BURST_PAUSE = 0.3  # seconds between waves, so one wave's fsyncs and checkpoint settle


def _serve(port: int, data_dir: str, http: str) -> None:
    """The server side: the real app, a worker that never works, uvicorn on 127.0.0.1."""
    import uvicorn

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
        "email": "bench@example.com", "secret": SECRET, "task": "bench-latency", "round": 1,
        "nonce": NONCE_MARK.decode(), "brief": "Publish a page that shows the attached data.",
        "checks": ["Page has a title"], "evaluation_url": "http://127.0.0.1:9/notify",
        "attachments": [{"name": "data.bin", "url": uri}],
    }
    return json.dumps(doc).encode("utf-8")


class _Connection:
    """One keep-alive HTTP/1.1 connection posting the body template with a given nonce."""

    def __init__(self, port: int, template: bytes) -> None:
        self.port, self.template = port, template
        self.head = (f"POST /api-deploy HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                     f"Content-Type: application/json\r\n"
                     f"Content-Length: {len(template)}\r\n\r\n").encode()

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


async def _load(port: int, template: bytes, total: int, clients: int, run_tag: str,
                burst: bool) -> tuple[list[float], list[str], float]:
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


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux), robust to other load on the machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _measure(port: int, pid: int, template: bytes, args: argparse.Namespace,
             burst: bool) -> bool:
    """Run one mode ``args.runs`` times; print each run and the medians; True when p99 is met."""
    mode = "waves" if burst else "closed"
    p50s, p99s, maxes, rates, cpus = [], [], [], [], []
    for run in range(args.runs):
        cpu = _cpu_seconds(pid)
        lat, failures, wall = asyncio.run(
            _load(port, template, args.requests, args.clients, f"{mode[0]}{run}-", burst))
        if failures:
            print(f"{mode} run {run + 1}: {len(failures)} non-200 answers, first: {failures[0]}")
            return False
        lat.sort()
        p50s.append(_percentile(lat, 0.50) * 1000)
        p99s.append(_percentile(lat, 0.99) * 1000)
        maxes.append(lat[-1] * 1000)
        rates.append(len(lat) / wall)
        cpus.append((_cpu_seconds(pid) - cpu) * 1000 / len(lat))
        print(f"  {mode} run {run + 1}: p50 {p50s[-1]:.1f} ms  p99 {p99s[-1]:.1f} ms  "
              f"max {maxes[-1]:.1f} ms  {rates[-1]:.0f} req/s  "
              f"server CPU {cpus[-1]:.1f} ms/request  load {os.getloadavg()[0]:.1f}")
    p99 = statistics.median(p99s)
    met = p99 <= TARGET_P99_MS
    what = (f"waves of {args.clients} simultaneous requests {BURST_PAUSE} s apart" if burst
            else f"{args.clients} clients back to back")
    print(f"{mode}: POST /api-deploy -> 200, {what}, {len(template)} byte bodies, "
          f"{args.requests} requests x {args.runs} runs (medians): "
          f"p50 {statistics.median(p50s):.1f} ms, p99 {p99:.1f} ms, "
          f"max {statistics.median(maxes):.1f} ms, {statistics.median(rates):.0f} req/s, "
          f"server CPU {statistics.median(cpus):.1f} ms/request "
          f"(target p99 <= {TARGET_P99_MS:.0f} ms: {'met' if met else 'MISSED'})")
    return met


def main(argv: list[str] | None = None) -> int:
    """Start the receiver, load it, print p50/p99/max and req/s; exit 1 when p99 misses."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=400, help="requests per run")
    parser.add_argument("--clients", type=int, default=20, help="concurrent connections")
    parser.add_argument("--size", type=int, default=1024 * 1024, help="body size in bytes")
    parser.add_argument("--runs", type=int, default=3, help="runs per mode; medians are reported")
    parser.add_argument("--mode", default="both", choices=["both", "closed", "waves"])
    parser.add_argument("--http", default="auto", choices=["auto", "h11", "httptools"])
    parser.add_argument("--serve", nargs=2, metavar=("PORT", "DATA_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        _serve(int(args.serve[0]), args.serve[1], args.http)
        return 0

    template = _body_template(args.size)
    port = _free_port()
    met = True
    with tempfile.TemporaryDirectory(prefix="llm-deploy-bench-") as data_dir:
        proc = subprocess.Popen([sys.executable, __file__, "--http", args.http,
                                 "--serve", str(port), data_dir])
        try:
            _wait_healthy(port, proc)
            asyncio.run(_load(port, template, args.clients, args.clients, "warm-", False))
            for burst in {"both": (True, False), "waves": (True,), "closed": (False,)}[args.mode]:
                met &= _measure(port, proc.pid, template, args, burst)
        finally:
            proc.terminate()
            proc.wait(10)
    print(f"durability: SQLite WAL, synchronous=FULL, every request committed (fsync'd) before "
          f"its 200; {os.cpu_count()} cores shared by this client and the server; "
          f"uvicorn http={args.http}; the worker queues but never works (see the docstring)")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
