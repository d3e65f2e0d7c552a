"""What one round left behind, as the evaluator can observe it (the scorer's input)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from receiver.evaluation.ports import Attachment


@dataclass
class Evidence:
    """What one round left behind, as the evaluator can observe it."""

    request: dict[str, Any]
    attachments: list[Attachment]  # this round's and earlier rounds' attachments, decoded
    note: dict[str, Any] | None  # the notification; None when none arrived
    root: Path | None = None  # a checkout of commit_sha; None when it could not be made
    checkout_error: str = ""
    served: dict[str, bytes | None] = field(default_factory=dict)  # committed path -> Pages bytes
    page_status: int | None = None  # GET pages_url
    published: dict[str, bytes | None] = field(default_factory=dict)  # CI outputs on Pages
    # Round 2: round 1's notification and whether its commit is an ancestor of this one.
    previous_note: dict[str, Any] | None = None
    descends_from_previous: bool | None = None
    previous_readme: bytes | None = None
    # Timing: when the request was sent (epoch seconds), how long until the notification, and
    # the committer time of the repo's first commit (a local stand-in for GitHub's created_at).
    requested_at: float | None = None
    seconds_to_notify: float | None = None
    first_commit_at: int | None = None
