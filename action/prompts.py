"""The conversation we hold with the model, rendered from the Jinja2 templates in ``templates/``."""

from __future__ import annotations

import functools
import posixpath
import re
from dataclasses import dataclass
from typing import Any

import jinja2

from action.job import Check, Job

# Characters of current files sent in round 2; the rest are listed by name only.
FILE_BUDGET = 60_000
FILE_LIMIT = 24_000
# Versions a generated CI workflow should use (docs: DESIGN.md, "Workflow in the generated repo").
ACTION_VERSIONS = (
    "actions/checkout@v7",
    "actions/setup-python@v7",
    "actions/configure-pages@v6",
    "actions/upload-pages-artifact@v5",
    "actions/deploy-pages@v5",
)
_BINARY_EXTENSIONS = frozenset(
    {
        *(".png", ".jpg", ".jpeg", ".gif", ".webp", ".ico", ".bmp", ".pdf", ".zip", ".gz"),
        *(".tgz", ".xlsx", ".xls", ".docx", ".pptx", ".woff", ".woff2", ".ttf", ".otf"),
        *(".mp3", ".mp4", ".wav", ".ogg", ".webm", ".wasm", ".sqlite", ".db"),
    }
)
# A bare JavaScript expression, as the evaluator sends some checks without a "js:" prefix.
_JS_HINT = re.compile(
    r"document\.|window\.|querySelector|localStorage|Math\.|===|!==|=>|^\s*!|^\s*\(|\)\s*\.\w+\("
)


@dataclass(frozen=True)
class CheckView:
    text: str
    browser: bool


@dataclass(frozen=True)
class FileView:
    path: str
    content: str
    trimmed: int  # characters left out of the middle; 0 when whole


@functools.cache
def _environment() -> jinja2.Environment:
    # Plain-text prompts: escaping HTML would corrupt the checks we must quote verbatim.
    return jinja2.Environment(
        loader=jinja2.PackageLoader("action", "templates"),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(name: str, **context: Any) -> str:
    """Render one template from ``action/templates``."""
    return _environment().get_template(name).render(**context).strip() + "\n"


def describe_check(check: Check) -> CheckView:
    """A check as the prompt shows it: verbatim text, and whether a browser evaluates it."""
    if isinstance(check, dict):
        return CheckView(str(check.get("js", check)), True)
    text = str(check)
    return CheckView(text, text.lstrip().lower().startswith("js:") or bool(_JS_HINT.search(text)))


def _attachment_lines(job: Job, notes: list[str]) -> list[str]:
    lines = list(notes)
    for att in job.attachments:
        if not any(att.name in note for note in notes):
            lines.append(f"{att.name} ({len(att.data)} bytes)")
    return lines


def _is_listed_only(path: str, content: str, attachments: set[str], allow_workflows: bool) -> bool:
    name = posixpath.basename(path)
    return (
        path in attachments
        or name.upper() in {"LICENSE", "LICENSE.MD", "LICENSE.TXT"}
        or posixpath.splitext(path)[1].lower() in _BINARY_EXTENSIONS
        or "\x00" in content
        or (path.startswith(".github/") and not allow_workflows)
    )


def _priority(path: str) -> tuple[int, str]:
    ext = posixpath.splitext(path)[1].lower()
    if path == "index.html":
        return (0, path)
    if ext in {".html", ".js", ".css"}:
        return (1, path)
    if path == "README.md":
        return (2, path)
    return (3, path)


def select_files(
    files: dict[str, str],
    *,
    attachments: set[str],
    allow_workflows: bool = False,
    budget: int = FILE_BUDGET,
    limit: int = FILE_LIMIT,
) -> tuple[list[FileView], list[str]]:
    """Which current files to show (trimmed to the budget) and which to list by name only."""
    shown: list[FileView] = []
    listed: list[str] = []
    left = budget
    for path in sorted(files, key=_priority):
        content = files[path]
        if _is_listed_only(path, content, attachments, allow_workflows) or left < 2_000:
            listed.append(path)
            continue
        room = min(limit, left)
        if len(content) > room:
            # Keep both ends: the head holds <head>/<script>, the tail the closing markup.
            head, tail = content[: room * 2 // 3], content[-(room // 3) :]
            view = FileView(path, f"{head}\n[…]\n{tail}", len(content) - len(head) - len(tail))
        else:
            view = FileView(path, content, 0)
        shown.append(view)
        left -= len(view.content)
    return shown, listed


def generation_messages(
    job: Job,
    *,
    attachment_notes: list[str],
    current_files: dict[str, str] | None = None,
    allow_workflows: bool = False,
    earlier: list[Check] | None = None,
) -> list[dict[str, str]]:
    """System and user messages asking for the whole app (round 1) or a revision (round 2).

    ``earlier`` lists the earlier rounds' checks this round does not repeat: a revision is held
    to them too (``action.earlier_checks``).
    """
    round2 = current_files is not None
    context: dict[str, Any] = {
        "task": job.task,
        "round": job.round,
        "brief": job.brief.strip(),
        "checks": [describe_check(c) for c in job.checks],
        "attachments": _attachment_lines(job, attachment_notes),
        "allow_workflows": allow_workflows,
        "action_versions": ACTION_VERSIONS,
        "round2": round2,
        "earlier_checks": [describe_check(c) for c in earlier or []],
    }
    if current_files is not None:
        shown, listed = select_files(
            current_files,
            attachments={a.name for a in job.attachments},
            allow_workflows=allow_workflows,
        )
        user = render("round2.j2", files=shown, listed=listed, **context)
    else:
        user = render("round1.j2", **context)
    return [
        {"role": "system", "content": render("system.j2", **context)},
        {"role": "user", "content": user},
    ]


def correction_message(error: str, *, round2: bool = False) -> dict[str, str]:
    """Ask the model to resend an unusable answer in the envelope."""
    return {"role": "user", "content": render("correction.j2", error=error, round2=round2)}


def repair_message(failures: list[str]) -> dict[str, str]:
    """Ask the model to fix concrete check failures and keep everything else."""
    return {"role": "user", "content": render("repair.j2", failures=failures)}


def whole_file_request(paths: list[str]) -> dict[str, str]:
    """Ask for whole files after edit blocks whose search text did not match."""
    return {"role": "user", "content": render("whole_file.j2", paths=paths)}
