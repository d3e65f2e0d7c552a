"""A GitHub-compatible listing of a workflow's runs, answered from the local runner's records.

The Action waits for earlier runs of its workflow by asking GitHub's REST API
(``GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs?status=…``, see
``action.earlier_runs``). Local runs point ``GITHUB_API_URL`` at ``<public url>/local/github``,
where this module answers the same operation with the same shape (GitHub's ``workflow-run``
objects, newest first, paginated) from ``data_dir/runs/<id>.json``, so the Action's code is the
same in both modes. Only the fields the schema requires and a reader would use are filled in.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

LOCAL_API_PREFIX = "/local/github"
# A run record's state → the REST API's (status, conclusion).
_STATUS = {
    "queued": ("queued", None),
    "running": ("in_progress", None),
    "success": ("completed", "success"),
    "failure": ("completed", "failure"),
}


def _records(runs_dir: Path) -> list[dict[str, Any]]:
    found = []
    for path in runs_dir.glob("*.json"):
        if not path.stem.isdigit():
            continue  # dispatch records, earlier attempts
        try:
            record = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError):
            continue  # being replaced right now: the next poll sees it
        if isinstance(record, dict) and isinstance(record.get("run_id"), int):
            found.append(record)
    return found


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def workflow_run(record: dict[str, Any], base_url: str, owner: str) -> dict[str, Any]:
    """One run record as GitHub's ``workflow-run`` object (the fields a client reads)."""
    run_id, repo = int(record["run_id"]), str(record.get("repo", ""))
    status, conclusion = _STATUS.get(str(record.get("state")), ("completed", "failure"))
    created = _iso(float(record.get("started_at") or 0.0))
    url = f"{base_url}{LOCAL_API_PREFIX}/repos/{owner}/{repo}/actions/runs/{run_id}"
    return {
        "id": run_id,
        "name": str(record.get("workflow", "")),
        "node_id": f"WFR_local_{run_id}",
        "head_branch": "main",
        "head_sha": "0" * 40,
        "path": f".github/workflows/{record.get('workflow', '')}",
        "run_number": run_id,
        "run_attempt": int(record.get("attempt") or 1),
        "event": "workflow_dispatch",
        "status": status,
        "conclusion": conclusion,
        "workflow_id": 1,
        "url": url,
        "html_url": f"{base_url}/runs/{run_id}",
        "created_at": created,
        "updated_at": created,
        "run_started_at": created,
    }


def list_workflow_runs(
    runs_dir: Path, *, base_url: str, owner: str, repo: str, workflow: str,
    status: str = "", page: int = 1, per_page: int = 30,
) -> dict[str, Any]:
    """The body of ``GET …/actions/workflows/{workflow}/runs`` for local runs, newest first."""
    runs = [
        workflow_run(r, base_url, owner) for r in _records(runs_dir)
        if r.get("repo") == repo and r.get("workflow") == workflow
    ]
    if status:  # GitHub's filter matches a status or a conclusion
        runs = [r for r in runs if status in (r["status"], r["conclusion"])]
    runs.sort(key=lambda r: int(r["id"]), reverse=True)
    per_page = max(1, min(per_page, 100))
    chunk = runs[(page - 1) * per_page : page * per_page]
    return {"total_count": len(runs), "workflow_runs": chunk}


def _int(text: str | None, default: int) -> int:
    return int(text) if text and text.isdigit() else default


async def workflow_runs(request: Request) -> Response:
    """``GET /local/github/repos/{owner}/{repo}/actions/workflows/{workflow}/runs``."""
    params, query = request.path_params, request.query_params
    runs_dir = Path(request.app.state.mode.settings.data_dir) / "runs"
    base = str(request.base_url).rstrip("/")
    body = await run_in_threadpool(
        list_workflow_runs, runs_dir, base_url=base, owner=params["owner"], repo=params["repo"],
        workflow=params["workflow"], status=query.get("status", ""),
        page=_int(query.get("page"), 1), per_page=_int(query.get("per_page"), 30),
    )
    return JSONResponse(body)
