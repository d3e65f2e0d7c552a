"""Local Pages: stage and publish sites into ``data_dir/sites/`` and serve them with run pages.

Publishing is atomic: each deploy is copied to ``sites/.versions/<repo>-<id>`` and the symlink
``sites/<repo>`` is swapped with one ``rename``, so a reader never sees half a site. Symlinks in
the uploaded folder are skipped, because generated content must not publish files from outside
its own folder on this machine (GitHub's sandbox makes that harmless there, here it is not).
"""

from __future__ import annotations

import html
import json
import mimetypes
import os
import shutil
import time
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    PlainTextResponse,
    Response,
)
from starlette.routing import Route
from starlette.types import ASGIApp

from receiver.private import private_dir, write_private

_SKIP = frozenset({".git", ".github"})
_NO_CACHE = {"Cache-Control": "no-cache, no-store, must-revalidate"}
_KEEP_VERSIONS = 2
_DEPLOYMENTS = ".deployments"


def site_url(pages_url: str, repo: str) -> str:
    """Where local Pages serves a repo's site, given the sites' own origin (``LocalMode.pages_url``,
    a ``PagesListener``): the one place that says so."""
    return f"{pages_url.rstrip('/')}/pages/{repo}/"


def record_deployment(data_dir: Path, repo: str, sha: str, status: str, run_id: int) -> None:
    """Remember the Pages deployment of a commit, as GitHub's Pages deployments API shows it."""
    if not sha:
        return
    folder = private_dir(Path(data_dir) / "sites" / _DEPLOYMENTS / repo)
    tmp = folder / f".{sha}.tmp"
    write_private(tmp, json.dumps({"status": status, "run_id": run_id, "at": time.time()}))
    os.replace(tmp, folder / f"{sha}.json")


def read_deployment(data_dir: Path, repo: str, sha: str) -> dict[str, object] | None:
    """The Pages deployment recorded for a commit, or None."""
    if not sha.isalnum() or repo.startswith(".") or "/" in repo:
        return None
    try:
        found = json.loads(
            (Path(data_dir) / "sites" / _DEPLOYMENTS / repo / f"{sha}.json").read_text("utf-8")
        )
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def stage_artifact(source: Path, dest: Path) -> int:
    """Copy source into dest like upload-pages-artifact (no .git/.github, no symlinks); count."""
    if not source.is_dir():
        raise FileNotFoundError(f"The Pages folder {source.name!r} does not exist.")
    count = 0
    for dirpath, dirnames, filenames in os.walk(source):
        dirnames[:] = [
            d for d in dirnames if d not in _SKIP and not os.path.islink(os.path.join(dirpath, d))
        ]
        rel = Path(dirpath).relative_to(source)
        (dest / rel).mkdir(parents=True, exist_ok=True)
        for name in filenames:
            src = Path(dirpath) / name
            if src.is_symlink():
                continue
            shutil.copyfile(src, dest / rel / name)
            count += 1
    return count


def publish_site(data_dir: Path, repo: str, artifact: Path, version: str) -> Path:
    """Atomically make artifact the site of repo; return the published folder."""
    sites = Path(data_dir) / "sites"
    versions = sites / ".versions"
    versions.mkdir(parents=True, exist_ok=True)
    target = versions / f"{repo}-{version}"
    tmp = versions / f".tmp-{repo}-{version}"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(artifact, tmp)
    if target.exists():  # the same run deployed twice: keep the first copy
        shutil.rmtree(tmp)
    else:
        os.replace(tmp, target)
    link = sites / repo
    if link.exists() and not link.is_symlink():
        shutil.rmtree(link)  # a plain folder from an older layout
    new_link = sites / f".link-{repo}-{version}"
    new_link.unlink(missing_ok=True)
    new_link.symlink_to(Path(".versions") / target.name)
    os.replace(new_link, link)
    _prune(versions, repo, keep=target.name)
    return target


def _prune(versions: Path, repo: str, keep: str) -> None:
    mine = sorted(
        (p for p in versions.glob(f"{repo}-*") if p.name != keep),
        key=lambda p: p.stat().st_mtime,
    )
    # Keep the previous version too: a reader may still be streaming a file from it.
    for old in mine[: max(0, len(mine) - (_KEEP_VERSIONS - 1))]:
        shutil.rmtree(old, ignore_errors=True)


def _resolve(root: Path, rel: str) -> Path | None:
    """The file for a URL path inside root, or None when missing or outside it."""
    try:
        base = root.resolve(strict=True)
        path = (base / rel).resolve(strict=True)
    except (FileNotFoundError, OSError, RuntimeError):
        return None
    if path != base and base not in path.parents:
        return None
    if path.is_dir():
        path = path / "index.html"
    return path if path.is_file() else None


def pages_app(data_dir: Path, *, runs: bool = True) -> ASGIApp:
    """A Starlette app serving /pages/<repo>/… from data_dir/sites and (with ``runs``) the
    /runs/<id> records; sites must never be served beside the runs (their own origin)."""
    data_dir = Path(data_dir)

    async def page(request: Request) -> Response:
        repo = request.path_params["repo"]
        rel = request.path_params.get("path", "")
        if repo.startswith(".") or "/" in repo:
            return PlainTextResponse("Not found.", 404, headers=_NO_CACHE)
        if "path" not in request.path_params:
            # Relative links in the site resolve against the folder, so it must end with "/".
            return Response(status_code=307, headers={"Location": request.url.path + "/"})
        path = _resolve(data_dir / "sites" / repo, rel)
        if path is None:
            return PlainTextResponse("Not found.", 404, headers=_NO_CACHE)
        media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if media.startswith("text/") or media in ("application/javascript", "application/json"):
            media += "; charset=utf-8"
        return FileResponse(path, media_type=media, headers=_NO_CACHE)

    async def run(request: Request) -> Response:
        run_id = request.path_params["run_id"]
        record_path = data_dir / "runs" / f"{run_id}.json"
        try:
            record = json.loads(record_path.read_text("utf-8"))
        except (FileNotFoundError, ValueError):
            return PlainTextResponse("No such run.", 404, headers=_NO_CACHE)
        logfile = data_dir / "runs" / f"{run_id}.log"
        text = logfile.read_text("utf-8", "replace") if logfile.is_file() else ""
        if "json" in request.headers.get("accept", "") or request.query_params.get("format"):
            return Response(
                json.dumps(record, indent=2), media_type="application/json", headers=_NO_CACHE
            )
        # Records and logs are masked when written; this page only has to escape them.
        refresh = (
            '<meta http-equiv="refresh" content="2">'
            if record.get("state") in ("queued", "running")
            else ""
        )
        steps = "".join(
            f"<tr><td>{html.escape(s['name'])}</td><td>{html.escape(s['state'])}</td>"
            f"<td>{s['elapsed']:.2f}s</td></tr>"
            for s in record.get("steps", [])
        )
        body = (
            f"<!doctype html><html><head><meta charset='utf-8'>{refresh}"
            f"<title>Run {run_id}</title></head><body><h1>Run {run_id}: "
            f"{html.escape(str(record.get('repo', '')))} — {html.escape(record.get('state', ''))}"
            f"</h1><p>Updated {time.ctime(record_path.stat().st_mtime)}</p>"
            f"<table>{steps}</table><pre>{html.escape(text)}</pre></body></html>"
        )
        return HTMLResponse(body, headers=_NO_CACHE)

    routes = [Route("/pages/{repo}", page), Route("/pages/{repo}/{path:path}", page)]
    if runs:
        routes.append(Route("/runs/{run_id:int}", run))
    return Starlette(routes=routes)
