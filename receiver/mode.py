"""The port a mode plugs into the core: where repos live and runs happen, and what that adds.

The core (app, worker, dashboard) knows only this protocol; each wing implements it, and
``receiver.modes``, the composition root's, picks one from the settings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from starlette.routing import BaseRoute

from receiver.forge import Forge
from receiver.journal import Journal
from receiver.workflow import ActionChoice


class Mode(Protocol):
    """What a mode brings: its forge, its routes, its view of a status row, its shutdown."""

    name: str  # shown by /health and the dashboard

    def describe(self) -> str:
        """One log line saying where requests go (no secret in it)."""
        ...

    def start(self) -> None:
        """Start what the mode serves beside the app (idempotent); called before ``forge``."""
        ...

    def forge(self) -> Forge:
        """The forge requests are worked against; built once, at startup."""
        ...

    def action(self) -> Callable[[], ActionChoice]:
        """What new workflows ``uses:``, asked for each time one is written (it may still be
        being published, and may fail: the request then fails with the fix)."""
        ...

    def routes(self) -> list[BaseRoute]:
        """Extra HTTP routes; their endpoints find the journal and the mode on ``app.state``."""
        ...

    def openapi_paths(self) -> dict[str, dict[str, Any]]:
        """OpenAPI path items describing ``routes()``."""
        ...

    def bind(self, journal: Journal) -> None:
        """Called once at startup with the journal, where a mode may keep rounds' outcomes."""
        ...

    def status(self, found: dict[str, Any]) -> dict[str, Any]:
        """A task's status (``Journal.status``) with whatever this mode knows beyond the journal:
        at least each dispatched round's ``outcome`` (``receiver.outcome.round_outcome``)."""
        ...

    def rows(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Dashboard rows (``Journal.recent``) with whatever this mode knows beyond the journal."""
        ...

    def shutdown(self) -> None:
        """Release what the mode started (idempotent); called when the app stops."""
        ...
