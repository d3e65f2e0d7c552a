"""Local mode's evaluator and progress: ``POST /local/notify`` and the run state in the status.

The local evaluator answers like the real one: 200 when ``email``, ``task``, ``round`` and
``nonce`` match a journaled request, else 400 with a reason. Accepted notifications are kept in
memory and appended to ``data_dir/local-notifications.jsonl`` (the data folder already holds the
journal with the same emails; nothing here reaches a repo or a log). The status endpoint then
shows, per round, the run's progress and whether a notification arrived, never its email.
"""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path
from typing import Any

from receiver.journal import Journal
from receiver.outcome import round_outcome
from receiver.private import open_private, private_dir

NOTIFY_FIELDS = ("email", "task", "round", "nonce", "repo_url", "commit_sha", "pages_url")
_RUN_ID = re.compile(r"/runs/(\d+)$")
# action.yml uploads report.json as the artifact ``llm-deploy-report-<job>``.
REPORT_ARTIFACT = "llm-deploy-report-"


class LocalNotifications:
    """The notifications a local receiver got, loaded from and appended to a JSON-lines file."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / "local-notifications.jsonl"
        self._lock = threading.Lock()
        self.bodies: list[dict[str, Any]] = []
        if self.path.is_file():
            for line in self.path.read_text("utf-8").splitlines():
                try:
                    self.bodies.append(dict(json.loads(line)))
                except (ValueError, TypeError):
                    continue  # a line torn by a crash mid-append

    def receive(self, body: Any, journal: Journal) -> tuple[int, dict[str, Any]]:
        """Check one notification as the evaluator would; record it when it matches."""
        reason = check_notification(body, journal)
        if reason is not None:
            return 400, {"error": reason}
        record = {**{k: body[k] for k in NOTIFY_FIELDS}, "received_at": time.time()}
        with self._lock:
            self.bodies.append(record)
            private_dir(self.path.parent)
            with open_private(self.path, "a") as out:
                out.write(json.dumps(record) + "\n")
        return 200, {"status": "ok", "task": body["task"], "round": body["round"]}

    def latest(self, task: str, round_: int, nonce: str) -> dict[str, Any] | None:
        """The newest notification for this request, or None."""
        with self._lock:
            for body in reversed(self.bodies):
                if (body.get("task"), body.get("round"), body.get("nonce")) == (
                    task,
                    round_,
                    nonce,
                ):
                    return body
        return None


def check_notification(body: Any, journal: Journal) -> str | None:
    """None when the body names a journaled request with its email, else the reason why not."""
    if not isinstance(body, dict):
        return "The body is not a JSON object."
    missing = [k for k in NOTIFY_FIELDS if k not in body]
    if missing:
        return f"Missing fields: {', '.join(missing)}."
    if not isinstance(body["round"], int) or isinstance(body["round"], bool):
        return "round must be an integer."
    if not isinstance(body["task"], str) or not isinstance(body["nonce"], str):
        return "task and nonce must be strings."
    request_id = journal.find(body["task"], body["round"], body["nonce"])
    if request_id is None:
        return (
            f"No request for task {body['task']!r} round {body['round']} with this nonce was sent."
        )
    if journal.get(request_id).body.get("email") != body["email"]:
        return "The email does not match the request's."
    return None


def with_progress(
    found: dict[str, Any], data_dir: Path, notes: LocalNotifications
) -> dict[str, Any]:
    """The task's status with each round's local run and notification folded in.

    A dispatched round reads ``running``, ``deployed`` or ``failed`` from its run record in
    ``data_dir/runs``, and ``notified`` once ``/local/notify`` accepted its notification.
    """
    rounds = []
    for entry in found["rounds"]:
        entry = with_run(entry, data_dir)
        note = notes.latest(found["task"], entry["round"], entry["nonce"])
        outcome = entry.get("outcome") or {}
        # Any evaluator counts: the local one recorded the body, another answered the run 200.
        entry["notified"] = note is not None or outcome.get("evaluator_status") == 200
        if note is not None:
            entry["state"], entry["notified_commit"] = "notified", note["commit_sha"]
        rounds.append(entry)
    return {**found, "rounds": rounds}


def with_run(entry: dict[str, Any], data_dir: Path) -> dict[str, Any]:
    """A journal row (status round or dashboard row) with its local run's progress folded in."""
    entry = dict(entry)
    run = _run_progress(data_dir, entry.get("run_url") or "")
    if run is None:
        return entry
    entry["run"] = run
    entry["outcome"] = run_outcome(data_dir, run)
    run.pop("report", None)
    if entry["state"] == "dispatched":
        entry["state"] = {"success": "deployed", "failure": "failed"}.get(run["state"], "running")
        if run["state"] == "failure" and not entry.get("error"):
            failed = next((s for s in run["steps"] if s["state"] == "failure"), None)
            entry["error"] = run["error"] or (
                f"The run failed at the step {failed['name']!r}." if failed else "The run failed."
            )
    return entry


