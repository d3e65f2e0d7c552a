"""Where the job comes from: the sealed payload (perhaps on a side branch), or the plain inputs.

Settings only read the environment; this module is where they meet the payload's crypto.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from action.errors import SettingsError
from action.job import Job
from action.payload import REF_PREFIX, decode_key, open_sealed
from action.settings import ActionSettings


def read_job(
    settings: ActionSettings,
    git: Callable[[str], str] | None = None,
    clock: Callable[[], float] = time.time,
) -> Job:
    """The request to work on: the decrypted payload, or a job built from the plain inputs.

    ``git`` reads ``<branch>:<path>`` from a side branch (for ``ref:`` payloads).
    """
    if settings.payload:
        if not settings.payload_key:
            raise SettingsError(
                "A payload was given but no payload-key: pass the repo secret "
                "LLM_DEPLOY_PAYLOAD_KEY as the 'payload-key' input."
            )
        token = settings.payload
        if token.startswith(REF_PREFIX):
            if git is None:
                raise SettingsError("The payload points at a side branch but git is unavailable.")
            token = git(token[len(REF_PREFIX) :])
        return open_sealed(token, decode_key(settings.payload_key))
    if not settings.brief:
        raise SettingsError(
            "Neither 'payload' nor 'brief' was given: pass a brief to describe the app to build."
        )
    task = settings.task or settings.repo_name
    if not task:
        raise SettingsError("No 'task' input and no GITHUB_REPOSITORY to name the task after.")
    if settings.round < 1:
        raise SettingsError(f"The input 'round' must be 1 or more, not {settings.round}.")
    return Job(
        task=task,
        round=settings.round,
        brief=settings.brief,
        nonce=settings.nonce,
        email=settings.email,
        evaluation_url=settings.evaluation_url,
        checks=list(settings.checks),
        received_at=clock(),
    )
