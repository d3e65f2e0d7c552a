"""GitHub mode: repos, runs and Pages on GitHub; the receiver adds nothing to what it journals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.routing import BaseRoute

from receiver.config import Settings
from receiver.forge import Forge
from receiver.github.action_ref import ActionSource
from receiver.github.forge import GitHubForge
from receiver.workflow import ActionChoice


class GitHubMode:
    """The ``Mode`` whose forge is GitHub's REST API."""

    name = "github"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def describe(self) -> str:
        """Where requests go."""
        owner = self.settings.github_owner or "the token's user"
        return f"GitHub mode as {owner}"

    def start(self) -> None:
        """Nothing to start: GitHub serves the sites."""

    def forge(self) -> Forge:
        """A GitHubForge from the settings."""
        return GitHubForge.from_settings(self.settings)

    def action(self) -> Callable[[], ActionChoice]:
        """This version's Action, published into the user's account in the background."""
        source = ActionSource(self.settings)
        source.start()  # logs, at once or when published, which reference new repos use
        return source.get

    def routes(self) -> list[BaseRoute]:
        """None: GitHub serves the sites and the run pages."""
        return []

    def openapi_paths(self) -> dict[str, dict[str, Any]]:
        """None: no routes of its own."""
        return {}

    def status(self, found: dict[str, Any]) -> dict[str, Any]:
        """The journal's status as it is: GitHub shows the runs."""
        return found

    def rows(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The journal's rows as they are."""
        return rows

    def shutdown(self) -> None:
        """Nothing runs here: GitHub's runs go on without the receiver."""
