"""Load: N requests from C concurrent clients against the receiver (subprocess, real uvicorn) in
GitHub mode, with a slow fake GitHub behind it.

Checks that every request is answered 200, journaled once and dispatched exactly once, and samples
the receiver's RSS over time (start / peak / end). Run from the project root:

    python bench/load.py [--requests 200] [--clients 20] [--delay 0.05] [--record]

``--record`` adds the figures as a row of docs/reliability.md.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes.github import FakeGitHub  # noqa: E402
from tests.test_faults_receiver import TOKEN, Receiver, body  # noqa: E402


def rss_mb(pid: int) -> float:
    """Resident set size of a process in MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main(argv: list[str] | None = None) -> int:
    """Run the load test, print the figures; 0 when every request ended exactly once."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--delay", type=float, default=0.05, help="seconds per GitHub answer")
    parser.add_argument("--record", action="store_true", help="add a row to docs/reliability.md")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="llm-deploy-load-"))
    data = work / "data"
    with FakeGitHub(token=TOKEN, registration_lag=1) as fake:
        fake.delay = args.delay
        receiver = Receiver(data, fake, work / "receiver.log")
        samples: list[tuple[float, float]] = []
        stop = threading.Event()

        def sample() -> None:
            t0 = time.monotonic()
            while not stop.is_set():
                samples.append((time.monotonic() - t0, rss_mb(receiver.proc.pid)))
                stop.wait(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        latencies: list[float] = []
        statuses: list[int] = []
        lock = threading.Lock()

        def client(c: int) -> None:
            with httpx.Client(base_url=receiver.url, timeout=30) as http:
                for i in range(c, args.requests, args.clients):
                    t = time.perf_counter()
                    answer = http.post("/api-deploy", json=body(f"load-{i:04d}", nonce=f"n{i}"))
                    with lock:
                        latencies.append(time.perf_counter() - t)
                        statuses.append(answer.status_code)

        start = time.monotonic()
        try:
            with ThreadPoolExecutor(args.clients) as pool:
                list(pool.map(client, range(args.clients)))
            answered = time.monotonic() - start
            deadline = time.monotonic() + 600
            while len(fake.dispatches) < args.requests and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(1.0)  # a late duplicate would show up here
            finished = time.monotonic() - start
        finally:
            stop.set()
            sampler.join()
            receiver.stop()
        db = sqlite3.connect(data / "journal.sqlite3")
        rows = db.execute("SELECT state, COUNT(*) FROM requests GROUP BY state").fetchall()
        db.close()
        ids = [d.inputs.get("dispatch-id") for d in fake.dispatches]
        github_calls = len(fake.requests)
    journal = dict(rows)
    rss = [r for _, r in samples]
    dispatched = len(fake.dispatches)
    duplicated = len(ids) - len(set(ids))
    lost = args.requests - len(set(ids))
    ok = (
        statuses.count(200) == args.requests
        and journal.get("dispatched") == args.requests
        and duplicated == 0
        and lost == 0
    )
    lat = sorted(latencies)
    print(
        f"requests: {args.requests} from {args.clients} clients; fake GitHub "
        f"{args.delay * 1000:.0f} ms per answer, {github_calls} GitHub calls"
    )
    print(
        f"answered: {statuses.count(200)}×200 of {len(statuses)} in {answered:.1f} s; latency "
        f"p50 {statistics.median(lat) * 1000:.0f} ms, p95 {lat[int(len(lat) * 0.95)] * 1000:.0f}"
        f" ms, max {lat[-1] * 1000:.0f} ms"
    )
    print(f"journal: {journal}")
    print(
        f"dispatched: {dispatched} (distinct {len(set(ids))}), duplicated {duplicated}, "
        f"lost {lost}; all done in {finished:.1f} s"
    )
    print(
        f"receiver RSS MB: start {rss[0]:.1f}, peak {max(rss):.1f}, end {rss[-1]:.1f} "
        f"({len(rss)} samples)"
    )
    if args.record:
        from tests.reliability import Row, write

        write(
            [
                Row(
                    "Load",
                    f"{args.requests} requests from {args.clients} concurrent clients, "
                    f"fake GitHub {args.delay * 1000:.0f} ms per answer",
                    f"all answered 200 (p95 {lat[int(len(lat) * 0.95)] * 1000:.0f} ms), journaled "
                    f"and dispatched in {finished:.0f} s; RSS start {rss[0]:.0f} MB, peak "
                    f"{max(rss):.0f} MB, end {rss[-1]:.0f} MB",
                    args.requests,
                    dispatched,
                    lost=lost,
                    duplicated=duplicated,
                    test="bench/load.py",
                    outcome="passed" if ok else "failed",
                )
            ]
        )
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
