"""Local mode's GitHub-compatible API: the REST reads the Action makes, answered from this disk.

Local runs point ``GITHUB_API_URL`` at ``<public url>/local/github`` (``LOCAL_API_PREFIX``), where
this module answers, in GitHub's shapes, the three operations the Action's steps call:

- ``GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs?status=…`` (the Action waits
  for earlier runs, ``action.earlier_runs``): ``workflow-run`` objects, newest first, paginated,
  from ``data_dir/runs/<id>.json``;
- ``GET /repos/{owner}/{repo}/pages`` (the site's URL, ``action.pages_api.site_url``): the sites'
  own origin (``LocalMode.pages_url``);
- ``GET /repos/{owner}/{repo}/pages/deployments/{sha}`` (notify waits for the Pages deployment of
  the pushed commit): the deployments the ``deploy-pages`` stand-in records per commit.

So the Action's code is the same in both modes. Only the fields the schema requires and a reader
would use are filled in.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from receiver.local.pages import read_deployment, site_url

LOCAL_API_PREFIX = "/local/github"
_NO_CACHE = {"Cache-Control": "no-cache, no-store, must-revalidate"}
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


# The ``…_url`` fields GitHub's minimal-repository and simple-user objects require; here each
# points under the local API (nothing serves most of them: a client that follows one gets 404).
_REPO_URLS = [
    "archive",
    "assignees",
    "blobs",
    "branches",
    "collaborators",
    "comments",
    "commits",
    "compare",
    "contents",
    "contributors",
    "deployments",
    "downloads",
    "events",
    "forks",
    "git_commits",
    "git_refs",
    "git_tags",
    "hooks",
    "issue_comment",
    "issue_events",
    "issues",
    "keys",
    "labels",
    "languages",
    "merges",
    "milestones",
    "notifications",
    "pulls",
    "releases",
    "stargazers",
    "statuses",
    "subscribers",
    "subscription",
    "tags",
    "teams",
    "trees",
]
_USER_URLS = [
    "events",
    "followers",
    "following",
    "gists",
    "organizations",
    "received_events",
    "repos",
    "starred",
    "subscriptions",
]


def _owner(api: str, owner: str) -> dict[str, Any]:
    user: dict[str, Any] = {f"{k}_url": f"{api}/users/{owner}/{k}" for k in _USER_URLS}
    user.update(
        login=owner,
        id=1,
        node_id="U_local",
        avatar_url="",
        gravatar_id="",
        url=f"{api}/users/{owner}",
        html_url="",
        site_admin=False,
        type="User",
    )
    return user


def _repository(api: str, base_url: str, owner: str, repo: str) -> dict[str, Any]:
    url = f"{api}/repos/{owner}/{repo}"
    data: dict[str, Any] = {f"{k}_url": f"{url}/{k}" for k in _REPO_URLS}
    data.update(
        id=1,
        node_id=f"R_local_{repo}",
        name=repo,
        full_name=f"{owner}/{repo}",
        owner=_owner(api, owner),
        private=False,
        fork=False,
        description=None,
        url=url,
        html_url=f"{base_url}/repos/{repo}.git",
    )
    return data


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def workflow_run(record: dict[str, Any], base_url: str, owner: str) -> dict[str, Any]:
    """One run record as GitHub's ``workflow-run`` object (the fields a client reads)."""
    run_id, repo = int(record["run_id"]), str(record.get("repo", ""))
    status, conclusion = _STATUS.get(str(record.get("state")), ("completed", "failure"))
    created = _iso(float(record.get("started_at") or 0.0))
    api = f"{base_url}{LOCAL_API_PREFIX}"
    url = f"{api}/repos/{owner}/{repo}/actions/runs/{run_id}"
    repository = _repository(api, base_url, owner, repo)
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
        "display_title": f"llm-deploy run {run_id}",
        "pull_requests": [],
        "head_commit": None,  # nullable; the runner records no commit per run
        "repository": repository,
        "head_repository": repository,
        "jobs_url": f"{url}/jobs",
        "logs_url": f"{url}/logs",
        "check_suite_url": f"{api}/repos/{owner}/{repo}/check-suites/{run_id}",
        "artifacts_url": f"{url}/artifacts",
        "cancel_url": f"{url}/cancel",
        "rerun_url": f"{url}/rerun",
        "workflow_url": f"{api}/repos/{owner}/{repo}/actions/workflows/1",
    }


def list_workflow_runs(
    runs_dir: Path,
    *,
    base_url: str,
    owner: str,
    repo: str,
    workflow: str,
    status: str = "",
    page: int = 1,
    per_page: int = 30,
) -> dict[str, Any]:
    """The body of ``GET …/actions/workflows/{workflow}/runs`` for local runs, newest first."""
    runs = [
        workflow_run(r, base_url, owner)
        for r in _records(runs_dir)
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
        list_workflow_runs,
        runs_dir,
        base_url=base,
        owner=params["owner"],
        repo=params["repo"],
        workflow=params["workflow"],
        status=query.get("status", ""),
        page=_int(query.get("page"), 1),
        per_page=_int(query.get("per_page"), 30),
    )
    return JSONResponse(body)


# -- Pages ----------------------------------------------------------------------------------


def pages_site(data_dir: Path, pages_url: str, repo: str, url: str) -> dict[str, Any] | None:
    """The body of ``GET …/pages`` for a local repo (None: no such repo), ``url`` its own URL."""
    if repo.startswith(".") or "/" in repo:
        return None
    if not (Path(data_dir) / "repos" / f"{repo}.git").is_dir():
        return None
    return {
        "url": url,
        "status": "built",
        "cname": None,
        "custom_404": False,
        "html_url": site_url(pages_url, repo),
        "build_type": "workflow",
        "public": True,
    }


def _not_found() -> Response:
    return JSONResponse({"message": "Not Found", "status": "404"}, 404, headers=_NO_CACHE)


async def pages(request: Request) -> Response:
    """``GET /local/github/repos/{owner}/{repo}/pages``: GitHub's "Get a GitHub Pages site"."""
    mode = request.app.state.mode
    found = pages_site(
        Path(mode.settings.data_dir), mode.pages_url, request.path_params["repo"], str(request.url)
    )
    return _not_found() if found is None else JSONResponse(found, headers=_NO_CACHE)


async def pages_deployment(request: Request) -> Response:
    """``GET /local/github/repos/{owner}/{repo}/pages/deployments/{sha}``: its status."""
    params = request.path_params
    found = read_deployment(
        Path(request.app.state.mode.settings.data_dir), params["repo"], params["sha"]
    )
    if found is None:
        return _not_found()
    return JSONResponse({"status": found["status"]}, headers=_NO_CACHE)


def routes() -> list[Route]:
    """The local GitHub-compatible API's routes (handlers read ``app.state.mode``: its settings'
    ``data_dir`` and, for Pages, its ``pages_url``)."""
    repo = f"{LOCAL_API_PREFIX}/repos/{{owner}}/{{repo}}"
    return [
        Route(f"{repo}/actions/workflows/{{workflow}}/runs", workflow_runs),
        Route(f"{repo}/pages", pages),
        Route(f"{repo}/pages/deployments/{{sha}}", pages_deployment),
    ]
