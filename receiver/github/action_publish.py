"""Publish this version's Action into a repository of the user's own account, pinned by commit.

``publish`` makes ``<owner>/<repo>`` hold exactly ``action_bundle.build_bundle``: it compares git
blob ids with the branch head's tree, so an unchanged Action costs a few reads and no write, and a
changed one becomes one commit made with the Git Data API (tree with inline contents, commit,
ref update). The commit is tagged ``v<version>`` and the moving major tag ``v<major>``; a version
tag already on another commit (same version, other content: a development build) is left where
it is and the new commit gets ``v<version>+<short sha>`` instead. The result names the commit,
which generated workflows pin, so a moved tag never changes what an existing repo runs.

``uses:`` lines of ``action.yml`` are pinned to commit SHAs when published; an unchanged Action
keeps the pins already published, so tags are resolved once per version.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass

from receiver.github.action_bundle import Sources, blob_sha, build_bundle
from receiver.github.action_tags import q, resolve_pins, tag_commit
from receiver.github.pins import unpin
from receiver.github.rest import ActionPublishError, GitHubAnswer, Rest
from receiver.workflow import pin_uses

log = logging.getLogger("llm_deploy.action")

MODE = "100644"
# Files an auto-initialised or hand-made empty repository may hold: publishing may replace them.
_REPLACEABLE = frozenset({"README.md", "LICENSE", ".gitignore"})
_HEAD_TRIES = 4


@dataclass(frozen=True)
class PublishedAction:
    """The Action repository's state after ``publish``: new workflows pin ``ref``."""

    repo: str  # owner/name
    commit: str  # full sha of the commit holding this version ("" in a dry run that would commit)
    changed: bool  # this call made (in a dry run: would make) a commit
    tags: tuple[str, ...] = ()  # tags created or moved to ``commit`` (in a dry run: would be)

    @property
    def ref(self) -> str:
        """``owner/name@<full commit sha>``, what a workflow's ``uses:`` says."""
        return f"{self.repo}@{self.commit}"


def owner_login(rest: Rest, owner: str | None) -> str:
    """GITHUB_OWNER when set, else the token's user."""
    return owner or str(rest.call("GET", "/user", action="read the token's user")["login"])


def publish(
    rest: Rest,
    *,
    owner: str | None,
    name: str,
    sources: Sources,
    dry_run: bool = False,
) -> PublishedAction:
    """Make ``<owner>/<name>`` hold this version's Action; with ``dry_run``, only report."""
    login = owner_login(rest, owner)
    full = f"{login}/{name}"
    try:
        return _publish(rest, full, org=owner, sources=sources, dry_run=dry_run)
    except GitHubAnswer as exc:
        raise ActionPublishError(_explain(exc, full)) from exc


def _explain(exc: GitHubAnswer, full: str) -> str:
    if exc.status in (403, 404):
        return (
            f"GitHub refused to publish the Action into {full} ({exc.status} {exc.message}); "
            "the token needs Contents and Administration write on that account."
        )
    return f"Publishing the Action into {full} failed: GitHub answered {exc.status} {exc.message}."


def _publish(
    rest: Rest, full: str, *, org: str | None, sources: Sources, dry_run: bool
) -> PublishedAction:
    branch: str | None = None
    head = _head(rest, full)
    if head is None:  # no such repository
        if dry_run:
            return PublishedAction(full, "", changed=True)
        branch = _create(rest, full, org)
        head = _head(rest, full, ref=branch, tries=_HEAD_TRIES)
    if head == "empty":
        if dry_run:
            return PublishedAction(full, "", changed=True)
        _first_commit(rest, full)
        head = _head(rest, full, tries=_HEAD_TRIES)
    if not isinstance(head, tuple):
        raise ActionPublishError(f"The repository {full} has no commit GitHub can show yet.")
    commit, tree_sha = head
    current = _blobs(rest, full, tree_sha)
    ours = {"action.yml", "action/__main__.py"} <= set(current)
    if not ours and not set(current) <= _REPLACEABLE:
        raise ActionPublishError(
            f"{full} already holds files that are not an llm-deploy Action; set "
            "LLM_DEPLOY_ACTION_REPO to another repository name."
        )
    action_yml = _published_action_yml(
        rest, full, commit, "action.yml" in current, sources.action_yml
    )
    if action_yml is None:
        action_yml = pin_uses(sources.action_yml, resolve_pins(rest, sources.action_yml))
    wanted = build_bundle(sources, full, action_yml)
    changed = {path: blob_sha(data) for path, data in wanted.items()} != current
    if changed and dry_run:
        return PublishedAction(full, "", changed=True)  # the commit to pin does not exist yet
    if changed:
        commit = _commit(
            rest,
            full,
            wanted,
            current,
            parent=commit,
            branch=branch,
            message=f"llm-deploy Action {sources.version}",
        )
    tags = tag_commit(rest, full, commit, sources.version, dry_run=dry_run)
    return PublishedAction(full, commit, changed=changed, tags=tuple(tags))


