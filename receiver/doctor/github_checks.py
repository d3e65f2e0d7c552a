"""Checks of the GitHub side: the token, its permissions, Actions policy, Pages, the Action.

Each function makes a few read-only calls and returns a ``CheckResult``; none creates or changes
anything. What only a write can prove (creating a repository, pushing a workflow file) is left to
``doctor --round-trip``, and the details say so.
"""

from __future__ import annotations

from dataclasses import dataclass

from receiver.doctor.action_ref import ActionRef
from receiver.doctor.github_api import GitHubApi, message
from receiver.doctor.result import CheckResult, DoctorError, fail, ok, skip

TOKEN, SCOPES, ACTIONS, PAGES, ACTION = (
    "GitHub token",
    "token permissions",
    "Actions for new repos",
    "GitHub Pages",
    "Action pinned",
)
TOKEN_SETTINGS = "https://github.com/settings/tokens"
NEEDS_TOKEN = "needs a valid GITHUB_TOKEN"


@dataclass(frozen=True)
class Identity:
    """Whose token it is and where the repositories will be created."""

    login: str
    owner: str
    owner_is_org: bool
    scopes: frozenset[str] | None  # None: no X-OAuth-Scopes header (fine-grained or app token)


def check_token(api: GitHubApi, owner: str | None) -> tuple[CheckResult, Identity | None]:
    """``GET /user``: the token works, whose it is, and its classic scopes when it has any."""
    response = api.get("/user")
    if response.status_code == 401:
        return fail(
            TOKEN,
            "GitHub rejected the token (401 Bad credentials)",
            f"Create a new token at {TOKEN_SETTINGS} and export it as GITHUB_TOKEN.",
        ), None
    api.expect(response, "reading the token's user")
    login = str(response.json()["login"])
    header = response.headers.get("x-oauth-scopes")
    scopes = None if header is None else frozenset(s.strip() for s in header.split(",") if s)
    target = owner or login
    identity = Identity(login, target, target.lower() != login.lower(), scopes)
    kind = "fine-grained" if scopes is None else "classic"
    where = (
        f"repositories go to the organisation {target}"
        if identity.owner_is_org
        else (f"repositories go to {login}'s account")
    )
    return ok(TOKEN, f"valid {kind} token of {login}; {where}"), identity


def check_classic_scopes(identity: Identity) -> CheckResult:
    """A classic token needs ``repo`` (or ``public_repo``) and ``workflow``."""
    scopes = identity.scopes or frozenset()
    missing = []
    if not scopes & {"repo", "public_repo"}:
        missing.append("public_repo (or repo)")
    if "workflow" not in scopes:
        missing.append("workflow")
    shown = ", ".join(sorted(scopes)) or "none"
    if missing:
        return fail(
            SCOPES,
            f"classic scopes {shown}; missing {' and '.join(missing)}",
            f"Edit the token at {TOKEN_SETTINGS} and tick {' and '.join(missing)}.",
        )
    cleanup = (
        ""
        if "delete_repo" in scopes
        else ("; without delete_repo, --round-trip leaves its scratch repository behind")
    )
    return ok(SCOPES, f"classic scopes {shown}{cleanup}")


# Read-only calls the receiver also makes (or their read halves), and the permission each needs.
_PROBES = [
    ("Secrets", "actions/secrets/public-key"),
    ("Actions", "actions/workflows"),
    ("Pages", "pages"),
    ("Administration", "actions/permissions"),
]


def check_fine_grained(api: GitHubApi, identity: Identity, probe: str | None) -> CheckResult:
    """A fine-grained token has no scope header: probe the calls the receiver makes, read-only."""
    if probe is None:
        return skip(
            SCOPES,
            f"no repository under {identity.owner} to probe a fine-grained "
            "token on; `doctor --round-trip` proves the permissions",
        )
    denied = []
    for permission, path in _PROBES:
        response = api.get(f"/repos/{probe}/{path}")
        if response.status_code == 403:
            denied.append(permission)
        elif response.status_code not in (200, 404):
            api.expect(response, f"probing {permission} on {probe}")
    if denied:
        names = ", ".join(denied)
        return fail(
            SCOPES,
            f"fine-grained token, probed on {probe}: no access to {names}",
            f"Edit the token at https://github.com/settings/personal-access-tokens and "
            f"give it {names}: read and write (README, GitHub token permissions).",
        )
    return ok(
        SCOPES,
        f"fine-grained token reads Secrets, Actions, Pages, Administration on "
        f"{probe}; writes are proven by `doctor --round-trip`",
    )


def find_probe_repo(api: GitHubApi, identity: Identity, action: ActionRef | None) -> str | None:
    """An existing repository under the owner to probe on: the Action's if it lives there."""
    mine = action is not None and action.owner.lower() == identity.owner.lower()
    if action is not None and mine and api.get(f"/repos/{action.full_name}").status_code == 200:
        return action.full_name
    path = f"/orgs/{identity.owner}/repos" if identity.owner_is_org else "/user/repos"
    params = {"per_page": 1} if identity.owner_is_org else {"per_page": 1, "affiliation": "owner"}
    response = api.get(path, **params)
    if response.status_code != 200 or not response.json():
        return None
    return str(response.json()[0]["full_name"])


