"""Which of the app's own workflows publish GitHub Pages when a push starts them.

A brief may ask the app to ship its own CI that deploys Pages (``Analyze``: "publishes result.json
via GitHub Pages"). When such a workflow is committed with a push token, the push starts it and it
publishes the site; the Action then steps aside, because two publishers of one site race and the
later one silently replaces the other's files. A text scan is enough here: the Action's base
install has no YAML parser, and a false negative only restores the old behaviour (both deploy).
"""

from __future__ import annotations

import re
from pathlib import Path

_DEPLOYS_PAGES = re.compile(r"uses:\s*['\"]?actions/deploy-pages@", re.IGNORECASE)
# `on: push`, `on: [push, ...]` or a `push:` key in the `on:` mapping.
_ON_PUSH = re.compile(r"(?m)^\s*['\"]?on['\"]?\s*:\s*(?:\[[^\]]*\bpush\b|push\b)|^\s+push\s*:")


def pages_workflows(root: Path, own_workflow: str) -> list[str]:
    """Paths of committed workflows (not ours) that deploy Pages on push, sorted."""
    folder = root / ".github" / "workflows"
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.iterdir()):
        rel = f".github/workflows/{path.name}"
        if path.suffix not in (".yml", ".yaml") or rel.lower() == own_workflow.lower():
            continue
        if not path.is_file() or path.is_symlink():
            continue
        text = path.read_text("utf-8", "replace")
        if _DEPLOYS_PAGES.search(text) and _ON_PUSH.search(text):
            found.append(rel)
    return found
