"""Repository names and descriptions for a task, within GitHub's rules (pure functions)."""

from __future__ import annotations

import re

MAX_NAME = 100
MAX_DESCRIPTION = 120
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


def description(task: str, round_: int) -> str:
    """A short, control-character-free repo description naming the task and round."""
    clean = " ".join(_CONTROL.sub(" ", task).split())
    text = f"llm-deploy: {clean} (round {round_})"
    if len(text) > MAX_DESCRIPTION:
        keep = MAX_DESCRIPTION - len(f"llm-deploy:  (round {round_})") - 1
        text = f"llm-deploy: {clean[:keep]}… (round {round_})"
    return text
