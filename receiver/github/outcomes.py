"""How a dispatched run ended on GitHub: its conclusion, and its report artifact once it concluded.

GitHub mode knows only that it dispatched; the run itself knows the rest. A round's outcome costs
one ``GET .../actions/runs/{id}`` while the run goes on (at most once per ``POLL_SECONDS`` per
run, however often the status is viewed), then, once it concluded, two more calls (the run's
artifacts and the ``llm-deploy-report-*`` zip), after which the mode keeps the outcome in the
journal and never asks again. ``bench/rest_calls.py`` counts these calls.
"""

from __future__ import annotations

import io
import json
import re
import threading
import time
import zipfile
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx

from receiver.outcome import round_outcome

POLL_SECONDS = 30.0
REPORT_ARTIFACT = "llm-deploy-report-"  # action.yml: llm-deploy-report-<job>
_MAX_ZIP = 20 * 1024 * 1024
_RUN = re.compile(r"/([^/]+)/([^/]+)/actions/runs/(\d+)")

Read = Callable[..., Any]  # GitHubForge.read(url, action, params=None)


def run_key(run_url: str) -> tuple[str, str, int] | None:
    """(owner, repo, run id) from a run's html or API URL."""
    match = _RUN.search(run_url or "")
    return (match[1], match[2], int(match[3])) if match else None


def _epoch(stamp: Any) -> float | None:
    if not isinstance(stamp, str) or not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class RunOutcomes:
    """Reads runs' outcomes through the forge's paced GETs; the report zip through ``http``."""

    def __init__(
        self,
        read: Read,
        http: httpx.Client,
        *,
        api_url: str,
        token: str,
        clock: Callable[[], float] = time.monotonic,
        every: float = POLL_SECONDS,
    ) -> None:
        self._read, self._http = read, http
        self._api_url, self._token = api_url.rstrip("/"), token
        self._clock, self._every = clock, every
        # run URL -> (when read, outcome then; None when that read failed)
        self._last: dict[str, tuple[float, dict[str, Any] | None]] = {}
        self._lock = threading.Lock()

    def outcome(self, run_url: str) -> dict[str, Any] | None:
        """The run's outcome now (or as last read, within ``every`` seconds); None if unknown."""
        key = run_key(run_url)
        if key is None:
            return None
        with self._lock:
            seen = self._last.get(run_url)
            if seen is not None and self._clock() - seen[0] < self._every:
                return seen[1]
        owner, repo, run_id = key
        base = f"/repos/{owner}/{repo}/actions/runs/{run_id}"
        try:
            run = self._read(base, "read the run")
        except Exception:
            with self._lock:  # a failed read waits its turn too, so views never pile up calls
                self._last[run_url] = (self._clock(), seen[1] if seen else None)
            raise
        concluded = run.get("status") == "completed"
        report = self._report(owner, repo, base) if concluded else None
        found = round_outcome(
            run.get("conclusion") if concluded else None,
            report,
            started_at=_epoch(run.get("run_started_at")),
            ended_at=_epoch(run.get("updated_at")) if concluded else None,
        )
        with self._lock:
            self._last[run_url] = (self._clock(), found)
        return found

    def _report(self, owner: str, repo: str, base: str) -> dict[str, Any] | None:
        listing = self._read(f"{base}/artifacts", "list the run's artifacts")
        artifacts = [
            a
            for a in listing.get("artifacts") or []
            if str(a.get("name", "")).startswith(REPORT_ARTIFACT) and not a.get("expired")
        ]
        if not artifacts:
            return None
        url = f"{self._api_url}/repos/{owner}/{repo}/actions/artifacts/{artifacts[0]['id']}/zip"
        try:
            # GitHub answers 302 to a signed blob URL; httpx drops the token on another origin.
            response = self._http.get(
                url,
                headers={"Authorization": f"Bearer {self._token}"},
                follow_redirects=True,
                timeout=30.0,
            )
        except httpx.HTTPError:
            return None
        if response.status_code != 200 or len(response.content) > _MAX_ZIP:
            return None
        try:
            with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
                found = json.loads(archive.read("report.json"))
        except (zipfile.BadZipFile, KeyError, ValueError):
            return None
        return found if isinstance(found, dict) else None
