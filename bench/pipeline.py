"""Median time from POST to notification, round 1 and round 2, in local mode with an instant model.

    python bench/pipeline.py [--runs 5] [--stem sum-of-sales-601]

One receiver (local forge and runner, Action venv pre-built in the shared tool cache) on
127.0.0.1, a fake model answering instantly with the hand-written corpus app, a fake evaluator.
After one warm-up pair, each run POSTs round 1 (a new nonce, so a new repo) and then round 2,
timing each from POST to the notification's arrival; it then prints the medians and the share of
each step: the worker (POST until the run starts), the runner's steps, and the Action's phases
from its report.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from receiver.app import create_app
from receiver.config import Settings
from tests.e2e_support import (
    corpus_answer,
    free_socket,
    link_tool_cache,
    load_request,
    prebuild_action_venv,
    serve,
    wait_for,
)
from tests.fakes.evaluator import FakeEvaluator
from tests.fakes.llm import FakeLLM

TARGET = 3.0
AFTER = "after: "  # marks steps that run after the notification, outside the total


def _one(
    http: httpx.Client,
    base: str,
    ev: FakeEvaluator,
    data: Path,
    request: dict[str, Any],
    secret: str,
) -> dict[str, float]:
    """POST one request; its total seconds and the seconds of each step."""
    nonce = uuid.uuid4().hex
    body = {**request, "nonce": nonce, "secret": secret, "evaluation_url": ev.url}
    started = time.time()
    assert http.post(f"{base}/api-deploy", json=body).status_code == 200
    wait_for(
        lambda: any(b.get("nonce") == nonce for b in list(ev.bodies)),
        120,
        "the notification",
        every=0.01,
    )
    total = time.time() - started
    rounds = http.get(
        f"{base}/api-deploy/{request['task']}", headers={"authorization": f"Bearer {secret}"}
    ).json()["rounds"]
    entry = next(r for r in rounds if r["nonce"] == nonce)
    run_id = entry["run_url"].rsplit("/", 1)[1]
    # The run goes on after notifying (it checks the deployed page); wait for its record.
    record: dict[str, Any] = wait_for(lambda: _finished(data, run_id), 120, "the run's end")
    parts = {"total": total, "worker (POST → run start)": record["started_at"] - started}
    after = False  # steps after the notify step run once the evaluator has its answer
    for step in record["steps"]:
        name = step["name"]
        if "/" in name and "@" in name and not name.startswith("actions/"):
            continue  # the composite Action itself: its own steps are listed one by one
        parts[f"{AFTER if after else ''}runner: {name}"] = step["elapsed"]
        after = after or "notify" in name
    report = json.loads(record.get("outputs", {}).get("report") or "{}")
    for phase, seconds in (report.get("timings") or {}).items():
        parts[f"  action phase: {phase}"] = seconds
    return parts


def _finished(data: Path, run_id: str) -> dict[str, Any] | None:
    try:
        record: dict[str, Any] = json.loads((data / "runs" / f"{run_id}.json").read_text())
    except (OSError, ValueError):
        return None
    return record if record.get("state") in ("success", "failure") else None


def _print(label: str, samples: list[dict[str, float]]) -> None:
    median = statistics.median(s["total"] for s in samples)
    verdict = "meets" if median <= TARGET else "misses"
    print(
        f"\n{label}: median {median:.2f} s over {len(samples)} runs "
        f"({verdict} the {TARGET:.0f} s target); min {min(s['total'] for s in samples):.2f} s"
    )
    sums: dict[str, list[float]] = defaultdict(list)
    for s in samples:
        for key, value in s.items():
            sums[key].append(value)
    for key, values in sums.items():
        if key == "total" or key.startswith(AFTER):
            continue
        m = statistics.median(values)
        print(f"  {key[:60]:<60} {m:6.2f} s  {100 * m / median:5.1f} %")
    print("  after the notification (not in the total):")
    for key, values in sums.items():
        if key.startswith(AFTER):
            print(f"  {key[len(AFTER) :][:60]:<60} {statistics.median(values):6.2f} s")


def main(argv: list[str] | None = None) -> int:
    """Run the bench and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--stem", default="sum-of-sales-601")
    args = parser.parse_args(argv)
    first, second = load_request(f"{args.stem}-r1"), load_request(f"{args.stem}-r2a")
    prebuild_action_venv()
    secret = uuid.uuid4().hex
    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeLLM(default=corpus_answer) as llm,
        FakeEvaluator() as ev,
        httpx.Client(timeout=30) as http,
    ):
        data = Path(tmp) / "data"
        link_tool_cache(data)
        sock = free_socket()
        settings = Settings.from_environ(
            {
                "DEPLOY_SECRET": secret,
                "LLM_API_KEY": llm.api_key,
                "LLM_BASE_URL": llm.base_url,
                "LLM_DEPLOY_DATA": str(data),
                "PORT": str(sock.getsockname()[1]),
            }
        )
        with serve(create_app(settings), sock) as base:
            _one(http, base, ev, data, first, secret)  # warm-up: caches, Chromium, imports
            _one(http, base, ev, data, second, secret)
            r1, r2 = [], []
            for _ in range(args.runs):
                r1.append(_one(http, base, ev, data, first, secret))
                r2.append(_one(http, base, ev, data, second, secret))
    _print("round 1", r1)
    _print("round 2", r2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
