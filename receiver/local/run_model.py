"""The record of one local run and the small helpers its steps share.

``RunResult``/``StepRecord`` are what ``data_dir/runs/<id>.json`` holds; ``RunState`` is what the
steps of one run share while it executes; ``Masker`` keeps secrets out of every log line. The
helpers read the files and YAML values steps hand back and run git for the runner.
"""

from __future__ import annotations

import itertools
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO


class StepFailed(Exception):
    """A step failed; the message is safe to log."""


@dataclass
class StepRecord:
    name: str
    state: str = "pending"  # running | success | failure | skipped
    elapsed: float = 0.0
    outputs: dict[str, str] = field(default_factory=dict)
    error: str = ""


@dataclass
class RunResult:
    run_id: int
    repo: str
    workflow: str
    state: str = "queued"  # queued | running | success | failure
    started_at: float = 0.0
    elapsed: float = 0.0
    steps: list[StepRecord] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    error: str = ""
    attempt: int = 1  # "Re-run jobs" makes attempt 2, 3, … of the same run id


class Masker:
    """Replaces every registered secret value with ***."""

    def __init__(self, values: Iterable[str]) -> None:
        self._values: set[str] = set()
        for v in values:
            self.add(v)

    def add(self, value: str) -> None:
        for part in [value, *value.splitlines()]:
            if len(part.strip()) >= 3:  # masking "1" or "" would shred every log line
                self._values.add(part.strip())

    def mask(self, text: str) -> str:
        for value in sorted(self._values, key=len, reverse=True):
            text = text.replace(value, "***")
        return text


def parse_env_file(text: str) -> dict[str, str]:
    """Parse a GITHUB_OUTPUT/GITHUB_ENV file: ``k=v`` lines and ``k<<DELIM`` heredocs."""
    values: dict[str, str] = {}
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i].rstrip("\r")
        i += 1
        if not line.strip():
            continue
        eq, hd = line.find("="), line.find("<<")
        if eq >= 0 and (hd < 0 or eq < hd):
            values[line[:eq]] = line[eq + 1 :]
            continue
        if hd < 0:
            raise StepFailed(f"Malformed line in an output file: {line[:40]!r}.")
        key, delim = line[:hd], line[hd + 2 :]
        body: list[str] = []
        while i < len(lines) and lines[i].rstrip("\r") != delim:
            body.append(lines[i].rstrip("\r"))
            i += 1
        if i >= len(lines):
            raise StepFailed(f"The output {key!r} has no closing delimiter.")
        i += 1
        values[key] = "\n".join(body)
    return values


def yaml_str(value: Any) -> str:
    """A YAML scalar as GitHub hands it to expressions (booleans lower-case, null empty)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def str_map(value: Any) -> dict[str, str]:
    """A YAML mapping (``env:``) as strings; anything else as empty."""
    if not isinstance(value, dict):
        return {}
    return {str(k): yaml_str(v) for k, v in value.items()}


def run_git(*args: str) -> str:
    """Run git; StepFailed with its stderr on failure."""
    proc = subprocess.run(["git", *args], capture_output=True, check=False)
    if proc.returncode != 0:
        raise StepFailed(f"git {args[0]} failed: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout.decode("utf-8", "replace").strip()


@dataclass
class RunState:
    """What the steps of one run share: record, masks, log, env, contexts and folders."""

    result: RunResult
    masker: Masker
    logfile: TextIO
    env: dict[str, str]
    github: dict[str, Any]
    runner_ctx: dict[str, str]
    workspace: Path
    temp: Path
    clone_url: str
    deadline: float = 0.0
    status: str = "success"
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    save: Callable[[], None] = lambda: None  # persists the record: progress for /runs and status

    def write(self, line: str) -> None:
        self.logfile.write(self.masker.mask(line.rstrip("\n")) + "\n")
        self.logfile.flush()
