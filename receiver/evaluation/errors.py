"""The one exception family of the evaluation package."""

from __future__ import annotations


class EvalError(Exception):
    """An evaluation cannot proceed; the message says what to change."""
