"""The layers inside ``action/`` stay apart: what each module may not import."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ACTION = Path(__file__).resolve().parent.parent / "action"


def imported(module: str) -> set[str]:
    """Every module a file of ``action/`` imports, at any depth of its code."""
    tree = ast.parse((ACTION / f"{module}.py").read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


@pytest.mark.parametrize(
    ("module", "forbidden"),
    [
        ("job", ("action.", "nacl")),
        ("settings", ("action.payload", "action.job_source", "nacl")),
        ("repair", ("action.report",)),
        ("run_report", ("action.report", "action.settings", "action.repair")),
        ("check_report", ("action.", "nacl")),
        ("defaults", ("action.", "receiver")),
        ("payload", ("action.settings", "receiver")),
    ],
    ids=[
        "job-model-alone",
        "settings-decrypt-nothing",
        "repair-no-presentation",
        "report-data-no-presentation",
        "check-data-alone",
        "defaults-alone",
        "payload-no-settings",
    ],
)
def test_module_does_not_import(module: str, forbidden: tuple[str, ...]) -> None:
    bad = sorted(n for n in imported(module) if n.startswith(forbidden))
    assert not bad, f"action/{module}.py imports {bad}"


def test_the_action_never_imports_the_receiver() -> None:
    for path in sorted(ACTION.glob("*.py")):
        assert not any(n.startswith("receiver") for n in imported(path.stem)), path.name
