"""``python -m action verify``: run the JavaScript checks against a deployed page.

Decision: in ``action.yml`` this step runs AFTER notify (``if: inputs.deploy == 'true' &&
inputs.verify == 'true'``), so it can never delay the notification, and its results are
informational: it always exits 0 in the Action (``--strict`` makes failures exit 1 for a person
who wants that). It is bounded by its own timeouts (page load 20 s, settle 5 s, 4 s per check),
adds a table to the step summary and a ``live_checks`` entry to ``report.json``, and saves
``screenshot-live.png`` next to it. The same command works in local mode against any URL:

    python -m action verify --url http://127.0.0.1:8000/pages/my-repo/ --request task.json
    python -m action verify --url https://o.github.io/r/ --check "js: document.title === 'x'"
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from action import gitops, report
from action.check_report import LiveChecks, check_rows
from action.errors import ActionError
from action.job import Job
from action.job_source import read_job
from action.run_report import RunReport
from action.settings import ActionSettings, page_url

SETTLE_MS = 5000


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m action verify", description=__doc__.split("\n")[0])
    p.add_argument("--url", help="page to check (default: the deployed page of this run)")
    p.add_argument("--check", action="append", default=[], help="a check; repeat for more")
    p.add_argument("--request", help="a request JSON file whose checks to run")
    p.add_argument("--chromium", help="browser executable (default: chromium/chrome on PATH)")
    p.add_argument("--settle-ms", type=int, default=SETTLE_MS, help="how long falsy checks poll")
    p.add_argument("--strict", action="store_true", help="exit 1 when a check fails")
    return p


def _job(args: argparse.Namespace, settings: ActionSettings) -> Job:
    checks: list[str | dict[str, str]] = list(args.check)
    if args.request:
        checks += json.loads(Path(args.request).read_text("utf-8")).get("checks", [])
    if checks:
        return Job(task="live", round=1, brief="", checks=checks)
    # The run's own request: the payload (perhaps on a side branch) or the plain inputs.
    token = settings.push_token or settings.github_token or None
    root = Path(settings.workspace)
    return read_job(
        settings, lambda spec: gitops.read_side_file(root, spec, token, settings.server_url)
    )


def live_fields(url: str, result: Any) -> LiveChecks:
    """The report's ``live_checks`` part from a VerifyReport of a live page."""
    return LiveChecks(
        url=url,
        verdict="fail" if result.failed_checks else ("incomplete" if result.skipped else "pass"),
        checks=[r for r in check_rows(result.to_dict()) if r.kind == "js"],
        skipped=result.skipped,
        console_errors=list(result.browser.console_errors) if result.browser else [],
        elapsed_s=result.elapsed_s,
    )


def _merge_report(runner_temp: str, live: LiveChecks, task: str, round_: int) -> None:
    """Add the live checks to the generate step's saved report (or start one)."""
    folder = report.artifact_dir(runner_temp)
    if folder is None:
        return
    path = folder / report.REPORT_NAME
    if path.is_file():
        saved = RunReport.from_json(json.loads(path.read_text("utf-8")))
    else:
        saved = RunReport(task=task, round=round_)
    saved.live_checks = live
    report.save_report(saved.to_json(), runner_temp)


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Entry point of ``python -m action verify``."""
    args = _parser().parse_args(argv or [])
    try:
        settings = ActionSettings.from_environ(environ)
        job = _job(args, settings)
    except (ActionError, OSError, ValueError) as exc:
        print(f"::error::{exc}")
        return 1
    secrets = settings.secrets() + [v for v in (job.email, job.evaluation_url, job.brief) if v]
    for value in secrets:
        report.mask(value)
    url = args.url or settings.pages_url or settings.deployed_page_url
    url = url or settings.generated_page_url or page_url(settings)
    if not url:
        print("::error::No page URL: pass --url, or run after the deploy step.")
        return 1
    from action.checks import js_sources, normalise
    from action.verify import verify_url  # the browser stack loads only when checks run

    if not js_sources(normalise(job.checks)):
        print("No JavaScript checks to run on the deployed page.")
        return 0

    folder = report.artifact_dir(settings.runner_temp)
    shot = folder / "screenshot-live.png" if folder else None
    try:
        result = verify_url(
            url, job, chromium=args.chromium, screenshot=shot, settle_ms=args.settle_ms
        )
    except Exception as exc:  # informational: a broken browser must not fail the run
        print(f"::warning::Could not check the deployed page: {report.redact(str(exc), secrets)}")
        return 1 if args.strict else 0
    hidden = [s for s in secrets if len(s) >= 4]
    hidden += [json.dumps(s)[1:-1] for s in hidden]
    fields = json.loads(report.redact(json.dumps(live_fields(url, result).to_json()), hidden))
    live = LiveChecks.from_json(fields)
    _merge_report(settings.runner_temp, live, job.task, job.round)
    text = "\n".join(report.live_markdown(live)) + "\n"
    if settings.summary_path:
        report.append_summary(settings.summary_path, text)
    print(text)
    for row in live.checks:
        if row.result in ("fail", "error"):
            what = f"{row.check} ({row.result}: {row.detail})"
            print(f"::warning::A check fails on the deployed page: {what}")
    if live.skipped:
        print(f"::warning::Checks on the deployed page were skipped: {live.skipped}")
    return 1 if args.strict and live.verdict == "fail" else 0
