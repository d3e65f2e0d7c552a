"""Shared fixtures: the request corpus and paths to the shared reference material."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
TASKS_DIR = SHARED / "tasks"


def load_task(name: str) -> dict[str, Any]:
    """One request body from ../shared/tasks by file stem, e.g. 'sum-of-sales-601-r1'."""
    return json.loads((TASKS_DIR / f"{name}.json").read_text(encoding="utf-8"))


def task_names() -> list[str]:
    return sorted(p.stem for p in TASKS_DIR.glob("*.json"))


def task_sequences() -> list[list[str]]:
    """Each task's round 1 followed by its round-2 variants, as file stems."""
    firsts = [n for n in task_names() if n.endswith("-r1")]
    return [[f, *sorted(n for n in task_names() if n.startswith(f[:-3] + "-r2"))] for f in firsts]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # CI sets this so that browser tests cannot silently skip on a machine without Chromium.
    if os.environ.get("LLM_DEPLOY_REQUIRE_BROWSER") and not shutil.which("chromium"):
        raise pytest.UsageError("LLM_DEPLOY_REQUIRE_BROWSER is set but chromium is not installed.")


@pytest.fixture
def tasks_dir() -> Path:
    return TASKS_DIR
