"""The job model: one deploy request as the Action works on it, with no crypto and no I/O.

The receiver builds a :class:`Job` and ``action.payload`` carries it across sealed; both sides
use these types, defined only here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# A check as the request gives it: a sentence, ``js: <expr>``, or ``{"js": <expr>}``
# (``action.checks`` classifies them).
Check = str | dict[str, str]


@dataclass(frozen=True)
class Attachment:
    """A file the request carries, decoded from its data URI."""

    name: str
    data: bytes


@dataclass(frozen=True)
class Job:
    """A deploy request minus its secret, as the Action needs it."""

    task: str
    round: int
    brief: str
    nonce: str = ""
    email: str = ""
    evaluation_url: str = ""
    checks: list[Check] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    received_at: float = 0.0
    # The checks of the task's earlier rounds (round 2 re-runs round 1's: a revision must not
    # silently lose them); the receiver fills it from its journal, manual runs leave it empty.
    previous_checks: list[Check] = field(default_factory=list)
