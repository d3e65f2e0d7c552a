"""The doctor's result records, their rendering as a checklist, and the last result on disk."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

Status = Literal["ok", "fail", "skip"]
MARKS = {"ok": "✓", "fail": "✗", "skip": "–"}
LAST_RESULT = "doctor-last.json"


class DoctorError(Exception):
    """A doctor step could not run; the message is one sentence a user can act on."""


@dataclass(frozen=True)
class CheckResult:
    """One line of the checklist: what was checked, what was found, and how to fix a failure."""

    name: str
    status: Status
    detail: str
    fix: str = ""  # one sentence; required when status == "fail"

    @property
    def failed(self) -> bool:
        return self.status == "fail"


def ok(name: str, detail: str) -> CheckResult:
    return CheckResult(name, "ok", detail)


def fail(name: str, detail: str, fix: str) -> CheckResult:
    return CheckResult(name, "fail", detail, fix)


def skip(name: str, detail: str) -> CheckResult:
    return CheckResult(name, "skip", detail)


@dataclass(frozen=True)
class Phase:
    """One timed phase of a round trip: seconds since the round began, and since the last one."""

    name: str
    at_s: float
    took_s: float
    detail: str = ""


@dataclass(frozen=True)
class RoundTiming:
    round: int
    phases: list[Phase]
    commit_sha: str = ""
    page_url: str = ""
    error: str = ""


@dataclass
class Report:
    """Everything one ``doctor`` invocation found."""

    mode: str  # "github" or "local"
    checks: list[CheckResult] = field(default_factory=list)
    rounds: list[RoundTiming] = field(default_factory=list)
    repo: str = ""  # the round trip's scratch repository
    kept: bool = False
    finished_at: float = field(default_factory=time.time)
    endpoint: str = ""  # the URL to give the evaluator

    @property
    def failed(self) -> bool:
        return any(c.failed for c in self.checks) or any(r.error for r in self.rounds)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = not self.failed
        return data


def render(report: Report) -> str:
    """The checklist as a person reads it: ✓/✗/– per check, a fix under every ✗, then timings."""
    lines = []
    width = max((len(c.name) for c in report.checks), default=0)
    for check in report.checks:
        lines.append(f"{MARKS[check.status]} {check.name.ljust(width)}  {check.detail}")
        if check.failed:
            lines.append(f"  {' ' * width}  fix: {check.fix}")
    for timing in report.rounds:
        lines.append(f"round {timing.round} in {report.repo or 'the scratch repository'}:")
        for phase in timing.phases:
            if phase.detail:  # a milestone that was not waited for
                lines.append(f"  {phase.name:<26} {phase.detail}")
                continue
            lines.append(f"  {phase.name:<26} +{phase.took_s:7.1f} s  (at {phase.at_s:7.1f} s)")
        if timing.commit_sha:
            lines.append(f"  {timing.page_url} serves {timing.commit_sha[:12]}")
        if timing.error:
            lines.append(f"  ✗ {timing.error}")
    if report.rounds and report.repo:
        lines.append(f"scratch repository {report.repo} {'kept' if report.kept else 'deleted'}")
    failures = sum(c.failed for c in report.checks) + sum(bool(r.error) for r in report.rounds)
    if failures:
        lines.append(f"{failures} problem{'s' if failures != 1 else ''} to fix before going live.")
    else:
        lines.append(
            "Ready." + (f" Give the evaluator {report.endpoint}" if report.endpoint else "")
        )
    return "\n".join(lines)


def save_last(data_dir: Path, report: Report) -> Path:
    """Write the report as the data folder's last doctor result (atomically)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LAST_RESULT
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(report.to_json(), indent=2, ensure_ascii=False), "utf-8")
    os.replace(tmp, path)
    return path


def load_last(data_dir: Path) -> dict[str, Any] | None:
    """The last saved doctor result, or None when doctor never ran or its file is unreadable."""
    try:
        data = json.loads((data_dir / LAST_RESULT).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
