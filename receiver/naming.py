"""Repository names and descriptions for a task, within GitHub's rules (pure functions)."""

from __future__ import annotations

import hashlib
import re

MAX_NAME = 100
MAX_DESCRIPTION = 160  # GitHub allows 350; short keeps listings readable
TAG_DIGITS = 32  # 128 bits of SHA-256: two task ids never share a tag by accident
_INVALID_RUN = re.compile(r"[^A-Za-z0-9._-]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


def _trim(name: str) -> str:
    name = name.strip("-.")
    while name.lower().endswith(".git"):
        name = name[: -len(".git")].rstrip("-.")
    return name


def base_name(task: str) -> str:
    """The deterministic repo name for a task: ≤ 100 chars of [A-Za-z0-9._-], never empty."""
    name = _trim(_INVALID_RUN.sub("-", task))
    name = _trim(name[:MAX_NAME])
    return name or "app"


def candidate(base: str, n: int) -> str:
    """The n-th name to try for a task (1 → base, 2 → base-2, …), still ≤ 100 chars."""
    if n <= 1:
        return base
    suffix = f"-{n}"
    stem = _trim(base[: MAX_NAME - len(suffix)]) or "app"
    return stem + suffix


def task_tag(task: str) -> str:
    """The marker naming a repo's exact task id, recorded in its description.

    Different task ids may share a base name (``a/b/c`` and ``a b c`` are both ``a-b-c``); the tag
    is a digest of the id byte for byte, so a repo found on the forge is revised only by its own
    task, and a description cut short or cleaned of control characters still identifies it.
    """
    digest = hashlib.sha256(task.encode("utf-8")).hexdigest()[:TAG_DIGITS]
    return f"[task:{digest}]"


def description(task: str, round_: int) -> str:
    """A short, control-character-free repo description: the task's tag, its id and round."""
    clean = " ".join(_CONTROL.sub(" ", task).split())
    head = f"llm-deploy {task_tag(task)}"
    text = f"{head} {clean} (round {round_})"
    if len(text) > MAX_DESCRIPTION:
        keep = MAX_DESCRIPTION - len(f"{head}  (round {round_})") - 1
        text = f"{head} {clean[:keep]}… (round {round_})"
    return text


def loggable(text: str) -> str:
    """Text safe inside one log line: control characters (newlines too) shown as escapes."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)
