"""``GitHubForge``: the ``Forge`` port on GitHub's REST API through PyGithub.

Choices worth knowing:

* Task → repo recovery uses GitHub alone: ``task_repos`` lists the owner's repos and keeps those
  named ``base`` or ``base-<n>`` whose description carries the task's tag (a digest of the exact
  task id, written by ``receiver.naming.description``), oldest first by ``created_at``. A lost
  journal therefore costs one paginated listing, and hand-made repos, or repos of another task id
  with the same base name, are ignored.
* Retries are ours, not PyGithub's (``retry=None``, no built-in throttling): its ``GithubRetry``
  and write spacing call ``time.sleep`` directly, cannot be told which calls are safe to repeat,
  and would resend a dispatch after a 5xx. Our wrapper honours ``retry-after`` and
  ``x-ratelimit-reset``, backs off on 5xx and dropped connections only for idempotent calls, keeps
  ``seconds_between_writes`` between writes, and takes an injected ``sleep``/``clock``.
* Workflow registration, the dispatch (resent only after answers proving nothing started) and the
  run lookup that settles an unknown dispatch live in ``receiver.github.actions``.
* Files go through the Contents API one PUT at a time: it works on an empty repo (the Git Data
  API answers 409 there) and the usual first commit is a single workflow file.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import requests
from github import Auth, Github, GithubException
from github.PublicKey import encrypt

from receiver.forge import Dispatch, ForgeError, NameTaken, Repo
from receiver.github import rate as github_rate
from receiver.github.actions import ActionsCalls
from receiver.github.actions import error_text as _text
from receiver.github.actions import explain as _explain
from receiver.github.actions import q as _q

T = TypeVar("T")


class GitHubForge:
    """Forge adapter for github.com or GitHub Enterprise Server; thread-safe.

    The Actions calls (wait_for_workflow, dispatch, find_run) are delegated to ``ActionsCalls``,
    which shares only this forge's request wrapper, clock and sleep.
    """

    def __init__(
        self,
        *,
        token: str,
        api_url: str = "https://api.github.com",
        owner: str | None = None,
        seconds_between_writes: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        max_retries: int = 5,
        registration_timeout: float = 180.0,
    ) -> None:
        self._gh = Github(
            auth=Auth.Token(token),
            base_url=api_url.rstrip("/"),
            retry=None,
            seconds_between_requests=None,
            seconds_between_writes=None,
            per_page=100,
            lazy=True,
        )
        self._owner = owner or None
        self._sleep, self._clock = sleep, clock
        self._throttle = github_rate.WriteThrottle(seconds_between_writes, sleep, clock)
        self._max_retries = max_retries
        self._actions = ActionsCalls(
            self._request, clock=clock, sleep=sleep, registration_timeout=registration_timeout
        )
        self._keys: dict[str, tuple[str, str]] = {}  # full name -> (key_id, key)
        self._lock = threading.Lock()
        self._reset_waited = 0

    @classmethod
    def from_settings(cls, settings: Any, **kw: Any) -> GitHubForge:
        """Build from a Settings object (github_token, github_api_url, github_owner)."""
        return cls(
            token=settings.github_token,
            api_url=getattr(settings, "github_api_url", None) or "https://api.github.com",
            owner=getattr(settings, "github_owner", None),
            **kw,
        )

    # ----- the Forge port -----------------------------------------------------------------

    def wait_for_workflow(self, repo: Repo, workflow_file: str, timeout: float) -> None:
        """Poll until the workflow is active; raise WorkflowNotRegistered on timeout."""
        self._actions.wait_for_workflow(repo, workflow_file, timeout)

    def dispatch(self, repo: Repo, workflow_file: str, inputs: dict[str, str]) -> Dispatch:
        """Start the workflow on the default branch, retrying only provable non-starts."""
        return self._actions.dispatch(repo, workflow_file, inputs)

    def find_run(self, repo: Repo, workflow_file: str, dispatch_id: str) -> str | None:
        """The html URL of the dispatched run whose run-name carries dispatch_id, or None."""
        return self._actions.find_run(repo, workflow_file, dispatch_id)

    def task_repos(self, base_name: str, tag: str) -> list[Repo]:
        """Repos named base or base-<n> whose description carries the task's tag, oldest first."""
        if self._owner:
            listing = self._gh.get_organization(self._owner).get_repos(type="all")
        else:
            listing = self._gh.get_user().get_repos(type="owner")
        pattern = re.compile(rf"{re.escape(base_name)}(-\d+)?", re.IGNORECASE)
        found = self._call("list the owner's repositories", lambda: list(listing))
        mine = [
            _make_repo(
                r.owner.login, r.name, r.html_url, r.created_at.timestamp(), r.default_branch
            )
            for r in found
            if pattern.fullmatch(r.name) and tag in (r.description or "")
        ]
        return sorted(mine, key=lambda r: r.created_at)

    def create_repo(self, name: str, description: str) -> Repo:
        """Create a public repo; raise NameTaken when the name is in use."""
        url = f"/orgs/{_q(self._owner)}/repos" if self._owner else "/user/repos"
        body = {"name": name, "description": description, "private": False, "auto_init": False}
        try:
            data = self._request("POST", url, body, "create the repository", idempotent=False)
        except GithubException as exc:
            if exc.status == 422 and "already exists" in _text(exc):
                raise NameTaken(f"A repository named {name!r} already exists.") from exc
            if exc.status == 404 and self._owner:
                raise ForgeError(
                    f"GitHub owner {self._owner!r} does not exist or the token cannot create "
                    "repositories there; check GITHUB_OWNER."
                ) from exc
            raise _explain(exc, "create the repository") from exc
        created = datetime.fromisoformat(str(data["created_at"]).replace("Z", "+00:00"))
        login = str(data["owner"]["login"])
        branch = data.get("default_branch")
        return _make_repo(login, data["name"], data["html_url"], created.timestamp(), branch)

    def commit_files(self, repo: Repo, files: dict[str, bytes], message: str) -> str:
        """Commit files to the default branch, one Contents API PUT each; return the last sha."""
        sha = ""
        for path, content in files.items():
            sha = self._put_file(repo, path, content, message, branch=None)
        return sha

    def put_side_file(self, repo: Repo, branch: str, path: str, content: bytes) -> None:
        """Store a file on a side branch, creating the branch from the default head if missing."""
        base = f"/repos/{_q(repo.owner)}/{_q(repo.name)}/git"
        try:
            self._request("GET", f"{base}/ref/heads/{_q(branch)}", None, "read the side branch")
        except GithubException as exc:
            if exc.status != 404:
                raise _explain(exc, "read the side branch") from exc
            head = self._request(
                "GET",
                f"{base}/ref/heads/{_q(repo.default_branch)}",
                None,
                "read the default branch",
            )
            ref = {"ref": f"refs/heads/{branch}", "sha": head["object"]["sha"]}
            try:
                self._request("POST", f"{base}/refs", ref, "create the side branch")
            except GithubException as err:
                if not (err.status == 422 and "already exists" in _text(err)):
                    raise _explain(err, "create the side branch") from err
        self._put_file(repo, path, content, f"Add {path}", branch=branch)

    def set_secret(self, repo: Repo, name: str, value: str) -> None:
        """Store an Actions secret sealed to the repo's public key (fetched once per repo)."""
        key_id, key = self._public_key(repo)
        body = {"encrypted_value": encrypt(key, value), "key_id": key_id}
        url = f"/repos/{_q(repo.owner)}/{_q(repo.name)}/actions/secrets/{_q(name)}"
        try:
            self._request("PUT", url, body, f"store the secret {name}")
        except GithubException as exc:
            with self._lock:
                self._keys.pop(repo.full_name, None)  # a rotated key fails once, then refetches
            raise _explain(exc, f"store the secret {name}") from exc

    def read(self, url: str, action: str, params: dict[str, Any] | None = None) -> Any:
        """One GET of the REST API (paced and retried like every call here); its JSON."""
        try:
            return self._request("GET", url, None, action, params=params)
        except GithubException as exc:
            raise _explain(exc, action) from exc

    def enable_pages(self, repo: Repo) -> None:
        """Enable Pages in workflow mode; 409 (already enabled) counts as success."""
        url = f"/repos/{_q(repo.owner)}/{_q(repo.name)}/pages"
        try:
            self._request("POST", url, {"build_type": "workflow"}, "enable GitHub Pages")
        except GithubException as exc:
            if exc.status == 409:
                return
            if exc.status in (403, 404):
                raise ForgeError(
                    f"GitHub refused to enable Pages on {repo.full_name} ({exc.status}); the token "
                    "needs Pages write and Administration write permission."
                ) from exc
            raise _explain(exc, "enable GitHub Pages") from exc

    # ----- helpers ------------------------------------------------------------------------
    def _put_file(
        self, repo: Repo, path: str, content: bytes, message: str, branch: str | None
    ) -> str:
        """PUT one file via the Contents API, fetching the old blob sha when it already exists."""
        gh_repo = self._gh.get_repo(repo.full_name)
        action = f"write {path}"
        extra: dict[str, Any] = {"branch": branch} if branch else {}

        def put() -> dict[str, Any]:
            return gh_repo.create_file(path, message, content, **extra)

        def update() -> dict[str, Any]:
            old = gh_repo.get_contents(path, ref=branch or repo.default_branch)
            sha = old[0].sha if isinstance(old, list) else old.sha
            return gh_repo.update_file(path, message, content, sha, **extra)

        try:
            try:
                result = self._call(action, put, write=True)
            except GithubException as exc:
                if exc.status != 422 or "sha" not in _text(exc):
                    raise
                result = self._call(action, update, write=True)
        except GithubException as exc:
            if exc.status == 404 and path.startswith(".github/workflows/"):
                raise ForgeError(
                    "GitHub answered 404 when writing a workflow file: the token needs the "
                    "'workflow' scope (classic) or Workflows write permission (fine-grained)."
                ) from exc
            raise _explain(exc, action) from exc
        return str(result["commit"].sha)

    def _public_key(self, repo: Repo) -> tuple[str, str]:
        with self._lock:
            cached = self._keys.get(repo.full_name)
        if cached:
            return cached
        url = f"/repos/{_q(repo.owner)}/{_q(repo.name)}/actions/secrets/public-key"
        try:
            data = self._request("GET", url, None, "read the repository's public key")
        except GithubException as exc:
            raise _explain(exc, "read the repository's public key") from exc
        pair = (str(data["key_id"]), str(data["key"]))
        with self._lock:
            self._keys[repo.full_name] = pair
        return pair

    def _request(
        self,
        verb: str,
        url: str,
        body: dict[str, Any] | None,
        action: str,
        idempotent: bool = True,
        params: dict[str, Any] | None = None,
    ) -> Any:
        requester = self._gh.requester

        def send() -> Any:
            return requester.requestJsonAndCheck(verb, url, parameters=params, input=body)[1]

        return self._call(action, send, write=verb != "GET", idempotent=idempotent)

    def _call(
        self, action: str, fn: Callable[[], T], *, write: bool = False, idempotent: bool = True
    ) -> T:
        """Run one REST call with rate-limit waits, write spacing and (if safe) 5xx retries."""
        attempt = 0
        while True:
            self._await_primary_reset()
            if write:
                self._throttle.wait()
            try:
                return fn()
            except GithubException as exc:
                delay = github_rate.rate_limit_delay(
                    exc.status, exc.headers, _text(exc), self._clock(), attempt
                )
                if delay is None and idempotent and exc.status >= 500:
                    delay = github_rate.backoff(attempt)
                if delay is None or attempt >= self._max_retries:
                    raise
                self._note_reset(exc.headers)
            except requests.RequestException as exc:
                if not idempotent:
                    raise ForgeError(
                        f"The connection to GitHub failed while trying to {action}, so the outcome "
                        "is unknown; it was not resent."
                    ) from exc
                if attempt >= self._max_retries:
                    raise ForgeError(
                        f"Could not reach GitHub to {action}; try again later."
                    ) from exc
                delay = github_rate.backoff(attempt)
            self._sleep(delay)
            attempt += 1

    def _await_primary_reset(self) -> None:
        """Wait for the reset time when the last answer said no requests remain."""
        requester = self._gh.requester
        remaining, _ = requester.rate_limiting
        reset = requester.rate_limiting_resettime
        if remaining == 0 and reset and reset != self._reset_waited:
            self._reset_waited = reset
            self._sleep(github_rate.reset_delay(reset, self._clock()))

    def _note_reset(self, headers: dict[str, str] | None) -> None:
        """Remember a reset already waited for, so the proactive check does not wait twice."""
        reset = {k.lower(): v for k, v in (headers or {}).items()}.get("x-ratelimit-reset")
        if reset and reset.isdigit():
            self._reset_waited = int(reset)


def _make_repo(
    owner: str, name: str, html_url: str, created_at: float, default_branch: str | None
) -> Repo:
    return Repo(
        name=name,
        owner=owner,
        html_url=html_url,
        pages_url=f"https://{owner.lower()}.github.io/{name}/",
        created_at=created_at,
        default_branch=default_branch or "main",
    )
