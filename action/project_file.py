"""The project file that installs the Action's ``action`` package alone, from its own folder.

Every mode that builds the Action's folder (from a checkout or from an installed wheel) writes
this file into it, so the folder installs on its own wherever it is published or run.
"""

from __future__ import annotations


def split_requires(requires: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """Base requirements and those of the ``verify`` extra, markers dropped."""
    base, verify = [], []
    for req in requires:
        name, _, marker = req.partition(";")
        if not marker.strip():
            base.append(name.strip())
        elif "extra" in marker and '"verify"' in marker.replace("'", '"'):
            verify.append(name.strip())
    return base, verify


def pyproject_text(version: str, requires: tuple[str, ...]) -> str:
    """A project file that installs only the ``action`` package, with its own dependencies."""
    base, verify = split_requires(requires)
    return "\n".join(
        [
            "# Installs the Action's Python package; action.yml runs `pip install <this folder>`.",
            "[build-system]",
            'requires = ["setuptools>=61"]',
            'build-backend = "setuptools.build_meta"',
            "",
            "[project]",
            'name = "llm-deploy-action"',
            f'version = "{version}"',
            'description = "The llm-deploy GitHub Action: brief in, deployed Pages site out."',
            'requires-python = ">=3.11"',
            f"dependencies = {_toml_list(base)}",
            "",
            "[project.optional-dependencies]",
            f"verify = {_toml_list(verify)}",
            "",
            "[tool.setuptools]",
            'packages = ["action"]',
            "",
            "[tool.setuptools.package-data]",
            'action = ["templates/*.j2", "locks/*.txt", "py.typed"]',
            "",
        ]
    )


def _toml_list(items: list[str]) -> str:
    return "[" + ", ".join(f'"{item}"' for item in items) + "]"
