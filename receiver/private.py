"""Files at rest are the owner's alone: the data folder 0700, what the receiver writes 0600.

The data folder holds the journal (requests with emails and evaluation URLs, the per-repo payload
keys) and whatever a mode keeps there (run logs, dispatch records, notifications). Modes are set
explicitly, not left to the umask, so a receiver started from any shell keeps them private.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TextIO, cast

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Create the folder (and parents) if missing and make it 0700; return it."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Create the file empty if missing and make it 0600; return it."""
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return Path(path)


def open_private(path: Path, mode: str = "w") -> TextIO:
    """Open a text file for writing ("w") or appending ("a"), created 0600 (UTF-8)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode == "a" else os.O_TRUNC)
    fd = os.open(path, flags, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return cast(TextIO, os.fdopen(fd, mode, encoding="utf-8"))


def write_private(path: Path, text: str) -> None:
    """Write text to a 0600 file, replacing what was there."""
    with open_private(path, "w") as out:
        out.write(text)
