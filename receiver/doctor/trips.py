"""The round trip wired to GitHub or to local mode, with the scratch repository's cleanup."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from receiver.config import Settings
from receiver.doctor.github_api import GitHubApi, message
from receiver.doctor.github_watch import GitHubWatcher
from receiver.doctor.listener import Listener
from receiver.doctor.result import RoundTiming
from receiver.doctor.round_trip import Trip
from receiver.forge import Forge, Repo


@dataclass
class TripResult:
    rounds: list[RoundTiming] = field(default_factory=list)
    repo: str = ""
    kept: bool = False
    note: str = ""  # why a repository that should have gone is still there


def github_trip(
    settings: Settings,
    http: httpx.Client,
    *,
    keep: bool = False,
    notify_url: str | None = None,
    listen_port: int = 0,
    page_url_for: Callable[[Repo], str] | None = None,
    forge: Forge | None = None,
    poll_seconds: float = 5.0,
) -> TripResult:
    """Two rounds through real Actions and Pages in a scratch repository, deleted unless kept.

    The runner cannot reach this machine, so the notification is timed only when ``notify_url``
    is a public URL that forwards to the local listener on ``listen_port``; otherwise skipped.
    """
    if forge is None:
        from receiver.github.forge import GitHubForge

        forge = GitHubForge.from_settings(settings)
    api = GitHubApi(http, settings.github_api_url, settings.github_token or "")
    listener = (
        Listener(host="0.0.0.0" if listen_port else "127.0.0.1", port=listen_port)
        if notify_url
        else None
    )
    watcher = GitHubWatcher(
        api,
        http,
        listener=listener,
        clock=time.monotonic,
        **({"page_url_for": page_url_for} if page_url_for else {}),
    )
    from receiver.github.action_ref import ActionSource

    trip = Trip(
        settings,
        forge,
        watcher,
        evaluation_url=notify_url or "",
        poll_seconds=poll_seconds,
        action=ActionSource(settings, http=http).get,
    )
    result = TripResult()
    with contextlib.ExitStack() as stack:
        if listener is not None:
            stack.enter_context(listener)
        try:
            result.rounds = trip.run()
        finally:
            if trip.repo is not None:
                result.repo, result.kept = trip.repo.full_name, keep
                if not keep:
                    result.kept, result.note = _delete(api, trip.repo.full_name)
    return result


def _delete(api: GitHubApi, full_name: str) -> tuple[bool, str]:
    """Delete the scratch repository; (still there, why) when GitHub refuses."""
    gone = api.request("DELETE", f"/repos/{full_name}")
    if gone.status_code in (204, 404):
        return False, ""
    return True, (
        f"could not delete it ({gone.status_code}: {message(gone)}); add the "
        "delete_repo scope or delete it by hand"
    )


def local_trip(
    settings: Settings, http: httpx.Client, *, keep: bool = False, poll_seconds: float = 0.5
) -> TripResult:
    """Two rounds through the local forge and runner (the real action.yml), timed the same way."""
    from receiver.doctor.local_trip import LocalWatcher, local_action, local_stage

    result = TripResult()
    with local_stage(Path(settings.data_dir), keep=keep) as (forge, scratch), Listener() as ear:
        watcher = LocalWatcher(scratch, http, ear, clock=time.monotonic)
        trip = Trip(
            settings,
            forge,
            watcher,
            evaluation_url=ear.url,
            poll_seconds=poll_seconds,
            action=local_action(settings),
        )
        result.rounds = trip.run()
        if trip.repo is not None:
            result.repo, result.kept = str(scratch / "repos" / f"{trip.repo.name}.git"), keep
    return result
