"""docs/architecture.md names every module, wing by wing, so a newcomer finds each one there."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
MODULES = sorted(
    p.relative_to(ROOT)
    for pkg in ("action", "receiver")
    for p in (ROOT / pkg).rglob("*.py")
    if p.name != "__init__.py" and "__pycache__" not in p.parts
)


def _section(folder: Path) -> str:
    """The part of the doc about this folder: from its heading or table to the next bold line."""
    marks = {
        Path("receiver"): "**Core (`receiver/`)**",
        Path("receiver/github"): "**GitHub wing (`receiver/github/`)**",
        Path("receiver/local"): "**Local wing (`receiver/local/`)**",
        Path("action"): "**The Action** (`action.yml`, `action/`)",
        Path("receiver/doctor"): "`receiver/doctor/` (",
        Path("receiver/evaluation"): "`receiver/evaluation/` (",
    }
    start = DOC.index(marks[folder])
    rest = DOC[start + 1 :]
    ends = [i for i in (rest.find("\n**"), rest.find("\n`receiver/"), rest.find("\n###")) if i >= 0]
    return rest[: min(ends)] if ends else rest


@pytest.mark.parametrize("module", MODULES, ids=[m.as_posix() for m in MODULES])
def test_every_module_has_its_line_in_its_wing(module: Path) -> None:
    assert f"| `{module.name}` |" in _section(module.parent), (
        f"docs/architecture.md does not name {module} in the section of {module.parent}/"
    )
