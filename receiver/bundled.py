"""Top-level repo files that travel inside the wheel: the workflow templates and ``action.yml``.

In the repo they live where a reader expects them (``workflow-templates/``, ``action.yml``); the
wheel build copies them into ``receiver/bundled/`` (see ``setup.py``). An editable install has no
such copy and reads them from the checkout instead.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent  # the repo, when running from one


def bundled_path(relative: str) -> Path:
    """The file or folder named ``relative`` in the repo: the wheel's copy, else the checkout's."""
    packaged = Path(str(resources.files("receiver").joinpath("bundled", relative)))
    return packaged if packaged.exists() else CHECKOUT / relative
