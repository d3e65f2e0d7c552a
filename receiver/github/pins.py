"""Which ``uses:`` lines of the Action's files to pin, and how to read a pin back (pure).

A tag can be moved by whoever owns the action, and an organisation may require every action to be
pinned to a full commit SHA (``sha_pinning_required``), in which case a run whose workflow or
composite action names a tag fails before it starts. A pinned line keeps the tag it was resolved
from as a comment: ``uses: actions/checkout@<sha> # v7`` (``receiver.workflow.pin_uses``).
"""

from __future__ import annotations

import re

from receiver.workflow import USES

FULL_SHA = re.compile(r"^[0-9a-f]{40}$")
_PINNED = re.compile(r"@(?P<sha>[0-9a-f]{40})\s*#\s*(?P<tag>[\w./+-]+)\s*$")


def repo_of(action: str) -> str:
    """``owner/name`` of an action reference that may name a sub-folder (``owner/name/path``)."""
    return "/".join(action.split("/")[:2])


def tag_refs(text: str) -> list[str]:
    """The ``owner/name[/path]@ref`` of every ``uses:`` line not yet pinned to a full SHA."""
    found: list[str] = []
    for line in text.splitlines():
        m = USES.match(line)
        if m and not FULL_SHA.match(m["ref"]):
            ref = f"{m['action']}@{m['ref']}"
            if ref not in found:
                found.append(ref)
    return found


def unpin(text: str) -> str:
    """The inverse of ``pin_uses``: ``x@<sha> # tag`` back to ``x@tag`` on every ``uses:`` line."""
    out = []
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        m = USES.match(body)
        p = _PINNED.search(body) if m else None
        if m and p:
            line = f"{m['lead']}{m['action']}@{p['tag']}{line[len(body) :]}"
        out.append(line)
    return "".join(out)
