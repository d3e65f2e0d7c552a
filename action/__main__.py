"""``python -m action generate|notify|verify``: the steps ``action.yml`` runs; nothing at import."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import httpx

from action import generate, gitops, live_checks, notify, pages_api, report
from action.errors import ActionError, NotifyError
from action.job_source import read_job
from action.run_report import NotifyReport, RunReport
from action.settings import ActionSettings, page_url

# Leave the evaluator a margin: the page wait stops this long before the notify deadline.
PAGE_WAIT_MARGIN = 30.0
MIN_PAGE_WAIT = 60.0


def notify_step(
    settings: ActionSettings,
    *,
    http: httpx.Client,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    secrets: list[str] | None = None,
    result: NotifyReport | None = None,
) -> NotifyReport:
    """Decrypt the request again, wait until Pages serves the commit, then notify.

    ``result`` is filled in as the step goes, so a caller still has it when the step raises.
    """
    result = result if result is not None else NotifyReport()
    root = Path(settings.workspace)
    token = settings.push_token or settings.github_token or None
    job = read_job(
        settings, lambda spec: gitops.read_side_file(root, spec, token, settings.server_url), clock
    )
    found = [v for v in (job.email, job.evaluation_url, job.brief) if v]
    if secrets is not None:
        secrets += found
    for value in (job.email, job.evaluation_url):
        if value:
            report.mask(value)
    sha = settings.commit_sha or gitops.head(root)
    pages = settings.pages_url or settings.deployed_page_url or settings.generated_page_url
    pages = pages or page_url(settings)
    result.task, result.round, result.commit_sha, result.page_url = job.task, job.round, sha, pages
    deadline = job.received_at + notify.DEADLINE_SECONDS
    expected = gitops.read_committed(root, sha, "index.html")
    now = clock()
    until = min(
        now + notify.DEADLINE_SECONDS, max(now + MIN_PAGE_WAIT, deadline - PAGE_WAIT_MARGIN)
    )
    if settings.deploy and settings.site_by_action and pages and expected is not None:
        started = clock()
        served = notify.wait_for_page(http, pages, expected, until, sleep, clock=clock)
        result.page_served = served
        result.page_wait_s = round(clock() - started, 1)
    elif settings.deploy and not settings.site_by_action and settings.api_url:
        # The app's own workflow deploys the site, from a folder of its choosing: only the Pages
        # deployment of this commit can say when the site serves it.
        started = clock()
        status = pages_api.wait_for_deployment(
            http,
            settings.api_url,
            settings.repository,
            settings.github_token,
            sha,
            until,
            sleep=sleep,
            clock=clock,
        )
        result.page_served = status == pages_api.SUCCEEDED
        result.page_wait_s = round(clock() - started, 1)
        result.deployment = status
    if not job.evaluation_url:
        result.notified = "skipped: no evaluation_url"
        return result
    repo_url = settings.repo_url or (
        f"{settings.server_url.rstrip('/')}/{settings.repository}" if settings.repository else ""
    )
    body = notify.notification_body(
        email=job.email,
        task=job.task,
        round_=job.round,
        nonce=job.nonce,
        repo_url=repo_url,
        commit_sha=sha,
        pages_url=pages,
    )
    try:
        outcome = notify.notify(
            http, job.evaluation_url, body, deadline=deadline, clock=clock, sleep=sleep
        )
    except NotifyError as exc:
        last = f"HTTP {exc.status}" if exc.status else "no HTTP answer"
        result.notified = f"not accepted: last answer {last}"
        result.status = exc.status
        raise
    result.notified = f"HTTP {outcome.status} after {outcome.attempts} attempt(s)"
    result.status, result.accepted_at = outcome.status, round(clock(), 3)
    result.notify_delays = outcome.delays
    return result


def notify_summary(result: NotifyReport) -> str:
    """Markdown lines for the notify step."""
    lines = ["### Notification", ""]
    if result.page_served is not None:
        state = "yes" if result.page_served else "not confirmed before the deadline"
        if result.deployment and not result.page_served:
            state = f"no, the Pages deployment of the app's workflow ended {result.deployment!r}"
        lines.append(
            f"- Page serves commit `{result.commit_sha}`: {state} ({result.page_wait_s} s)"
        )
    if result.page_url:
        lines.append(f"- Page: [{result.page_url}]({result.page_url})")
    lines.append(f"- Evaluator: {result.notified or 'not notified'}")
    if result.error:
        lines.append(f"- Error: {result.error}")
    return "\n".join(lines) + "\n"


def _merge_report(runner_temp: str, result: NotifyReport, secrets: list[str]) -> None:
    """Add the notify step's account to the generate step's saved report (or start one)."""
    folder = report.artifact_dir(runner_temp)
    if folder is None:
        return
    path = folder / report.REPORT_NAME
    try:
        saved = RunReport.from_json(json.loads(path.read_text("utf-8")))
    except (OSError, ValueError):
        saved = RunReport(task=result.task, round=result.round)
    saved.notify = NotifyReport.from_json(
        json.loads(report.redact(json.dumps(result.to_json()), [s for s in secrets if len(s) >= 4]))
    )
    report.save_report(saved.to_json(), runner_temp)


def notify_main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Entry point of ``python -m action notify``."""
    del argv
    try:
        settings = ActionSettings.from_environ(environ)
    except ActionError as exc:
        print(f"::error::{exc}")
        return 1
    secrets = settings.secrets()
    for secret in secrets:
        report.mask(secret)
    code = 0
    result = NotifyReport()
    with httpx.Client(timeout=httpx.Timeout(30.0, connect=10.0)) as http:
        try:
            notify_step(settings, http=http, secrets=secrets, result=result)
        except ActionError as exc:
            result.error = str(exc)
            print(f"::error::{report.redact(str(exc), secrets)}")
            code = 1
    text = report.redact(notify_summary(result), [s for s in secrets if len(s) >= 4])
    _merge_report(settings.runner_temp, result, secrets)
    if settings.summary_path:
        report.append_summary(settings.summary_path, text)
    if settings.output_path:
        report.write_outputs(settings.output_path, {"notified": result.notified})
    print(text)
    return code


STEPS: dict[str, Callable[[list[str]], int]] = {
    "generate": generate.main,
    "notify": notify_main,
    "verify": live_checks.main,
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m action",
        description="Run one step of action.yml; its settings come from the step's environment.",
    )
    parser.add_argument("step", choices=list(STEPS), help="the step to run")
    parser.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one step by name; ``--help`` prints usage and returns 0, a bad step returns 2."""
    try:
        parsed = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:  # argparse printed the help (0) or the usage error (2)
        return exc.code if isinstance(exc.code, int) else 2
    return STEPS[parsed.step](parsed.args)


if __name__ == "__main__":
    sys.exit(main())
