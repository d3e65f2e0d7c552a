"""What a run tells the world: step outputs, the step summary table, masks, the JSON report.

The report's data is ``action.run_report``; this module presents and writes it.

Nothing secret belongs in a report: it holds file names, counts, timings and check texts, never
the brief, the email, the evaluation URL or a token. ``redact`` is the last line of defence.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TextIO

from action.check_report import EarlierChecks, LiveChecks, Verification
from action.run_report import RunReport
from action.settings import ActionSettings

# The run artifact's folder under RUNNER_TEMP: report.json plus the screenshots of each round.
ARTIFACT_DIR = "llm-deploy"
REPORT_NAME = "report.json"


def write_outputs(path: str | Path, outputs: Mapping[str, str]) -> None:
    """Append outputs to ``$GITHUB_OUTPUT``, multi-line values in the ``name<<DELIM`` form."""
    lines: list[str] = []
    for name, value in outputs.items():
        if "\n" in value or "\r" in value:
            delim = f"ghadelimiter_{uuid.uuid4()}"
            lines += [f"{name}<<{delim}", value, delim]
        else:
            lines.append(f"{name}={value}")
    with open(path, "a", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")


def mask(value: str, stream: TextIO | None = None) -> None:
    """Ask the runner to hide a value in later log lines (each line of it, as GitHub masks)."""
    out = stream or sys.stdout
    for line in value.splitlines():
        if line.strip():
            out.write(f"::add-mask::{line.strip()}\n")
    out.flush()


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret (longest first, so overlapping ones vanish whole) with ``***``."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def artifact_dir(runner_temp: str | Path) -> Path | None:
    """Where the run artifact's files go (``<RUNNER_TEMP>/llm-deploy``); None without a temp."""
    return Path(runner_temp) / ARTIFACT_DIR if runner_temp else None


def save_report(report: Mapping[str, Any], runner_temp: str | Path) -> Path:
    """Write the report as ``<RUNNER_TEMP>/llm-deploy/report.json``, outside the repository."""
    path = Path(runner_temp) / ARTIFACT_DIR / REPORT_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, sort_keys=True), encoding="utf-8")
    return path


def append_summary(path: str | Path, markdown: str) -> None:
    """Append markdown to ``$GITHUB_STEP_SUMMARY``."""
    with open(path, "a", encoding="utf-8") as out:
        out.write(markdown.rstrip("\n") + "\n")


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(rows: list[tuple[str, Any]]) -> list[str]:
    return ["| | |", "| --- | --- |", *[f"| {_cell(k)} | {_cell(v)} |" for k, v in rows]]


def step_summary(report: RunReport) -> str:
    """The markdown shown on the run page: the run at a glance, then files, checks and timings."""
    usage = report.usage
    rows: list[tuple[str, Any]] = [
        ("Task", report.task),
        ("Round", report.round),
        ("Generator", report.generator),
        ("Model", ", ".join(usage.models if usage else []) or report.model),
        (
            "Tokens (prompt / completion)",
            f"{usage.prompt_tokens if usage else 0} / {usage.completion_tokens if usage else 0}",
        ),
        ("Estimated cost", f"${usage.cost_usd if usage else 0.0:.4f}"),
    ]
    if report.offline_reason:
        rows.append(("Offline because", report.offline_reason))
    if report.image_inputs is not None:
        images = report.image_inputs
        rows.append(
            (
                "Images",
                f"sent as image inputs: {', '.join(images.images)}"
                if images.way == "inputs"
                else "described in text"
                + (f" (refused: {images.refusal})" if images.refusal else ""),
            )
        )
    if report.commit_sha:
        rows.append(("Commit", report.commit_sha))
    if report.page_url:
        rows.append(("Page", f"[{report.page_url}]({report.page_url})"))
    if report.error:
        rows.append(("Error", report.error))
    lines = [f"## llm-deploy: {_cell(report.task)} round {report.round}", ""]
    lines += _table(rows)
    written = report.files_written
    lines += ["", f"### Files written ({len(written)})", ""]
    lines += [f"- `{_cell(p)}`" for p in written] or ["- none"]
    if report.files_refused:
        lines += ["", "### Files refused", "", "| path | reason |", "| --- | --- |"]
        lines += [f"| `{_cell(p)}` | {_cell(r)} |" for p, r in report.files_refused]
    if report.notes:
        lines += ["", "### Notes", ""] + [f"- {_cell(n)}" for n in report.notes]
    if report.verification is not None:
        lines += verification_markdown(report.verification)
    if report.live_checks is not None:
        lines += live_markdown(report.live_checks)
    if report.earlier_checks is not None:
        lines += earlier_markdown(report.earlier_checks)
    if report.timings:
        lines += ["", "### Timings", "", "| phase | seconds |", "| --- | --- |"]
        lines += [f"| {_cell(k)} | {v:.1f} |" for k, v in report.timings.items()]
    return "\n".join(lines) + "\n"


