"""What a run tells the world: step outputs, the step summary table, masks, the JSON report.

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

from action.settings import ActionSettings

# The run artifact's folder under RUNNER_TEMP: report.json plus the screenshots of each round.
ARTIFACT_DIR = "llm-deploy"
REPORT_NAME = "report.json"
Report = dict[str, Any]


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


def read_outputs(text: str) -> dict[str, str]:
    """Parse a ``$GITHUB_OUTPUT`` file (both forms); used by tests and the local runner."""
    outputs: dict[str, str] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delim = line.split("<<", 1)
            end = lines.index(delim, i + 1)
            outputs[name] = "\n".join(lines[i + 1 : end])
            i = end + 1
            continue
        if "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
        i += 1
    return outputs


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


def step_summary(report: Mapping[str, Any]) -> str:
    """The markdown shown on the run page: the run at a glance, then files, checks and timings."""
    tokens = report.get("tokens") or {}
    rows: list[tuple[str, Any]] = [
        ("Task", report.get("task", "")),
        ("Round", report.get("round", "")),
        ("Generator", report.get("generator", "")),
        ("Model", ", ".join(report.get("models") or []) or report.get("model", "")),
        (
            "Tokens (prompt / completion)",
            f"{tokens.get('prompt', 0)} / {tokens.get('completion', 0)}",
        ),
        ("Estimated cost", f"${float(report.get('cost_usd') or 0.0):.4f}"),
    ]
    if report.get("offline_reason"):
        rows.append(("Offline because", report["offline_reason"]))
    if report.get("commit_sha"):
        rows.append(("Commit", report["commit_sha"]))
    if report.get("page_url"):
        rows.append(("Page", f"[{report['page_url']}]({report['page_url']})"))
    if report.get("notified"):
        rows.append(("Notification", report["notified"]))
    if report.get("error"):
        rows.append(("Error", report["error"]))
    lines = [f"## llm-deploy: {_cell(report.get('task', ''))} round {report.get('round', '')}", ""]
    lines += _table(rows)
    written = report.get("files_written") or []
    lines += ["", f"### Files written ({len(written)})", ""]
    lines += [f"- `{_cell(p)}`" for p in written] or ["- none"]
    refused = report.get("files_refused") or []
    if refused:
        lines += ["", "### Files refused", "", "| path | reason |", "| --- | --- |"]
        lines += [f"| `{_cell(p)}` | {_cell(r)} |" for p, r in refused]
    notes = report.get("notes") or []
    if notes:
        lines += ["", "### Notes", ""] + [f"- {_cell(n)}" for n in notes]
    lines += checks_markdown(report)
    timings = report.get("timings") or {}
    if timings:
        lines += ["", "### Timings", "", "| phase | seconds |", "| --- | --- |"]
        lines += [f"| {_cell(k)} | {float(v):.1f} |" for k, v in timings.items()]
    return "\n".join(lines) + "\n"


def check_rows(verification: Mapping[str, Any]) -> list[dict[str, str]]:
    """Rows ({kind, check, result, detail}) from a verification report's dict form."""
    rows = [
        {
            "kind": "static",
            "check": str(r.get("name", "")),
            "result": "pass" if r.get("passed") else "fail",
            "detail": str(r.get("detail", "")),
        }
        for r in verification.get("static", [])
    ]
    rows += [
        {
            "kind": "js",
            "check": str(r.get("check", "")),
            "result": str(r.get("status", "")),
            "detail": str(r.get("detail", "")),
        }
        for r in verification.get("js", [])
    ]
    rows += [
        {"kind": "text", "check": str(t), "result": "not run", "detail": "for an LLM judge"}
        for t in verification.get("text", [])
    ]
    return rows


_VERDICTS = {
    "pass": "All checks pass.",
    "fail": "**Some checks still fail; the app was committed and deployed anyway.**",
    "incomplete": "No check fails, but some were skipped (no browser).",
}


def checks_markdown(report: Mapping[str, Any]) -> list[str]:
    """The checks table (one column per verified round), the repairs, the live checks."""
    rounds = report.get("verification_rounds") or []
    checks = report.get("checks") or []
    if not rounds and checks:
        rounds = [{"round": 0, "checks": checks}]
    lines: list[str] = []
    if rounds:
        kept = report.get("kept_round", rounds[-1]["round"])
        results: dict[tuple[str, str], dict[int, str]] = {}
        for r in rounds:
            for c in r["checks"]:
                key = (str(c.get("kind", "")), str(c.get("check", "")))
                results.setdefault(key, {})[r["round"]] = str(c.get("result", ""))
        heads = [f"round {r['round']}" + (" (kept)" if r["round"] == kept else "") for r in rounds]
        lines += ["", "### Checks", ""]
        if report.get("verdict"):
            lines += [_VERDICTS.get(report["verdict"], report["verdict"]), ""]
        lines += ["| kind | check | " + " | ".join(heads) + " |"]
        lines += ["| --- | --- |" + " --- |" * len(heads)]
        for (kind, check), got in results.items():
            cells = " | ".join(_cell(got.get(r["round"], "")) for r in rounds)
            lines.append(f"| {_cell(kind)} | {_cell(check)} | {cells} |")
    repairs = report.get("repairs") or []
    if repairs or report.get("repair_stopped"):
        lines += ["", "### Repairs", ""]
        if repairs:
            lines += [
                "| round | failures sent | files changed | tokens |",
                "| --- | --- | --- | --- |",
            ]
            for r in repairs:
                sent = "; ".join(r.get("failures_sent") or [])
                changed = ", ".join(r.get("files_changed") or []) or r.get("error") or "none"
                lines.append(f"| {r['round']} | {_cell(sent)} | {_cell(changed)} | {r['tokens']} |")
        used, budget = report.get("repair_tokens", 0), report.get("repair_token_budget", 0)
        lines += [
            "",
            f"Stopped: {_cell(report.get('repair_stopped', ''))}. "
            f"Repair tokens: {used} of {budget}.",
        ]
    live = report.get("live_checks")
    if live:
        lines += ["", f"### Checks on the deployed page ({_cell(live.get('url', ''))})", ""]
        lines += ["| check | result | detail |", "| --- | --- | --- |"]
        lines += [
            f"| {_cell(c['check'])} | {_cell(c['result'])} | {_cell(c['detail'])} |"
            for c in live.get("checks", [])
        ]
    return lines


def finish(settings: ActionSettings, result: Report, secrets: list[str]) -> None:
    """Write outputs, the step summary and the JSON report, all redacted."""
    # Match secrets as they appear inside JSON strings too (a brief has quotes and newlines).
    hidden = [s for s in secrets if len(s) >= 4]
    hidden += [json.dumps(s)[1:-1] for s in hidden]
    clean: Report = json.loads(redact(json.dumps(result), hidden))
    if settings.output_path:
        write_outputs(
            settings.output_path,
            {
                "commit-sha": clean.get("commit_sha", ""),
                "page-url": clean.get("page_url", ""),
                "generator": clean.get("generator", ""),
                # "false" when the app's own workflow publishes Pages (see action.app_workflows).
                "deploy": "false" if clean.get("pages_by") else "true",
                "report": json.dumps(clean, separators=(",", ":"), sort_keys=True),
            },
        )
    if settings.summary_path:
        append_summary(settings.summary_path, step_summary(clean))
    if settings.runner_temp:
        save_report(clean, settings.runner_temp)
    sys.stdout.flush()
