"""Which Action new repos use: ``LLM_DEPLOY_ACTION_REF`` as given, or this version published.

Public API (the receiver's startup and ``llm-deploy doctor`` call these):

* ``ensure_action(settings, http=..., dry_run=...)`` publishes this version's Action into the
  user's account when needed (``dry_run``: only reports) and returns the ``ActionChoice`` that new
  workflows use; raises ``ActionPublishError`` with a sentence naming the fix.
* ``ActionSource(settings)`` resolves that once per process, in the background at startup, logs
  one line saying which reference new repos will use, and hands it to the worker; a failed
  attempt is retried when the next request needs the workflow, and that request fails with the
  error (never a workflow whose ``uses:`` cannot resolve).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import httpx

from receiver.config import Settings
from receiver.github.action_bundle import BundleError, Sources, load_sources
from receiver.github.action_publish import publish
from receiver.github.action_tags import resolve_pins
from receiver.github.pins import FULL_SHA
from receiver.github.rest import ActionPublishError, Rest
from receiver.workflow import FIX_ACTION, ActionChoice, override_choice, template_text

log = logging.getLogger("llm_deploy.action")

FIX = FIX_ACTION

__all__ = [
    "ActionPublishError",
    "ActionSource",
    "ensure_action",
    "fixed_choice",
]


def fixed_choice(settings: Settings) -> ActionChoice | None:
    """The choice that needs no GitHub call (the override), else None."""
    return override_choice(settings)


def ensure_action(
    settings: Settings,
    *,
    http: httpx.Client | None = None,
    dry_run: bool = False,
    sleep: Callable[[float], None] = time.sleep,
    sources: Sources | None = None,
) -> ActionChoice:
    """Make the Action repo hold this version (``dry_run``: only check) and say what to pin.

    In a dry run that finds the repo out of date, ``ref`` is empty and ``source`` says what
    ``--fix`` would do.
    """
    fixed = fixed_choice(settings)
    if fixed is not None:
        return fixed
    assert settings.github_token is not None  # GitHub mode
    if http is None:
        with httpx.Client(timeout=30.0) as own:
            return ensure_action(settings, http=own, dry_run=dry_run, sleep=sleep, sources=sources)
    if sources is None:
        try:
            sources = load_sources()
        except BundleError as exc:
            raise ActionPublishError(str(exc)) from exc
    rest = Rest(http, token=settings.github_token, api_url=settings.github_api_url, sleep=sleep)
    done = publish(
        rest,
        owner=settings.github_owner,
        name=settings.action_repo,
        sources=sources,
        dry_run=dry_run,
    )
    version = f"v{sources.version}"
    if not done.commit:
        return ActionChoice("", f"{done.repo} does not hold the Action {version} yet")
    if dry_run and done.tags:
        why = f"{done.repo} holds {version}; would tag {', '.join(done.tags)}"
    elif dry_run or not done.changed:
        why = f"{done.repo} already holds {version}"
    else:
        why = f"published {version} into {done.repo}"
    if done.tags and not dry_run:
        why += f", tagged {', '.join(done.tags)}"
    return ActionChoice(done.ref, why, pins=resolve_pins(rest, template_text()))


class ActionSource:
    """Resolves the Action for new workflows once per process; ``get`` is thread-safe."""

    def __init__(
        self,
        settings: Settings,
        *,
        http: httpx.Client | None = None,
        ensure: Callable[..., ActionChoice] = ensure_action,
    ) -> None:
        self._settings, self._http, self._ensure = settings, http, ensure
        self._choice = fixed_choice(settings)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Log the reference now, or resolve it in the background (startup must stay fast)."""
        if self._choice is not None:
            self._log(self._choice)
            return
        self._thread = threading.Thread(target=self._first, name="llm-deploy-action", daemon=True)
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the background resolution (for tests and an orderly shutdown)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def get(self) -> ActionChoice:
        """The Action to pin; resolves (again, after a failure) when not yet known."""
        choice = self._choice
        if choice is not None:
            return choice
        with self._lock:
            if self._choice is None:
                try:
                    self._choice = self._ensure(self._settings, http=self._http)
                except ActionPublishError as exc:
                    raise ActionPublishError(
                        f"The Action for new repositories is not available: {exc} To fix it, {FIX}."
                    ) from exc
                self._log(self._choice)
            return self._choice

    def _first(self) -> None:
        try:
            self.get()
        except ActionPublishError as exc:
            log.error("%s New requests will retry it.", exc)
        except Exception:  # the receiver must start anyway; the worker retries and reports
            log.exception("publishing the Action failed; new requests will retry it")

    @staticmethod
    def _log(choice: ActionChoice) -> None:
        log.info("%s", choice.describe())
        tail = choice.ref.rpartition("@")[2]
        if choice.source == "LLM_DEPLOY_ACTION_REF" and not FULL_SHA.match(tail):
            log.warning(
                "LLM_DEPLOY_ACTION_REF names %r, not a full commit SHA: whoever moves "
                "that ref changes what new repos run.",
                tail,
            )
