"""``llm-deploy doctor [--json] [--fix] [--round-trip [--keep]]``: the preflight before going live.

Prints the checklist (✓ passed, ✗ failed with one sentence on the fix, – not applicable) and,
with ``--round-trip``, the time of each phase of two real rounds; exits 1 on any ✗. The result is
also written to ``<data folder>/doctor-last.json`` for the dashboard.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

import httpx

from receiver.config import ConfigError, Settings
from receiver.doctor.action_ref import EnsureAction, publish_action, resolve_action
from receiver.doctor.checklist import run_checks
from receiver.doctor.github_checks import ACTION, ACTIONS, PAGES, SCOPES, TOKEN
from receiver.doctor.result import DoctorError, Report, fail, render, save_last
from receiver.doctor.trips import TripResult, github_trip, local_trip

# What ``--fix`` uses to put the Action in place. Only resolving is built in here; publishing the
# bundle into the user's account plugs in at this seam (receiver.github publishing).
FIX_ACTION: EnsureAction = publish_action
GITHUB_LINES = frozenset({TOKEN, SCOPES, ACTIONS, PAGES, ACTION})


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llm-deploy doctor", description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument(
        "--fix",
        action="store_true",
        help="publish and pin the Action in your account before checking it",
    )
    parser.add_argument(
        "--round-trip",
        action="store_true",
        help="run two rounds of a built-in task through real Actions and Pages "
        "(offline generator, no LLM spend) and time each phase",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the round trip's scratch repository"
    )
    parser.add_argument(
        "--notify-url",
        metavar="URL",
        help="a public URL forwarding to the local listener, to time the "
        "notification too (GitHub mode)",
    )
    parser.add_argument(
        "--listen-port",
        type=int,
        default=0,
        metavar="PORT",
        help="port of the local listener behind --notify-url",
    )
    return parser


def round_trip(settings: Settings, http: httpx.Client, args: argparse.Namespace) -> TripResult:
    if settings.github_token is None:
        return local_trip(settings, http, keep=args.keep)
    return github_trip(
        settings, http, keep=args.keep, notify_url=args.notify_url, listen_port=args.listen_port
    )


def doctor(settings: Settings, http: httpx.Client, args: argparse.Namespace) -> Report:
    """The checks, then the round trip when asked and nothing on GitHub's side failed."""
    report = run_checks(settings, http, ensure=FIX_ACTION if args.fix else resolve_action)
    if not args.round_trip:
        return report
    blocking = next((c for c in report.checks if c.name in GITHUB_LINES and c.failed), None)
    if blocking is not None:
        report.checks.append(
            fail("round trip", f"not started, because {blocking.name} failed", blocking.fix)
        )
        return report
    trip = round_trip(settings, http, args)
    report.rounds, report.kept = trip.rounds, trip.kept
    report.repo = f"{trip.repo} ({trip.note})" if trip.note else trip.repo
    return report


def main(argv: Sequence[str], *, http: httpx.Client | None = None) -> int:
    """Run the doctor; 0 when every check passed, 1 on any ✗, 2 on a settings problem."""
    args = _parser().parse_args(list(argv))
    try:
        settings = Settings.from_environ()
    except ConfigError as exc:
        print(f"llm-deploy doctor: {exc}", file=sys.stderr)
        return 2
    client = http or httpx.Client()
    try:
        report = doctor(settings, client, args)
    except DoctorError as exc:
        print(f"llm-deploy doctor: {exc}", file=sys.stderr)
        return 1
    finally:
        if http is None:
            client.close()
    report.finished_at = time.time()
    try:
        save_last(settings.data_dir, report)
    except OSError as exc:  # the checklist still counts; only the dashboard misses it
        print(
            f"llm-deploy doctor: could not save the result in {settings.data_dir}: {exc}",
            file=sys.stderr,
        )
    print(
        json.dumps(report.to_json(), indent=2, ensure_ascii=False) if args.json else render(report)
    )
    return 1 if report.failed else 0
