"""The one place that picks the mode: GitHub when a token is set, else everything on this machine.

Each wing is imported only when chosen, so a GitHub deployment never loads the local runner and
local mode never needs PyGithub.
"""

from __future__ import annotations

from receiver.config import Settings
from receiver.mode import Mode


def mode_for(settings: Settings) -> Mode:
    """The mode these settings ask for."""
    if settings.github_token:
        from receiver.github.mode import GitHubMode

        return GitHubMode(settings)
    from receiver.local.mode import LocalMode

    return LocalMode(settings)
