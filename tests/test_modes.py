"""The wings: the settings pick a mode in one place, the core imports neither wing, and local
mode's shutdown ends the steps it started (nothing is registered at import)."""

from __future__ import annotations

import ast
import os
import subprocess
import time
from pathlib import Path

import pytest

from receiver.config import Settings
from receiver.local.steps import StepProcesses
from receiver.modes import mode_for

CORE = Path(__file__).resolve().parent.parent / "receiver"


@pytest.mark.parametrize(
    ("env", "name"),
    [({}, "local"), ({"GITHUB_TOKEN": "ghp_x"}, "github")],
    ids=["no-token-local", "token-github"],
)
def test_the_token_picks_the_mode(tmp_path: Path, env: dict[str, str], name: str) -> None:
    settings = Settings.from_environ(
        {"DEPLOY_SECRET": "s", "LLM_DEPLOY_DATA": str(tmp_path), **env}
    )
    mode = mode_for(settings)
    assert mode.name == name
    assert name in mode.describe().lower()


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize(
    "module", sorted(p.name for p in CORE.glob("*.py") if p.name not in ("modes.py", "cli.py"))
)
def test_the_core_imports_no_wing(module: str) -> None:
    wings = {
        m for m in _imports(CORE / module) if m.startswith(("receiver.local", "receiver.github"))
    }
    assert wings == set()


def test_shutdown_ends_running_step_groups() -> None:
    processes = StepProcesses()
    child = subprocess.Popen(["sleep", "60"], start_new_session=True)
    processes.add(child.pid)
    try:
        processes.shutdown()
        assert child.wait(10) == -9
        assert processes.stopping.is_set()
    finally:
        if child.poll() is None:
            os.killpg(child.pid, 9)
            child.wait()


def test_a_second_set_of_steps_is_untouched_by_anothers_shutdown() -> None:
    ours, theirs = StepProcesses(), StepProcesses()
    child = subprocess.Popen(["sleep", "60"], start_new_session=True)
    theirs.add(child.pid)
    try:
        ours.shutdown()
        time.sleep(0.2)
        assert child.poll() is None and not theirs.stopping.is_set()
    finally:
        os.killpg(child.pid, 9)
        child.wait()
