"""Observe a round as the evaluator does: ``git clone`` the notified repo, check out exactly
``commit_sha``, and fetch every committed file from ``pages_url`` over HTTP.

Nothing here trusts the pipeline's own records: the files come from the git tree at the notified
commit and the page bytes from the server, so a wrong ``commit_sha``, a stale deploy or a file
outside the root shows up as a failed check.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from receiver.evaluation.expectations import expectations_for
from receiver.evaluation.observed import Evidence
from receiver.evaluation.ports import Attachment, from_request


def _git(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, timeout=120, check=False)


def checkout(repo_url: str, sha: str, dest: Path) -> str:
    """Clone repo_url into dest and check out sha (detached); "" or the reason it failed."""
    cloned = _git("clone", "--quiet", "--no-checkout", repo_url, str(dest))
    if cloned.returncode != 0:
        return f"git clone failed: {cloned.stderr.decode(errors='replace').strip()[:300]}"
    done = _git("-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", sha, cwd=dest)
    if done.returncode != 0:
        return (
            f"commit_sha {sha[:12]} does not check out: "
            + done.stderr.decode(errors="replace").strip()[:300]
        )
    return ""


def committed_files(root: Path) -> list[str]:
    """Paths of the checked-out commit (git's own list, not the folder's)."""
    listed = _git("ls-tree", "-r", "--name-only", "HEAD", cwd=root)
    return listed.stdout.decode("utf-8", "replace").splitlines()


def first_commit_time(root: Path) -> int | None:
    """Committer time (epoch seconds) of the oldest commit reachable from HEAD."""
    listed = _git("log", "--reverse", "--format=%ct", "HEAD", cwd=root)
    first = listed.stdout.decode().split()[:1]
    return int(first[0]) if listed.returncode == 0 and first else None


def is_ancestor(root: Path, older: str, newer: str) -> bool:
    """True when commit `older` is an ancestor of (or equal to) `newer` in this clone."""
    return _git("merge-base", "--is-ancestor", older, newer, cwd=root).returncode == 0


def _get(http: httpx.Client, url: str) -> tuple[int | None, bytes | None]:
    try:
        answer = http.get(url)
    except httpx.HTTPError:
        return None, None
    return answer.status_code, (answer.content if answer.status_code == 200 else None)


def round_attachments(requests: list[dict[str, Any]]) -> list[Attachment]:
    """The attachments a round's repo should hold: this round's and the earlier rounds'."""
    found: dict[str, Attachment] = {}
    for request in requests:
        for att in from_request(list(request.get("attachments") or [])):
            found[att.name] = att
    return list(found.values())


def gather(
    request: dict[str, Any],
    note: dict[str, Any] | None,
    work: Path,
    http: httpx.Client,
    *,
    earlier: list[dict[str, Any]] | None = None,
    previous: Evidence | None = None,
) -> Evidence:
    """Everything the scorer needs about one round; `previous` is round 1's evidence."""
    ev = Evidence(request, round_attachments([*(earlier or []), request]), note)
    if note is None:
        ev.checkout_error = "no notification, so no commit to check out"
        return ev
    if previous is not None:
        ev.previous_note = previous.note
        if previous.root is not None and (previous.root / "README.md").is_file():
            ev.previous_readme = (previous.root / "README.md").read_bytes()
    sha, repo_url = str(note.get("commit_sha") or ""), str(note.get("repo_url") or "")
    if not sha or not repo_url:
        ev.checkout_error = "the notification has no repo_url or commit_sha"
        return ev
    root = work / f"checkout-r{request.get('round', 1)}"
    ev.checkout_error = checkout(repo_url, sha, root)
    if ev.checkout_error:
        return ev
    ev.root = root
    ev.first_commit_at = first_commit_time(root)
    if previous is not None and previous.note is not None:
        ev.descends_from_previous = is_ancestor(root, str(previous.note.get("commit_sha")), sha)
    pages = str(note.get("pages_url") or "")
    if not pages:
        return ev
    base = pages if pages.endswith("/") else pages + "/"
    ev.page_status, _ = _get(http, pages)
    for path in committed_files(root):
        if not path.startswith(".github/"):  # Pages never serves the workflow folder
            ev.served[path] = _get(http, base + quote(path))[1]
    ci = expectations_for(request).ci
    for name in ci.published if ci else ():
        ev.published[name] = _get(http, base + quote(name))[1]
    return ev
