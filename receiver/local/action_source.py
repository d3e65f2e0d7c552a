"""The Action's source tree that local runs execute: the checkout, or one rebuilt from a wheel.

``action.yml`` installs the Action from ``github.action_path`` (``pip install <path>``), so the
runner needs a folder holding ``action.yml``, ``pyproject.toml`` and ``action/``. A source
checkout is that folder. An installed wheel has the ``action`` package and a bundled
``action.yml`` but no project file, so the folder is assembled under the data folder, with a
``pyproject.toml`` that installs only ``action`` and the dependencies this install declares.
"""

from __future__ import annotations

import os
import shutil
from importlib import metadata, util
from pathlib import Path

from action.project_file import pyproject_text
from receiver.bundled import CHECKOUT, bundled_path

DIST = "llm-deploy"


def action_path(data_dir: Path) -> Path:
    """The folder the local runner reads ``action.yml`` from (assembled once per start)."""
    if all((CHECKOUT / name).exists() for name in ("action.yml", "pyproject.toml", "action")):
        return CHECKOUT  # a source checkout (an editable install)
    return assemble(Path(data_dir) / "action-source")


def assemble(target: Path) -> Path:
    """Write action.yml, the installed ``action`` package and a pyproject.toml into target."""
    spec = util.find_spec("action")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("The 'action' package is not installed beside the receiver.")
    package = Path(next(iter(spec.submodule_search_locations)))
    tmp = target.with_name(f".{target.name}.tmp.{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(package, tmp / "action", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copyfile(bundled_path("action.yml"), tmp / "action.yml")
    (tmp / "pyproject.toml").write_text(_pyproject(), "utf-8")
    old = target.with_name(f".{target.name}.old.{os.getpid()}")
    if target.exists():
        target.rename(old)  # swapped, not edited in place, so the venv key sees a whole tree
    tmp.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    return target


def _pyproject() -> str:
    """A project file for the ``action`` package alone, with this install's dependencies."""
    return pyproject_text(metadata.version(DIST), tuple(metadata.requires(DIST) or ()))
