"""Wheel builds copy the top-level files the receiver needs into the package (see pyproject).

``workflow-templates/`` and ``action.yml`` stay at the top of the repo, where GitHub and readers
expect them; ``receiver.bundled`` finds the copy in an installed wheel, or the checkout otherwise.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
BUNDLED = {
    "workflow-templates": "workflow-templates",
    "action.yml": "action.yml",
    "LICENSE": "LICENSE",
}


class BuildWithBundledFiles(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # editable installs read the checkout itself
        target = Path(self.build_lib) / "receiver" / "bundled"
        for source, name in BUNDLED.items():
            src, dest = ROOT / source, target / name
            if src.is_dir():
                shutil.copytree(src, dest, dirs_exist_ok=True)
            elif src.is_file():
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dest)


setup(cmdclass={"build_py": BuildWithBundledFiles})
