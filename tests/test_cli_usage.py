"""Both command lines print usage on ``--help`` and exit 0, and refuse a bad command with 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

CASES = [
    ("action-help", [sys.executable, "-m", "action", "--help"], 0, "usage: python -m action"),
    ("action-unknown-step", [sys.executable, "-m", "action", "bogus"], 2, "invalid choice"),
    ("receiver-help", [sys.executable, "-m", "receiver.cli", "--help"], 0, "usage: llm-deploy"),
    (
        "receiver-serve-help",
        [sys.executable, "-m", "receiver.cli", "serve", "--help"],
        0,
        "usage: llm-deploy serve",
    ),
    ("receiver-no-command", [sys.executable, "-m", "receiver.cli"], 2, "usage: llm-deploy"),
]


@pytest.mark.parametrize(
    ("argv", "code", "text"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_usage(argv: list[str], code: int, text: str) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == code, done.stderr
    assert text in done.stdout + done.stderr
