"""Local mode's runs that a stopped receiver left unfinished, and what to do with each.

On GitHub a run outlives the receiver; here it runs in the receiver's own process and dies with
it. On restart each dispatch record (``runs/<id>.dispatch.json``, written before its run starts,
holding the dispatch inputs: the payload there is encrypted) whose run record is still ``queued``
or ``running`` is run again under the same id, so nothing is lost. The one exception: a run that
had already notified the evaluator is not run again (a second notification would count as a
second delivery); it is closed with a sentence that says so.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from receiver.private import write_private

UNFINISHED = frozenset({"queued", "running"})
NOTIFIED_BEFORE_STOP = (
    "The receiver stopped during this run, after it had notified the evaluator; it was not run "
    "again, so the evaluator is not notified twice."
)
NO_INPUTS = "The receiver stopped during this run, and its dispatch inputs were not recorded."


@dataclass(frozen=True)
class Interrupted:
    run_id: int
    repo: str
    workflow: str
    inputs: dict[str, str] | None  # None: recorded before inputs were kept
    notified: bool  # the run's notify step had succeeded


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def interrupted_runs(runs_dir: Path) -> Iterator[Interrupted]:
    """Every dispatched run whose record says it never finished, oldest first."""
    records = sorted(runs_dir.glob("*.dispatch.json"), key=lambda p: int(p.name.split(".")[0]))
    for path in records:
        dispatch = _read(path)
        run = _read(runs_dir / f"{path.name.split('.')[0]}.json")
        if dispatch is None or run is None or run.get("state") not in UNFINISHED:
            continue
        notified = any(
            "notify" in str(s.get("name", "")).lower() and s.get("state") == "success"
            for s in run.get("steps") or []
        )
        inputs = dispatch.get("inputs")
        yield Interrupted(
            run_id=int(dispatch["run_id"]),
            repo=str(dispatch["repo"]),
            workflow=str(dispatch["workflow"]),
            inputs=(
                {str(k): str(v) for k, v in inputs.items()} if isinstance(inputs, dict) else None
            ),
            notified=notified,
        )


def close_run(runs_dir: Path, run_id: int, reason: str) -> None:
    """Mark an interrupted run's record failed with a reason (atomically, like the runner)."""
    path = runs_dir / f"{run_id}.json"
    record = _read(path) or {"run_id": run_id}
    record.update(state="failure", error=reason)
    tmp = path.with_name(f".{path.name}.tmp")
    write_private(tmp, json.dumps(record, indent=2))
    tmp.replace(path)
