"""Print where the door's server CPU goes at the evaluator's shape, part by part, against the bare
endpoint of ``bench/receiver_latency.py``.

Nine servers run side by side and are loaded in turn, round after round (10 keep-alive clients,
3 KB bodies, the same client as ``receiver_latency``), so a change in the machine's load moves
them all alike. Each is the real receiver (built by ``create_app`` in local mode, its worker
queuing but never working) with one more part of the request path taken away:

- ``receiver``: everything, as ``receiver_latency`` measures it;
- ``no worker``: the journal hands no request to the worker;
- ``rows unsynced``: the rows committed with ``synchronous=NORMAL`` (the body log still synced):
  the floor of any design that fsyncs once per batch;
- ``no body log``: the body log's write and fdatasync skipped (rows still committed, synced);
- ``nothing synced``: both of the above: the rows committed unsynced, no body log;
- ``no SQLite``: the rows' lookup and commit skipped (the body log still written and synced);
- ``no writes``: the writer thread answers each batch at once, writing nothing and handing
  nothing to the worker (the hand-off to the thread and back is kept);
- ``no journal``: the door answers as soon as the request is validated (no thread, no write).

None of these is a way to run the receiver: each loses durability or work on purpose. The parts
are replaced in the server's process by the subclasses below (a bench, not a test). Figures are
medians over rounds; the ratio is each round's CPU per request over the bare endpoint's in the
same round. Run from the repo root: ``python bench/door_breakdown.py [--rounds 12]``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import receiver_latency as latency

VARIANTS = [
    "receiver",
    "no worker",
    "rows unsynced",
    "no body log",
    "nothing synced",
    "no SQLite",
    "no writes",
    "no journal",
]
NO_LOG, UNSYNCED = {"no body log", "nothing synced"}, {"rows unsynced", "nothing synced"}
CLIENTS, SIZE = 10, 4 * 1024


def _serve(port: int, data_dir: str, variant: str) -> None:
    """One server: the bare endpoint, or the receiver without the parts ``variant`` names."""
    import uvicorn

    import receiver.journal as journal_module
    from receiver.app import create_app
    from receiver.config import Settings
    from receiver.journal import Journal
    from receiver.request import DeployRequest
    from receiver.worker import Worker

    if variant == "bare":
        uvicorn.run(latency._bare_app(), host="127.0.0.1", port=port, log_level="warning")
        return
    ids = itertools.count(1)

    class Stripped(Journal):
        def __init__(self, path: Path) -> None:
            super().__init__(path)
            if variant in UNSYNCED:
                self._db.execute("PRAGMA synchronous=NORMAL")

        def _append(self, pieces: list[str]) -> int:
            return super()._append(pieces) if variant not in NO_LOG else self._end

        def _ids(self, keys: list[tuple[str, int, str]]) -> dict[tuple[str, int, str], int]:
            return super()._ids(keys) if variant != "no SQLite" else {}

        def _insert(self, rows: list[Any]) -> dict[tuple[Any, ...], int]:
            if variant != "no SQLite":
                return super()._insert(rows)
            return {tuple(rows[i : i + 3]): next(ids) for i in range(0, len(rows), 5)}

        def _write_batch(self, items: list[DeployRequest]) -> list[tuple[int, bool]]:
            if variant == "no writes":
                return [(next(ids), True) for _ in items]
            return super()._write_batch(items)

        async def record_async(self, req: DeployRequest) -> tuple[int, bool]:
            return (next(ids), True) if variant == "no journal" else await super().record_async(req)

    class DoorOnlyWorker(Worker):
        def process(self, request_id: int) -> None:
            return None

    if variant in NO_LOG:  # the log's fdatasync too: the journal module's ``os`` only

        class _NoSync:
            def __getattr__(self, name: str) -> Any:
                return getattr(os, name)

            def fdatasync(self, fd: int) -> None:
                return None

        journal_module.os = _NoSync()  # type: ignore[assignment]
    settings = Settings.from_environ(
        {"DEPLOY_SECRET": latency.SECRET, "LLM_DEPLOY_DATA": data_dir, "PORT": str(port)}
    )
    journal = Stripped(Path(data_dir) / "journal.sqlite3")
    worker = DoorOnlyWorker(settings, journal, forge=None)  # type: ignore[arg-type]
    app = create_app(settings, journal=journal, worker=worker)
    if variant == "no worker":
        worker.start = lambda: None  # type: ignore[method-assign]  # never listens to the journal
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def _start(variant: str, data_dir: str) -> tuple[int, subprocess.Popen[bytes]]:
    port = latency._free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(port), data_dir, variant])
    latency._wait_healthy(port, proc)
    return port, proc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=12, help="rounds over all servers")
    parser.add_argument("--requests", type=int, default=1000, help="requests per server a round")
    parser.add_argument("--serve", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        _serve(int(args.serve[0]), args.serve[1], args.serve[2])
        return 0

    print(f"load average at start: {Path('/proc/loadavg').read_text().strip()}")
    template = latency._body_template(SIZE)
    with tempfile.TemporaryDirectory(prefix="llm-deploy-bench-") as root:
        servers = {"bare": _start("bare", "bare")}
        for i, variant in enumerate(VARIANTS):
            servers[variant] = _start(variant, str(Path(root) / str(i)))
        cpu: dict[str, list[float]] = {name: [] for name in servers}
        p99: dict[str, list[float]] = {name: [] for name in servers}
        try:
            for port, _ in servers.values():  # warm every server
                asyncio.run(latency._load(port, template, 50, CLIENTS, "warm-", False))
            for r in range(args.rounds):
                for name, (port, proc) in servers.items():
                    before = latency._cpu_seconds(proc.pid)
                    lat, failures, _ = asyncio.run(
                        latency._load(port, template, args.requests, CLIENTS, f"r{r}-", False)
                    )
                    if failures:
                        raise SystemExit(f"{name}: {len(failures)} non-200, first {failures[0]}")
                    cpu[name].append((latency._cpu_seconds(proc.pid) - before) * 1000 / len(lat))
                    p99[name].append(latency._percentile(sorted(lat), 0.99) * 1000)
        finally:
            for _, proc in servers.values():
                proc.terminate()
                proc.wait(10)
    print(
        f"{CLIENTS} clients (closed loop), {len(template)} byte bodies, {args.requests} requests "
        f"per server per round, {args.rounds} rounds (medians); "
        f"load {' '.join(Path('/proc/loadavg').read_text().split()[:3])}"
    )
    for name in servers:
        ratio = statistics.median(c / b for c, b in zip(cpu[name], cpu["bare"], strict=True))
        p99_ratio = statistics.median(p / b for p, b in zip(p99[name], p99["bare"], strict=True))
        print(
            f"  {name:14} CPU {statistics.median(cpu[name]):.3f} ms/req  ratio {ratio:.2f}"
            f"   p99 {statistics.median(p99[name]):5.1f} ms  ratio {p99_ratio:.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
