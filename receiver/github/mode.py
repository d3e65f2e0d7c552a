"""GitHub mode: repos, runs and Pages on GitHub; it adds each round's outcome, read from its run."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx
from starlette.routing import BaseRoute

from receiver.config import Settings
from receiver.forge import Forge, ForgeError
from receiver.github.action_ref import ActionSource
from receiver.github.forge import GitHubForge
from receiver.github.outcomes import RunOutcomes
from receiver.journal import Journal
from receiver.outcome import is_final
from receiver.workflow import ActionChoice

log = logging.getLogger("llm_deploy.github")


class GitHubMode:
    """The ``Mode`` whose forge is GitHub's REST API."""

    name = "github"

    def __init__(self, settings: Settings, *, outcomes: RunOutcomes | None = None) -> None:
        self.settings = settings
        self.journal: Journal | None = None
        self._outcomes = outcomes
        self._http: httpx.Client | None = None

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

    def bind(self, journal: Journal) -> None:
        """Keep the journal: concluded rounds' outcomes are stored there and never read again."""
        self.journal = journal

    def _reader(self) -> RunOutcomes:
        if self._outcomes is None:
            self._http = httpx.Client(timeout=httpx.Timeout(30.0, connect=10.0))
            # A status view must not hang on GitHub: one attempt, no backoff; the next view (or
            # the next poll, POLL_SECONDS later) tries again.
            reads = GitHubForge.from_settings(
                self.settings, seconds_between_writes=0, max_retries=0
            )
            self._outcomes = RunOutcomes(
                reads.read,
                self._http,
                token=self.settings.github_token or "",
                api_url=self.settings.github_api_url or "https://api.github.com",
            )
        return self._outcomes

    def _outcome(self, request_id: int | None, entry: dict[str, Any]) -> dict[str, Any] | None:
        """The round's outcome: kept in the journal once final, else read from its run."""
        if entry.get("state") != "dispatched" or not entry.get("run_url"):
            return None
        if self.journal is not None and request_id is not None:
            kept = self.journal.outcome(request_id)
            if is_final(kept):
                return kept
        try:
            found = self._reader().outcome(str(entry["run_url"]))
        except (ForgeError, httpx.HTTPError, OSError) as exc:
            log.warning("could not read the run %s: %s", entry["run_url"], exc)
            return None
        if (
            found is not None
            and is_final(found)
            and self.journal is not None
            and request_id is not None
        ):
            self.journal.set_outcome(request_id, found)
        return found

    def status(self, found: dict[str, Any]) -> dict[str, Any]:
        """The journal's status, each dispatched round with its run's outcome."""
        rounds = []
        for entry in found["rounds"]:
            request_id = (
                self.journal.find(found["task"], entry["round"], entry["nonce"])
                if self.journal is not None
                else None
            )
            outcome = self._outcome(request_id, entry)
            entry = {**entry, "outcome": outcome}
            if outcome is not None:
                entry["notified"] = outcome.get("evaluator_status") == 200
            rounds.append(entry)
        return {**found, "rounds": rounds}

    def rows(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The journal's rows, each dispatched one with its run's outcome."""
        return [{**row, "outcome": self._outcome(row.get("id"), row)} for row in rows]

    def shutdown(self) -> None:
        """Close the client that downloads reports; GitHub's runs go on without the receiver."""
        if self._http is not None:
            self._http.close()
            self._http = None