def _run_progress(data_dir: Path, run_url: str) -> dict[str, Any] | None:
    """The run behind a local run URL: state, elapsed, current step and each step's outcome."""
    match = _RUN_ID.search(run_url)
    if match is None:
        return None
    try:
        record = json.loads((Path(data_dir) / "runs" / f"{match[1]}.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None  # not written yet, or replaced mid-read on a platform without atomic rename
    state = str(record.get("state", "queued"))
    steps = [
        {"name": s.get("name", ""), "state": s.get("state", ""), "elapsed": s.get("elapsed", 0.0)}
        for s in record.get("steps") or []
    ]
    started = float(record.get("started_at") or 0.0)
    elapsed = (
        record.get("elapsed")
        if state in ("success", "failure")
        else (round(time.time() - started, 3) if started else 0.0)
    )
    return {
        "id": int(match[1]),
        "started_at": started,
        "report": str((record.get("outputs") or {}).get("report") or ""),
        "state": state,
        "elapsed": elapsed,
        "current_step": next((s["name"] for s in reversed(steps) if s["state"] == "running"), None),
        "steps": steps,
        "error": str(record.get("error") or ""),
    }


def run_outcome(data_dir: Path, run: dict[str, Any]) -> dict[str, Any]:
    """How a local run ended (``receiver.outcome``): its record and its kept report artifact."""
    finished = run["state"] in ("success", "failure")
    started = run.get("started_at") or None
    return round_outcome(
        run["state"] if finished else None,
        _report(Path(data_dir), run),
        started_at=started,
        ended_at=round(started + float(run["elapsed"] or 0.0), 3) if finished and started else None,
        step=run["current_step"],
    )


def _attempt_then_name(path: Path) -> tuple[int, str]:
    attempt = path.parent.parent.name
    return (int(attempt) if attempt.isdigit() else 0, path.parent.name)


def _report(data_dir: Path, run: dict[str, Any]) -> dict[str, Any] | None:
    """The run's report.json from its artifact (with the notify part), else its report output."""
    folder = data_dir / "runs" / f"{run['id']}.artifacts"  # <attempt>/<name>/, latest first
    found_reports = folder.glob(f"*/{REPORT_ARTIFACT}*/report.json")
    for path in sorted(found_reports, key=_attempt_then_name, reverse=True):
        try:
            found = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(found, dict):
            return found
    try:
        output = json.loads(run.get("report") or "null")
    except ValueError:
        return None
    return output if isinstance(output, dict) else None


def local_row(row: dict[str, Any]) -> dict[str, Any]:
    """A dashboard row (after ``with_run``) whose run is under way: its current step."""
    run = row.pop("run", None)
    if run is not None and run["state"] in ("queued", "running"):
        row["last_step"] = run["current_step"] or row.get("last_step")
    return row
