"""The Action that generated repos pin: parse ``LLM_DEPLOY_ACTION_REF`` and resolve it on GitHub.

``EnsureAction`` is what the checklist calls: ``resolve_action`` only looks (without
``LLM_DEPLOY_ACTION_REF``, it asks the publisher for a dry run: is this version in the user's
account?), ``publish_action`` (``doctor --fix``) publishes this version first, as the receiver
does at start (``receiver.github.action_ref.ensure_action``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from receiver.config import Settings
from receiver.doctor.github_api import GitHubApi
from receiver.doctor.result import DoctorError

FULL_SHA = re.compile(r"[0-9a-f]{40}")
_REF = re.compile(r"([A-Za-z0-9][A-Za-z0-9-]*)/([A-Za-z0-9._-]+)((?:/[^@\s]+)?)@(\S+)")


@dataclass(frozen=True)
class ActionRef:
    owner: str
    repo: str
    path: str  # "" or "/sub/dir" inside the repository
    ref: str  # what ``uses:`` names after the @
    sha: str = ""  # the commit the ref resolves to, once resolved

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.repo}"

    @property
    def uses(self) -> str:
        return f"{self.owner}/{self.repo}{self.path}@{self.ref}"

    @property
    def pinned(self) -> bool:
        """Whether ``uses:`` names a full commit SHA (what SHA-pinning policies require)."""
        return bool(FULL_SHA.fullmatch(self.ref))


EnsureAction = Callable[[Settings, httpx.Client], ActionRef]


def parse_action_ref(text: str) -> ActionRef:
    """``owner/repo[/path]@ref`` as ``uses:`` takes it; DoctorError when it is not that shape."""
    match = _REF.fullmatch(text.strip())
    if match is None:
        raise DoctorError(
            f"LLM_DEPLOY_ACTION_REF {text!r} is not owner/repo@ref: set it to the Action's "
            "repository and commit, e.g. you/llm-deploy-action@<40-character sha>."
        )
    owner, repo, path, ref = match.groups()
    return ActionRef(owner, repo, path, ref)


def _published_ref(settings: Settings, http: httpx.Client, *, dry_run: bool) -> str:
    """The reference the receiver would pin: the override, or this version in the user's account."""
    if settings.action_ref:
        return settings.action_ref
    from receiver.github.action_ref import ActionPublishError, ensure_action

    try:
        choice = ensure_action(settings, http=http, dry_run=dry_run)
    except ActionPublishError as exc:
        raise DoctorError(str(exc)) from None
    if not choice.ref:
        raise DoctorError(f"The Action is not published: {choice.source}.")
    return choice.ref


def publish_action(settings: Settings, http: httpx.Client) -> ActionRef:
    """``doctor --fix``: publish this version's Action when it differs, then resolve it."""
    return _resolve(settings, http, _published_ref(settings, http, dry_run=False))


def resolve_action(settings: Settings, http: httpx.Client) -> ActionRef:
    """The Action the receiver would pin, resolved on GitHub; publishes nothing."""
    return _resolve(settings, http, _published_ref(settings, http, dry_run=True))


def _resolve(settings: Settings, http: httpx.Client, uses: str) -> ActionRef:
    """The configured Action with the commit its ref names; DoctorError when GitHub lacks either.

    Checks that the repository exists and is public (a workflow in another account's repo cannot
    use a private action) and that the ref resolves to a commit. Publishes nothing.
    """
    action = parse_action_ref(uses)
    api = GitHubApi(http, settings.github_api_url, settings.github_token or "")
    found = api.get(f"/repos/{action.full_name}")
    if found.status_code == 404:
        raise DoctorError(
            f"The Action repository {action.full_name} does not exist or this token cannot see it."
        )
    api.expect(found, f"reading the Action repository {action.full_name}")
    if found.json().get("private"):
        raise DoctorError(
            f"The Action repository {action.full_name} is private, so the "
            "generated repositories cannot use it."
        )
    commit = api.get(f"/repos/{action.full_name}/commits/{action.ref}")
    if commit.status_code in (404, 409, 422):
        raise DoctorError(f"{action.full_name} has no commit, branch or tag {action.ref!r}.")
    api.expect(commit, f"resolving {action.uses}")
    return ActionRef(action.owner, action.repo, action.path, action.ref, str(commit.json()["sha"]))
