"""Limits on what a model may commit: how much, which secrets never, and when workflows.

A model answer is untrusted: a prompt-injected brief, or a model gone astray, can emit thousands
of files, tens of megabytes, the API key it was called with, or a CI workflow that runs with the
repository's secrets. The writer asks this module about every file before writing it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

MAX_FILES = 200  # distinct paths the model may write in one run (repairs included)
MAX_TOTAL_BYTES = 20_000_000  # their combined size; a file over 2 MB is refused on its own
_MIN_SECRET = 8  # shorter "secrets" would match ordinary text and refuse innocent files

# GitHub's token formats: classic PATs, OAuth, user-to-server, server-to-server, refresh tokens
# and fine-grained PATs. A real one is long; short examples in docs do not match.
GITHUB_TOKEN_PATTERN = re.compile(
    rb"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{60,})\b"
)
# What in a brief or its checks asks for a workflow of the app's own.
_WANTS_WORKFLOW = re.compile(
    r"github\s+actions?|\bworkflows?\b|\.github/workflows|\bCI\b|continuous integration",
    re.IGNORECASE,
)
# A workflow reaches a repository secret only by naming the `secrets` context in an expression
# (`secrets.X`, `secrets['X']`, `toJSON(secrets)`, `secrets: inherit`); the job token is allowed.
_JOB_TOKEN = re.compile(rb"secrets\s*\.\s*github_token\b", re.IGNORECASE)
_SECRETS = re.compile(rb"\bsecrets\b", re.IGNORECASE)


@dataclass
class Budget:
    """The model's share of the site this run: file count and total bytes, by path."""

    max_files: int = MAX_FILES
    max_total_bytes: int = MAX_TOTAL_BYTES
    sizes: dict[str, int] = field(default_factory=dict)  # path → bytes now written

    def refusal(self, path: str, size: int) -> str | None:
        """Why writing `size` bytes at `path` would exceed the budget, or None."""
        if path not in self.sizes and len(self.sizes) >= self.max_files:
            return (
                f"the answer has more files than the {self.max_files}-file cap for one run; "
                "a site rarely needs more, so bundle or drop files"
            )
        total = sum(self.sizes.values()) - self.sizes.get(path, 0) + size
        if total > self.max_total_bytes:
            return (
                f"writing it would bring the model's files to {total} bytes, over the "
                f"{self.max_total_bytes}-byte cap for one run"
            )
        return None

    def record(self, path: str, size: int) -> None:
        self.sizes[path] = size


def secret_in(data: bytes, known: Mapping[str, str]) -> str | None:
    """The name of the secret `data` holds (a known value, or a GitHub token), or None.

    Only the name is returned, so a refusal can be reported without repeating the value.
    """
    for name, value in known.items():
        if len(value) >= _MIN_SECRET and value.encode("utf-8") in data:
            return name
    if GITHUB_TOKEN_PATTERN.search(data):
        return "a GitHub token"
    return None


def wants_workflow(*texts: str) -> bool:
    """True when the brief (or a check) asks for a workflow: GitHub Actions, CI, a workflow."""
    return any(_WANTS_WORKFLOW.search(t) for t in texts if t)


def workflow_refusal(data: bytes) -> str | None:
    """Why a model-written workflow may not be committed: it names a repository secret."""
    if _SECRETS.search(_JOB_TOKEN.sub(b"", data)):
        return (
            "the workflow reads repository secrets (the LLM key, the payload key and the push "
            "token live there); a model-written workflow may use only secrets.GITHUB_TOKEN"
        )
    return None
