"""Resolve the tags ``uses:`` lines name, and tag the published Action's commit.

A tag is resolved with ``GET /repos/{o}/{r}/git/ref/tags/{tag}``; an annotated tag points at a
tag object, followed with ``GET .../git/tags/{sha}``. A tag that does not resolve (an Enterprise
server without that action) stays a tag, with a warning: better a run that may start than none.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from receiver.github.pins import repo_of, tag_refs
from receiver.github.rest import GitHubAnswer, Rest

log = logging.getLogger("llm_deploy.action")


def q(part: str) -> str:
    return quote(part, safe="")


def resolve_tag(rest: Rest, action: str, tag: str) -> str | None:
    """The commit a tag of ``owner/name`` points at (annotated tags followed), None if unknown."""
    repo = repo_of(action)
    try:
        ref = rest.call(
            "GET", f"/repos/{repo}/git/ref/tags/{q(tag)}", action=f"resolve {action}@{tag}"
        )
        obj = ref["object"]
        for _ in range(3):  # a tag of a tag is legal; GitHub's own actions use one level at most
            if obj["type"] != "tag":
                break
            obj = rest.call(
                "GET", f"/repos/{repo}/git/tags/{obj['sha']}", action=f"resolve {action}@{tag}"
            )["object"]
    except GitHubAnswer as exc:
        log.warning("could not pin %s@%s to a commit (%s); it stays a tag", action, tag, exc)
        return None
    return str(obj["sha"]) if obj["type"] == "commit" else None


def resolve_pins(rest: Rest, text: str) -> dict[str, str]:
    """Commit SHAs for the tag references of ``text``'s ``uses:`` lines that resolve."""
    pins = {}
    for ref in tag_refs(text):
        action, _, tag = ref.rpartition("@")
        sha = resolve_tag(rest, action, tag)
        if sha:
            pins[ref] = sha
    return pins


def tag_commit(rest: Rest, full: str, commit: str, version: str, *, dry_run: bool) -> list[str]:
    """Point ``v<version>`` (or ``v<version>+<sha>``) and ``v<major>`` at ``commit``."""
    major = f"v{version.split('.', 1)[0]}"
    data = rest.call(
        "GET", f"/repos/{full}/git/matching-refs/tags/{q(major)}", action="read the Action's tags"
    )
    tags = {r["ref"].removeprefix("refs/tags/"): r["object"]["sha"] for r in data}
    done: list[str] = []
    exact = f"v{version}"
    if tags.get(exact, commit) != commit:
        log.warning(
            "tag %s of %s is on commit %s, not this build's content; tagging %s as %s+%s instead",
            exact,
            full,
            tags[exact][:12],
            commit[:12],
            exact,
            commit[:7],
        )
        exact = f"v{version}+{commit[:7]}"
    for tag in (exact, major):
        if tags.get(tag) == commit:
            continue
        done.append(tag)
        if dry_run:
            continue
        if tag in tags:  # only the major tag moves
            rest.call(
                "PATCH",
                f"/repos/{full}/git/refs/tags/{q(tag)}",
                {"sha": commit, "force": True},
                action=f"move the tag {tag}",
            )
        else:
            try:
                rest.call(
                    "POST",
                    f"/repos/{full}/git/refs",
                    {"ref": f"refs/tags/{tag}", "sha": commit},
                    action=f"tag {tag}",
                )
            except GitHubAnswer as exc:
                if exc.status != 422:
                    raise
    return done