def _head(rest: Rest, full: str, ref: str = "HEAD", tries: int = 1) -> tuple[str, str] | str | None:
    """(commit, tree) of ``ref``; "empty" for a repo without commits; None when it does not exist.

    ``tries`` > 1 after creating the repo: its first commit (auto_init) may take a moment.
    """
    for attempt in range(tries):
        try:
            data = rest.call(
                "GET", f"/repos/{full}/commits/{q(ref)}", action="read the Action repo"
            )
            return str(data["sha"]), str(data["commit"]["tree"]["sha"])
        except GitHubAnswer as exc:
            if exc.status not in (404, 409, 422):
                raise
            if attempt + 1 == tries:
                return "empty" if exc.status == 409 else None
            rest.sleep(1.0 + attempt)
    return None


def _create(rest: Rest, full: str, org: str | None) -> str:
    name = full.split("/", 1)[1]
    url = f"/orgs/{q(org)}/repos" if org else "/user/repos"
    body = {
        "name": name,
        "private": False,
        "auto_init": True,
        "description": "The llm-deploy GitHub Action, published by your llm-deploy receiver",
    }
    try:
        data = rest.call("POST", url, body, action=f"create {full}")
    except GitHubAnswer as exc:
        if exc.status == 422 and "exist" in exc.message.lower():
            return "HEAD"  # created meanwhile (another receiver starting): read it back
        raise
    log.info("created the public repository %s to hold the Action", full)
    return str(data.get("default_branch") or "HEAD")


def _first_commit(rest: Rest, full: str) -> None:
    """A README through the Contents API: the Git Data API answers 409 on an empty repo."""
    body = {
        "message": "Start the llm-deploy Action repository",
        "content": base64.b64encode(b"# llm-deploy Action\n").decode(),
    }
    rest.call("PUT", f"/repos/{full}/contents/README.md", body, action=f"start {full}")


def _blobs(rest: Rest, full: str, tree_sha: str) -> dict[str, str]:
    """path -> blob id of every file in the tree (a truncated listing reads as different)."""
    data = rest.call(
        "GET",
        f"/repos/{full}/git/trees/{tree_sha}",
        params={"recursive": "1"},
        action="read the Action repo's files",
    )
    found = {e["path"]: e["sha"] for e in data["tree"] if e["type"] == "blob"}
    if data.get("truncated"):
        found["\0truncated"] = ""
    return found


def _published_action_yml(
    rest: Rest, full: str, commit: str, present: bool, source: str
) -> str | None:
    """The published action.yml when it is this source with pins (its pins are kept), else None."""
    if not present:
        return None
    data = rest.call(
        "GET",
        f"/repos/{full}/contents/action.yml",
        params={"ref": commit},
        action="read the published action.yml",
    )
    try:
        text = base64.b64decode(data["content"]).decode("utf-8")
    except (KeyError, TypeError, ValueError):
        return None
    return text if unpin(text) == source else None


def _commit(
    rest: Rest,
    full: str,
    wanted: dict[str, bytes],
    current: dict[str, str],
    *,
    parent: str,
    branch: str | None,
    message: str,
) -> str:
    """One commit holding exactly ``wanted`` on the default branch; returns its sha."""
    known = set(current.values())
    entries = []
    for path, data in wanted.items():
        entry = {"path": path, "mode": MODE, "type": "blob"}
        sha = blob_sha(data)
        if sha in known:
            entry["sha"] = sha  # GitHub has the blob: no need to send it again
        else:
            try:
                entry["content"] = data.decode("utf-8")
            except UnicodeDecodeError:
                blob = {"content": base64.b64encode(data).decode(), "encoding": "base64"}
                entry["sha"] = rest.call(
                    "POST", f"/repos/{full}/git/blobs", blob, action=f"upload {path}"
                )["sha"]
        entries.append(entry)
    # No base_tree: the new tree is the bundle alone, so files of older versions disappear.
    tree = rest.call(
        "POST", f"/repos/{full}/git/trees", {"tree": entries}, action="write the Action's tree"
    )["sha"]
    made = rest.call(
        "POST",
        f"/repos/{full}/git/commits",
        {"message": message, "tree": tree, "parents": [parent]},
        action="commit the Action",
    )["sha"]
    if branch in (None, "HEAD"):
        branch = str(
            rest.call("GET", f"/repos/{full}", action="read the Action repo")["default_branch"]
        )
    try:
        rest.call(
            "PATCH",
            f"/repos/{full}/git/refs/heads/{q(branch)}",
            {"sha": made, "force": False},
            action="move the Action's branch",
        )
    except GitHubAnswer as exc:
        if exc.status == 422:  # not a fast-forward: someone pushed meanwhile; the next try redoes
            raise ActionPublishError(
                f"{full} changed while the Action was being published; the next start (or "
                "`llm-deploy doctor --fix`) publishes again."
            ) from exc
        raise
    log.info("committed llm-deploy Action to %s: %s", full, made)
    return str(made)
