"""Print the verification time per corpus task (median of 3 runs); target ≤ 10 s per round.

Run from the repository root: `python bench/verify_time.py [--chromium PATH] [--runs N]`.
Each row covers one verify() call on the hand-written correct app, as one repair round would,
with Chromium launched once up front (its start-up time is printed separately).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from action.browser import Browser, find_chromium
from action.verify import verify
from tests.apps.build import build_app, task_stems

TARGET_S = 10.0


def main(argv: list[str] | None = None) -> int:
    """Time verify() per task and print a table; non-zero exit when a task misses the target."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chromium", default=None, help="browser executable (default: PATH)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    executable = args.chromium or find_chromium()
    if executable is None:
        print("no chromium/google-chrome on PATH; install Debian's chromium", file=sys.stderr)
        return 2
    started = time.monotonic()
    with Browser(executable) as browser, tempfile.TemporaryDirectory() as tmp:
        print(f"browser launch: {time.monotonic() - started:.2f} s ({executable})")
        print(f"{'task':34} {'js':>3} {'median s':>9} {'max s':>7} {'wrong s':>8}  result")
        slow = 0
        for stem in task_stems():
            times = []
            for run in range(args.runs):
                root = Path(tmp) / f"{stem}-{run}"
                job = build_app(stem, root)
                job_started = time.monotonic()
                report = verify(root, job, browser=browser)
                times.append(time.monotonic() - job_started)
            # A failing app waits out the settle deadline: the cost of a round that needs repair.
            wrong_root = Path(tmp) / f"{stem}-wrong"
            wrong_job = build_app(stem, wrong_root, wrong=True)
            wrong_started = time.monotonic()
            verify(wrong_root, wrong_job, browser=browser)
            wrong_s = time.monotonic() - wrong_started
            median = statistics.median(times)
            slow += max(median, wrong_s) > TARGET_S
            verdict = "pass" if report.passed else "FAIL"
            print(
                f"{stem:34} {len(report.js):>3} {median:>9.2f} {max(times):>7.2f}"
                f" {wrong_s:>8.2f}  {verdict}"
            )
    print(f"target ≤ {TARGET_S:.0f} s per round: {'met' if not slow else f'{slow} task(s) over'}")
    return 1 if slow else 0


if __name__ == "__main__":
    raise SystemExit(main())