def check_actions_policy(
    api: GitHubApi, identity: Identity, probe: str | None, action: ActionRef | None
) -> CheckResult:
    """Actions must be enabled for new repos and allowed to run ``actions/*`` and our Action."""
    policy: dict[str, object] | None = None
    where = ""
    if identity.owner_is_org:
        response = api.get(f"/orgs/{identity.owner}/actions/permissions")
        if response.status_code == 200:
            policy, where = response.json(), f"organisation {identity.owner}"
            if policy.get("enabled_repositories") in ("none", "selected"):
                state = (
                    "disabled"
                    if policy["enabled_repositories"] == "none"
                    else ("enabled only for selected repositories")
                )
                return fail(
                    ACTIONS,
                    f"Actions are {state} in {where}",
                    f"An owner of {identity.owner} sets Settings → Actions → General → "
                    "Policies to 'All repositories'.",
                )
    if policy is None and probe is not None:
        response = api.get(f"/repos/{probe}/actions/permissions")
        if response.status_code == 200:
            policy, where = (
                response.json(),
                f"{probe} (probed; new repos inherit the owner's policy)",
            )
            if not policy.get("enabled"):
                return fail(
                    ACTIONS,
                    f"Actions are disabled on {where}",
                    f"Enable Actions under Settings → Actions → General of {probe} "
                    "(or ask the account's enterprise owner), then run doctor again.",
                )
    if policy is None:
        return skip(
            ACTIONS,
            f"the Actions policy of {identity.owner} is not readable with this "
            "token; `doctor --round-trip` proves a run starts",
        )
    return _allowed(policy, where, action)


def _allowed(policy: dict[str, object], where: str, action: ActionRef | None) -> CheckResult:
    allowed = policy.get("allowed_actions", "all")
    if allowed == "local_only":
        return fail(
            ACTIONS,
            f"{where} allows only local actions, so actions/checkout and "
            "actions/deploy-pages cannot run",
            "Allow 'all actions' (or selected ones including actions/*) under "
            "Settings → Actions → General.",
        )
    if policy.get("sha_pinning_required") and action is not None and not action.pinned:
        return fail(
            ACTIONS,
            f"{where} requires every action pinned to a full commit SHA, and "
            f"LLM_DEPLOY_ACTION_REF names {action.ref!r}",
            "Run `llm-deploy doctor --fix` to publish and pin the Action, or set "
            "LLM_DEPLOY_ACTION_REF to owner/repo@<40-character commit sha>.",
        )
    note = (
        ""
        if allowed == "all"
        else ("; only selected actions may run: allow actions/* and the Action's repository")
    )
    return ok(ACTIONS, f"enabled in {where}{note}")


def check_pages(api: GitHubApi, probe: str | None) -> CheckResult:
    """Pages in workflow mode works for public repos on every plan; the token must reach it."""
    if probe is None:
        return skip(PAGES, "no repository to probe; `doctor --round-trip` proves Pages works")
    response = api.get(f"/repos/{probe}/pages")
    if response.status_code == 403:
        return fail(
            PAGES,
            f"the token may not use Pages ({message(response)}, on {probe})",
            "Give the token Pages: read and write (fine-grained) or the repo scope "
            "(classic), and check the owner's Pages policy allows public sites.",
        )
    if response.status_code not in (200, 404):
        api.expect(response, f"reading Pages of {probe}")
    return ok(
        PAGES,
        f"Pages API answers on {probe}; generated repos are public, which every plan can publish",
    )


def check_action(resolve: ActionRef | DoctorError, configured: str | None) -> CheckResult:
    """The outcome of resolving (or, with --fix, ensuring) the Action, as a checklist line.

    ``configured`` is ``LLM_DEPLOY_ACTION_REF``, if set: an Action published elsewhere than it
    names is not what the receiver's workflows will use until the setting follows.
    """
    if isinstance(resolve, DoctorError):
        return fail(
            ACTION,
            str(resolve),
            "Run `llm-deploy doctor --fix` to publish the Action into your account and "
            "pin it, or set LLM_DEPLOY_ACTION_REF to a public owner/repo@<commit sha>.",
        )
    if configured and resolve.uses != configured.strip():
        return fail(
            ACTION,
            f"the Action is at {resolve.uses}, but LLM_DEPLOY_ACTION_REF names {configured}",
            f"Set LLM_DEPLOY_ACTION_REF={resolve.uses} where the receiver runs, then run doctor "
            "again.",
        )
    pinned = "pinned to" if resolve.pinned else f"{resolve.ref} resolves to"
    return ok(ACTION, f"{resolve.full_name}{resolve.path} {pinned} {resolve.sha[:12]}")


def skipped_github(reason: str) -> list[CheckResult]:
    """The GitHub lines when they cannot run (local mode, or no valid token)."""
    return [skip(name, reason) for name in (SCOPES, ACTIONS, PAGES, ACTION)]