_VERDICTS = {
    "pass": "All checks pass.",
    "fail": "**Some checks still fail; the app was committed and deployed anyway.**",
    "incomplete": "No check fails, but some were skipped (no browser).",
}


def verification_markdown(v: Verification) -> list[str]:
    """The checks table (one column per verified round), then the repairs."""
    lines: list[str] = []
    if v.rounds:
        results: dict[tuple[str, str], dict[int, str]] = {}
        for r in v.rounds:
            for c in r.checks:
                results.setdefault((c.kind, c.check), {})[r.round] = c.result
        heads = [
            f"round {r.round}" + (" (kept)" if r.round == v.kept_round else "") for r in v.rounds
        ]
        lines += ["", "### Checks", ""]
        if v.verdict:
            lines += [_VERDICTS.get(v.verdict, v.verdict), ""]
        lines += ["| kind | check | " + " | ".join(heads) + " |"]
        lines += ["| --- | --- |" + " --- |" * len(heads)]
        for (kind, check), got in results.items():
            cells = " | ".join(_cell(got.get(r.round, "")) for r in v.rounds)
            lines.append(f"| {_cell(kind)} | {_cell(check)} | {cells} |")
    if v.repairs or v.stopped:
        lines += ["", "### Repairs", ""]
        if v.repairs:
            lines += [
                "| round | failures sent | files changed | tokens |",
                "| --- | --- | --- | --- |",
            ]
            for rep in v.repairs:
                sent = "; ".join(rep.failures_sent)
                changed = ", ".join(rep.files_changed) or rep.error or "none"
                lines.append(f"| {rep.round} | {_cell(sent)} | {_cell(changed)} | {rep.tokens} |")
        lines += [
            "",
            f"Stopped: {_cell(v.stopped)}. "
            f"Repair tokens: {v.repair_tokens} of {v.repair_token_budget}.",
        ]
    return lines


def live_markdown(live: LiveChecks) -> list[str]:
    """The table of checks run on the deployed page."""
    lines = ["", f"### Checks on the deployed page ({_cell(live.url)})", ""]
    lines += ["| check | result | detail |", "| --- | --- | --- |"]
    lines += [f"| {_cell(c.check)} | {_cell(c.result)} | {_cell(c.detail)} |" for c in live.checks]
    return lines


def earlier_markdown(earlier: EarlierChecks) -> list[str]:
    """The earlier rounds' checks: kept, lost, and those not held against this round."""
    lines = ["", "### Earlier rounds' checks", "", "| check | outcome |", "| --- | --- |"]
    for outcome, checks in (
        ("kept", earlier.kept),
        ("**lost** (passed before this round)", earlier.lost),
        ("not guarded (did not pass before, or not runnable)", earlier.unguarded),
    ):
        lines += [f"| {_cell(c)} | {outcome} |" for c in checks]
    return lines


def redacted(report: RunReport, secrets: Iterable[str]) -> RunReport:
    """A copy of the report with every secret replaced, also where JSON escapes it."""
    # Match secrets as they appear inside JSON strings too (a brief has quotes and newlines).
    hidden = [s for s in secrets if len(s) >= 4]
    hidden += [json.dumps(s)[1:-1] for s in hidden]
    return RunReport.from_json(json.loads(redact(json.dumps(report.to_json()), hidden)))


def finish(settings: ActionSettings, result: RunReport, secrets: list[str]) -> None:
    """Write outputs, the step summary and the JSON report, all redacted."""
    clean = redacted(result, secrets)
    doc = clean.to_json()
    if settings.output_path:
        write_outputs(
            settings.output_path,
            {
                "commit-sha": clean.commit_sha,
                "page-url": clean.page_url,
                "generator": clean.generator,
                # "false" when the app's own workflow publishes Pages (see action.app_workflows).
                "deploy": "false" if clean.pages_by else "true",
                # "superseded": a newer round is on the branch; the later steps change nothing.
                "outcome": clean.outcome,
                "report": json.dumps(doc, separators=(",", ":"), sort_keys=True),
            },
        )
    if settings.summary_path:
        append_summary(settings.summary_path, step_summary(clean))
    if settings.runner_temp:
        save_report(doc, settings.runner_temp)
    sys.stdout.flush()
