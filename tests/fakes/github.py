"""A fake GitHub REST API on 127.0.0.1 that behaves as ../shared/reference/github-facts.md says.

Response bodies are the recorded octokit fixtures with names and URLs rewritten; every exchange is
checked against GitHub's OpenAPI subset and violations are collected in ``fake.violations``.
Knobs: ``registration_lag`` (404 answers before a pushed workflow registers), ``workflow_scope``,
``pages_rights``, ``delay`` (seconds slept before answering each request, for load and kill
tests), ``run_lag`` (listings of a workflow's runs that still omit a new run, as GitHub creates
runs asynchronously), and ``inject(...)`` for rate limits and 5xx bursts. No octokit fixture
records a workflow-runs listing, so that body follows the OpenAPI schema (checked like the rest).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import yaml
from nacl.encoding import Base64Encoder
from nacl.public import PrivateKey, SealedBox

from tests.fakes import openapi_check

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared/reference/octokit-fixtures"
DOCS = "https://docs.github.com/rest"
INPUTS_CAP = 65_535
DispatchHook = Callable[[str, str, dict[str, str]], None]


def _fixture(name: str, index: int = 0) -> Any:
    data = json.loads((FIXTURES / name / "normalized-fixture.json").read_text(encoding="utf-8"))
    return data[index]["response"]


@dataclass
class Fault:
    """A canned answer served instead of the real one to matching requests."""

    status: int
    message: str
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1
    method: str | None = None
    path_contains: str = ""


@dataclass
class Recorded:
    method: str
    path: str
    status: int


@dataclass
class DispatchRecord:
    repo: str
    workflow: str
    ref: str
    inputs: dict[str, str]
    run_id: int
    title: str = ""  # the run's display_title: the workflow's run-name, rendered
    created_at: str = ""
    hidden: int = 0  # listings of runs that still omit this run


@dataclass
class GitObjects:
    """A repo's git database as the Git Data API shows it (blob ids real, others made up)."""

    blobs: dict[str, bytes] = field(default_factory=dict)
    trees: dict[str, dict[str, str]] = field(default_factory=dict)  # sha -> {path: blob sha}
    commits: dict[str, tuple[str, list[str], str]] = field(default_factory=dict)  # tree, parents
    tags: dict[str, str] = field(default_factory=dict)  # refs/tags/<name> -> object sha
    tag_objects: dict[str, tuple[str, str]] = field(default_factory=dict)  # sha -> (name, commit)


@dataclass
class FakeRepo:
    owner: str
    name: str
    id: int
    description: str
    created_at: str
    key: PrivateKey = field(default_factory=PrivateKey.generate)
    branches: dict[str, str] = field(default_factory=dict)  # branch -> head commit sha
    files: dict[str, dict[str, bytes]] = field(default_factory=dict)  # branch -> path -> bytes
    secrets: dict[str, str] = field(default_factory=dict)  # name -> sealed base64
    pages: bool = False
    misses: dict[str, int] = field(default_factory=dict)  # workflow file -> 404s served
    private: bool = False
    git: GitObjects = field(default_factory=GitObjects)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


class _Reply(Exception):
    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None):
        self.status, self.body, self.headers = status, body, headers or {}


def _error(status: int, message: str, **extra: Any) -> _Reply:
    return _Reply(status, {"message": message, "documentation_url": DOCS, **extra})


class FakeGitHub:
    """The fake server; use as a context manager or call start()/stop()."""

    def __init__(
        self,
        *,
        user: str = "octo-user",
        orgs: tuple[str, ...] = ("octo-org",),
        token: str = "ghp_faketoken",
        registration_lag: int = 2,
        workflow_scope: bool = True,
        pages_rights: bool = True,
        on_dispatch: DispatchHook | None = None,
    ) -> None:
        self.user, self.orgs, self.token = user, orgs, token
        self.registration_lag = registration_lag
        self.workflow_scope, self.pages_rights = workflow_scope, pages_rights
        self.on_dispatch = on_dispatch
        self.delay = 0.0  # seconds each answer waits, like a slow GitHub
        self.run_lag = 0  # listings of runs that omit a just-dispatched run
        # Doctor knobs (see the block at the end of this file): classic scopes sent in
        # X-OAuth-Scopes (None: a fine-grained token, no header), permission families that answer
        # 403, the Actions policies, and a simulated run per dispatch (queued, in progress with a
        # commit and a Pages deployment, completed) for the round trip.
        self.scopes: str | None = None
        self.denied: set[str] = set()  # "secrets", "actions", "pages", "administration"
        self.repo_actions: dict[str, Any] = {
            "enabled": True,
            "allowed_actions": "all",
            "sha_pinning_required": False,
        }
        self.org_actions: dict[str, Any] = {
            "enabled_repositories": "all",
            "allowed_actions": "all",
            "sha_pinning_required": False,
        }
        self.simulate_runs = False
        self.run_conclusion = "success"  # how simulated runs end
        self.run_reads: dict[int, int] = {}  # run id -> reads served (the simulation's clock)
        self.deployments: list[dict[str, Any]] = []
        self.repos: dict[str, FakeRepo] = {}  # lower-case full name -> repo
        self.requests: list[Recorded] = []
        self.dispatches: list[DispatchRecord] = []
        self.violations: list[str] = []
        self.faults: list[Fault] = []
        self.pages_deployments: dict[tuple[str, str], str] = {}  # (full name, sha) -> status
        self.finished: dict[int, tuple[str, dict[str, Any] | None]] = {}  # run id -> result
        self.blobs: dict[str, bytes] = {}  # signed-URL path -> artifact zip (not the REST API)
        self._ids = itertools.count(1001)
        self._lock = threading.RLock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> FakeGitHub:
        openapi_check.api()  # load the spec (seconds, once per process) before any client waits
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----- test helpers -------------------------------------------------------------------
    def inject(self, status: int, message: str = "", **kw: Any) -> None:
        """Serve ``status`` to the next matching request(s) (see ``Fault``)."""
        self.faults.append(Fault(status, message or f"fault {status}", **kw))

    def secondary_rate_limit(self, retry_after: int, **kw: Any) -> None:
        msg = "You have exceeded a secondary rate limit. Please wait a few minutes and try again."
        self.inject(403, msg, headers={"retry-after": str(retry_after)}, **kw)

    def exhaust_primary(self, reset_at: int, **kw: Any) -> None:
        headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset_at)}
        self.inject(403, "API rate limit exceeded for user ID 1.", headers=headers, **kw)

    def add_repo(self, owner: str, name: str, description: str, created_at: str) -> FakeRepo:
        """Seed a repo as if created earlier (for recovery tests)."""
        repo = FakeRepo(owner, name, next(self._ids), description, created_at)
        self.repos[repo.full_name.lower()] = repo
        return repo

    def repo(self, full_name: str) -> FakeRepo:
        return self.repos[full_name.lower()]

    def secret(self, full_name: str, name: str) -> str:
        """The plaintext of a stored Actions secret, decrypted with the repo's private key."""
        repo = self.repo(full_name)
        sealed = base64.b64decode(repo.secrets[name])
        return SealedBox(repo.key).decrypt(sealed).decode()

    def file(self, full_name: str, path: str, branch: str = "main") -> bytes:
        return self.repo(full_name).files[branch][path]

    def calls(self, method: str | None = None, contains: str = "") -> list[Recorded]:
        return [
            r
            for r in self.requests
            if (method is None or r.method == method) and contains in r.path
        ]

    # ----- request handling ---------------------------------------------------------------
    def handle(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], raw: bytes
    ) -> _Reply:
        """Route one request; always returns the reply to send."""
        try:
            self._check_auth(headers)
            self._maybe_fault(method, path)
            _maybe_deny(self, path)
            body = json.loads(raw) if raw else {}
            with self._lock:
                return self._route(method, path, query, body)
        except _Reply as reply:
            return reply

    def _check_auth(self, headers: dict[str, str]) -> None:
        auth = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
        if auth.split(" ", 1)[-1] != self.token:
            raise _error(401, "Bad credentials")

    def _maybe_fault(self, method: str, path: str) -> None:
        with self._lock:
            for fault in self.faults:
                if fault.method not in (None, method) or fault.path_contains not in path:
                    continue
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                raise _Reply(fault.status, _error(fault.status, fault.message).body, fault.headers)

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> _Reply:
        for verb, pattern, fn in _ROUTES:
            m = pattern.match(path)
            if m and verb == method:
                return fn(self, query, body, *(unquote(g) for g in m.groups()))
        raise _error(404, "Not Found")

    # ----- shapes -------------------------------------------------------------------------
    def _repo_json(self, repo: FakeRepo) -> dict[str, Any]:
        text = json.dumps(_fixture("get-repository"))
        text = text.replace("octokit-fixture-org/hello-world", repo.full_name)
        text = text.replace("octokit-fixture-org", repo.owner).replace("hello-world", repo.name)
        data: dict[str, Any] = json.loads(text.replace("https://api.github.com", self.url))
        owner_type = "Organization" if repo.owner in self.orgs else "User"
        data.update(
            id=repo.id,
            description=repo.description,
            created_at=repo.created_at,
            updated_at=repo.created_at,
            pushed_at=repo.created_at,
            default_branch="main",
            has_pages=repo.pages,
            topics=[],
            stargazers_count=0,
            watchers_count=0,
            forks_count=0,
            open_issues_count=0,
            forks=0,
            open_issues=0,
            watchers=0,
            has_discussions=False,
        )
        data["owner"]["type"] = owner_type
        data.update(private=repo.private, visibility="private" if repo.private else "public")
        return data

    def _owner_json(self, login: str) -> dict[str, Any]:
        owner: dict[str, Any] = self._repo_json(FakeRepo(login, "x", 1, "", "")).get("owner", {})
        return owner

    def _url(self, repo: FakeRepo, rest: str) -> str:
        return f"{self.url}/repos/{repo.full_name}/{rest}"

    def _get(self, owner: str, name: str) -> FakeRepo:
        repo = self.repos.get(f"{owner}/{name}".lower())
        if repo is None:
            raise _error(404, "Not Found")
        return repo

    # ----- repositories -------------------------------------------------------------------
    def get_user(self, query: dict[str, str], body: Any) -> _Reply:
        user = self._owner_json(self.user)
        user.update(
            type="User",
            name=None,
            company=None,
            blog="",
            location=None,
            email=None,
            hireable=None,
            bio=None,
            public_repos=len(self.repos),
            public_gists=0,
            followers=0,
            following=0,
            created_at="2020-01-01T00:00:00Z",
            updated_at="2020-01-01T00:00:00Z",
        )
        return _Reply(200, user)

    def list_user_repos(self, query: dict[str, str], body: Any) -> _Reply:
        return self._list(self.user, query)

    def list_org_repos(self, query: dict[str, str], body: Any, org: str) -> _Reply:
        if org not in self.orgs:
            raise _error(404, "Not Found")
        return self._list(org, query)

    def _list(self, owner: str, query: dict[str, str]) -> _Reply:
        mine = [r for r in self.repos.values() if r.owner == owner]
        page, per_page = int(query.get("page", 1)), int(query.get("per_page", 30))
        chunk = mine[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(mine):
            base = (
                f"{self.url}/user/repos" if owner == self.user else f"{self.url}/orgs/{owner}/repos"
            )
            headers["Link"] = f'<{base}?per_page={per_page}&page={page + 1}>; rel="next"'
        return _Reply(200, [self._repo_json(r) for r in chunk], headers)

    def create_user_repo(self, query: dict[str, str], body: Any) -> _Reply:
        return self._create(self.user, body)

    def create_org_repo(self, query: dict[str, str], body: Any, org: str) -> _Reply:
        if org not in self.orgs:
            raise _error(404, "Not Found")
        return self._create(org, body)

    def _create(self, owner: str, body: Any) -> _Reply:
        name = re.sub(r"[^A-Za-z0-9._-]+", "-", body["name"])[:100]
        if f"{owner}/{name}".lower() in self.repos:
            raise _error(
                422,
                "Repository creation failed.",
                errors=[
                    {
                        "resource": "Repository",
                        "code": "custom",
                        "field": "name",
                        "message": "name already exists on this account",
                    }
                ],
            )
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        repo = self.add_repo(owner, name, body.get("description", ""), now)
        if body.get("auto_init"):
            self.commit_files(repo, {"README.md": f"# {name}\n".encode()}, "Initial commit")
        return _Reply(201, self._repo_json(repo))

    def get_repo(self, query: dict[str, str], body: Any, owner: str, name: str) -> _Reply:
        return _Reply(200, self._repo_json(self._get(owner, name)))

    # ----- contents and refs --------------------------------------------------------------
    def _content_json(self, repo: FakeRepo, path: str, data: bytes, branch: str) -> dict[str, Any]:
        sha = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
        api = self._url(repo, f"contents/{path}?ref={branch}")
        html = f"https://github.com/{repo.full_name}/blob/{branch}/{path}"
        git = self._url(repo, f"git/blobs/{sha}")
        return {
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "sha": sha,
            "size": len(data),
            "url": api,
            "html_url": html,
            "git_url": git,
            "download_url": f"https://raw.githubusercontent.com/{repo.full_name}/{branch}/{path}",
            "type": "file",
            "_links": {"self": api, "git": git, "html": html},
        }

    def put_content(
        self, query: dict[str, str], body: Any, owner: str, name: str, path: str
    ) -> _Reply:
        repo = self._get(owner, name)
        if path.startswith(".github/workflows/") and not self.workflow_scope:
            raise _error(404, "Not Found")
        branch = body.get("branch", "main")
        if branch not in repo.branches and (branch != "main" or repo.branches):
            raise _error(404, f"Branch {branch} not found")
        files = repo.files.setdefault(branch, {})
        old = files.get(path)
        if old is not None:
            current = self._content_json(repo, path, old, branch)["sha"]
            if "sha" not in body:
                raise _error(422, 'Invalid request.\n\n"sha" wasn\'t supplied.')
            if body["sha"] != current:
                raise _error(409, f"{path} does not match {body['sha']}")
        data = base64.b64decode(body["content"])
        files[path] = data
        parent = repo.branches.get(branch)
        commit_sha = hashlib.sha1(f"{parent}{path}{next(self._ids)}".encode()).hexdigest()
        repo.branches[branch] = commit_sha
        if path.startswith(".github/workflows/") and branch == "main":
            repo.misses.pop(path.rsplit("/", 1)[-1], None)  # a new push re-registers
        commit = json.loads(
            json.dumps(_fixture("create-file")["commit"])
            .replace("octokit-fixture-org/create-file", repo.full_name)
            .replace("https://api.github.com", self.url)
        )
        commit.update(sha=commit_sha, message=body["message"], parents=[])
        if parent:
            commit["parents"] = [{"sha": parent, "url": self._url(repo, f"git/commits/{parent}")}]
        commit["url"] = self._url(repo, f"git/commits/{commit_sha}")
        content = self._content_json(repo, path, data, branch)
        return _Reply(200 if old is not None else 201, {"content": content, "commit": commit})

    def get_content(
        self, query: dict[str, str], body: Any, owner: str, name: str, path: str
    ) -> _Reply:
        repo = self._get(owner, name)
        branch = query.get("ref", "main")
        data = self._files_at(repo, branch).get(path)
        if data is None:
            raise _error(404, "Not Found")
        content = self._content_json(repo, path, data, branch)
        content.update(encoding="base64", content=base64.b64encode(data).decode())
        return _Reply(200, content)

    def _ref_json(self, repo: FakeRepo, branch: str) -> dict[str, Any]:
        text = json.dumps(_fixture("git-refs", 1)).replace(
            "octokit-fixture-org/git-refs", repo.full_name
        )
        data: dict[str, Any] = json.loads(text.replace("https://api.github.com", self.url))
        sha = repo.branches[branch]
        data["ref"] = f"refs/heads/{branch}"
        data["url"] = self._url(repo, f"git/refs/heads/{branch}")
        data["object"].update(sha=sha, url=self._url(repo, f"git/commits/{sha}"))
        return data

    def get_ref(self, query: dict[str, str], body: Any, owner: str, name: str, ref: str) -> _Reply:
        repo = self._get(owner, name)
        if not repo.branches:
            raise _error(409, "Git Repository is empty.")
        branch = ref.removeprefix("heads/")
        if not ref.startswith("heads/") or branch not in repo.branches:
            raise _error(404, "Not Found")
        return _Reply(200, self._ref_json(repo, branch))

    def create_ref(self, query: dict[str, str], body: Any, owner: str, name: str) -> _Reply:
        repo = self._get(owner, name)
        if body["ref"].startswith("refs/tags/"):
            return self._create_tag_ref(repo, body["ref"].removeprefix("refs/tags/"), body["sha"])
        branch = body["ref"].removeprefix("refs/heads/")
        if branch in repo.branches:
            raise _error(422, "Reference already exists")
        if body["sha"] not in repo.branches.values():
            raise _error(422, "Object does not exist")
        repo.branches[branch] = body["sha"]
        source = next(b for b, s in repo.branches.items() if s == body["sha"] and b != branch)
        repo.files[branch] = dict(repo.files.get(source, {}))
        return _Reply(201, self._ref_json(repo, branch))

    # ----- secrets ------------------------------------------------------------------------
    def public_key(self, query: dict[str, str], body: Any, owner: str, name: str) -> _Reply:
        repo = self._get(owner, name)
        key = repo.key.public_key.encode(Base64Encoder).decode()
        return _Reply(200, {"key_id": str(repo.id), "key": key})

    def put_secret(
        self, query: dict[str, str], body: Any, owner: str, name: str, secret: str
    ) -> _Reply:
        repo = self._get(owner, name)
        if body["key_id"] != str(repo.id):
            raise _error(422, "Bad request: key_id does not match the repository key")
        try:
            SealedBox(repo.key).decrypt(base64.b64decode(body["encrypted_value"]))
        except Exception as exc:
            raise _error(422, "Bad request: the value could not be decrypted") from exc
        existed = secret in repo.secrets
        repo.secrets[secret] = body["encrypted_value"]
        return _Reply(204) if existed else _Reply(201, {})

    def get_secret(
        self, query: dict[str, str], body: Any, owner: str, name: str, secret: str
    ) -> _Reply:
        repo = self._get(owner, name)
        if secret not in repo.secrets:
            raise _error(404, "Not Found")
        stamp = "2026-01-01T00:00:00Z"
        return _Reply(200, {"name": secret, "created_at": stamp, "updated_at": stamp})

    # ----- pages --------------------------------------------------------------------------
    def _pages_json(self, repo: FakeRepo) -> dict[str, Any]:
        return {
            "url": self._url(repo, "pages"),
            "status": "building",
            "cname": None,
            "custom_404": False,
            "html_url": f"https://{repo.owner.lower()}.github.io/{repo.name}/",
            "build_type": "workflow",
            "public": True,
            "https_enforced": True,
        }

    def create_pages(self, query: dict[str, str], body: Any, owner: str, name: str) -> _Reply:
        repo = self._get(owner, name)
        if not self.pages_rights:
            raise _error(403, "Resource not accessible by personal access token")
        if repo.pages:
            raise _error(409, "GitHub Pages is already enabled.")
        repo.pages = True
        return _Reply(201, self._pages_json(repo))

    def get_pages(self, query: dict[str, str], body: Any, owner: str, name: str) -> _Reply:
        repo = self._get(owner, name)
        if not repo.pages:
            raise _error(404, "Not Found")
        return _Reply(200, self._pages_json(repo))

    # ----- actions ------------------------------------------------------------------------
    def _registered(self, repo: FakeRepo, workflow: str) -> bool:
        """Counts one lookup; the workflow registers after ``registration_lag`` 404s."""
        if f".github/workflows/{workflow}" not in repo.files.get("main", {}):
            return False
        served = repo.misses.get(workflow, 0)
        if served < self.registration_lag:
            repo.misses[workflow] = served + 1
            return False
        return True

    def get_workflow(
        self, query: dict[str, str], body: Any, owner: str, name: str, wf: str
    ) -> _Reply:
        repo = self._get(owner, name)
        if not self._registered(repo, wf):
            raise _error(404, "Not Found")
        stamp = "2026-01-01T00:00:00Z"
        return _Reply(
            200,
            {
                "id": repo.id * 10,
                "node_id": "MDg6V29ya2Zsb3cxMg==",
                "name": wf,
                "path": f".github/workflows/{wf}",
                "state": "active",
                "created_at": stamp,
                "updated_at": stamp,
                "url": self._url(repo, f"actions/workflows/{wf}"),
                "html_url": f"https://github.com/{repo.full_name}/blob/main/.github/workflows/{wf}",
                "badge_url": f"https://github.com/{repo.full_name}/workflows/{wf}/badge.svg",
            },
        )

    def dispatch(self, query: dict[str, str], body: Any, owner: str, name: str, wf: str) -> _Reply:
        repo = self._get(owner, name)
        inputs = body.get("inputs") or {}
        if not self._registered(repo, wf):
            raise _error(404, "Not Found")
        if b"workflow_dispatch" not in repo.files["main"][f".github/workflows/{wf}"]:
            raise _error(422, "Workflow does not have 'workflow_dispatch' trigger")
        if body.get("ref") not in repo.branches:
            raise _error(422, f"No ref found for: {body.get('ref')}")
        if len(json.dumps(inputs, separators=(",", ":"), ensure_ascii=False)) > INPUTS_CAP:
            raise _error(422, "inputs are too large.")
        run_id = next(self._ids) * 1000
        source = repo.files["main"][f".github/workflows/{wf}"]
        self.dispatches.append(
            DispatchRecord(
                repo.full_name,
                wf,
                body["ref"],
                inputs,
                run_id,
                title=_run_title(source, wf, inputs),
                created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                hidden=self.run_lag,
            )
        )
        if self.on_dispatch is not None:
            self.on_dispatch(repo.full_name, wf, inputs)
        if not body.get("return_run_details"):
            return _Reply(204)
        return _Reply(
            200,
            {
                "workflow_run_id": run_id,
                "run_url": self._url(repo, f"actions/runs/{run_id}"),
                "html_url": f"https://github.com/{repo.full_name}/actions/runs/{run_id}",
            },
        )

    def list_runs(self, query: dict[str, str], body: Any, owner: str, name: str, wf: str) -> _Reply:
        """Runs of one workflow, newest first, paginated; only dispatches make runs here."""
        repo = self._get(owner, name)
        if f".github/workflows/{wf}" not in repo.files.get("main", {}):
            raise _error(404, "Not Found")
        mine = [d for d in self.dispatches if d.repo == repo.full_name and d.workflow == wf]
        numbers = {d.run_id: n for n, d in enumerate(mine, 1)}
        visible = []
        for record in mine:
            if record.hidden > 0:
                record.hidden -= 1
            else:
                visible.append(record)
        if query.get("event", "workflow_dispatch") != "workflow_dispatch":
            visible = []
        visible.reverse()
        page, per_page = int(query.get("page", 1)), int(query.get("per_page", 30))
        chunk = visible[(page - 1) * per_page : page * per_page]
        runs = [self._run_json(repo, d, numbers[d.run_id]) for d in chunk]
        return _Reply(200, {"total_count": len(visible), "workflow_runs": runs})

    def _run_json(self, repo: FakeRepo, record: DispatchRecord, number: int) -> dict[str, Any]:
        run_url = self._url(repo, f"actions/runs/{record.run_id}")
        head = repo.branches.get(record.ref, "0" * 40)
        source = repo.files["main"].get(f".github/workflows/{record.workflow}", b"")
        user = {"name": "Octo", "email": "octo@example.com"}
        repository = self._repo_json(repo)
        return {
            "id": record.run_id,
            "name": _workflow_name(source, record.workflow),
            "node_id": f"WFR_{record.run_id}",
            "check_suite_id": record.run_id + 1,
            "head_branch": record.ref,
            "head_sha": head,
            "path": f".github/workflows/{record.workflow}",
            "display_title": record.title,
            "run_number": number,
            "run_attempt": 1,
            "event": "workflow_dispatch",
            "status": "in_progress",
            "conclusion": None,
            "workflow_id": repo.id * 10,
            "url": run_url,
            "html_url": f"https://github.com/{repo.full_name}/actions/runs/{record.run_id}",
            "pull_requests": [],
            "created_at": record.created_at,
            "updated_at": record.created_at,
            "run_started_at": record.created_at,
            "actor": repository["owner"],
            "triggering_actor": repository["owner"],
            "jobs_url": f"{run_url}/jobs",
            "logs_url": f"{run_url}/logs",
            "check_suite_url": self._url(repo, f"check-suites/{record.run_id + 1}"),
            "artifacts_url": f"{run_url}/artifacts",
            "cancel_url": f"{run_url}/cancel",
            "rerun_url": f"{run_url}/rerun",
            "workflow_url": self._url(repo, f"actions/workflows/{repo.id * 10}"),
            "head_commit": {
                "id": head,
                "tree_id": hashlib.sha1(head.encode()).hexdigest(),
                "message": "Add the llm-deploy workflow",
                "timestamp": record.created_at,
                "author": user,
                "committer": user,
            },
            "repository": repository,
            "head_repository": repository,
        }

    # ----- git data: trees, blobs, commits, tags (the published Action) --------------------
    def commit_files(
        self, repo: FakeRepo, files: dict[str, bytes], message: str, branch: str = "main"
    ) -> str:
        """Make a commit holding exactly ``files`` on ``branch`` (as a push would); its sha."""
        tree = self._store_tree(repo, files)
        parent = repo.branches.get(branch)
        sha = self._store_commit(repo, tree, [parent] if parent else [], message)
        self._move_branch(repo, branch, sha)
        return sha

    def seed_action(self, full_name: str, tag: str, *, annotated: bool = False) -> str:
        """A public action repo (``actions/checkout``) with ``tag`` on a commit; that commit."""
        owner, name = full_name.split("/", 1)
        repo = self.repos.get(full_name.lower()) or self.add_repo(
            owner, name, "a public action", "2020-01-01T00:00:00Z"
        )
        sha = self.commit_files(repo, {"action.yml": f"name: {name} {tag}\n".encode()}, tag)
        target = sha
        if annotated:
            target = hashlib.sha1(f"tag {tag} {sha}".encode()).hexdigest()
            repo.git.tag_objects[target] = (tag, sha)
        repo.git.tags[tag] = target
        return sha

    def _store_tree(self, repo: FakeRepo, files: dict[str, bytes]) -> str:
        entries = {}
        for path, data in files.items():
            blob = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
            repo.git.blobs[blob] = data
            entries[path] = blob
        sha = hashlib.sha1(json.dumps(sorted(entries.items())).encode()).hexdigest()
        repo.git.trees[sha] = entries
        return sha

    def _store_commit(self, repo: FakeRepo, tree: str, parents: list[str], message: str) -> str:
        sha = hashlib.sha1(f"{tree}{parents}{message}{next(self._ids)}".encode()).hexdigest()
        repo.git.commits[sha] = (tree, parents, message)
        return sha

    def _move_branch(self, repo: FakeRepo, branch: str, sha: str) -> None:
        tree = repo.git.trees[repo.git.commits[sha][0]]
        repo.branches[branch] = sha
        repo.files[branch] = {path: repo.git.blobs[blob] for path, blob in tree.items()}

    def _commit_of(self, repo: FakeRepo, sha: str) -> tuple[str, list[str], str] | None:
        """A commit's (tree, parents, message); Contents API commits get theirs on first use."""
        if sha not in repo.git.commits:
            branch = next((b for b, head in repo.branches.items() if head == sha), None)
            if branch is None:
                return None
            repo.git.commits[sha] = (self._store_tree(repo, repo.files.get(branch, {})), [], "")
        return repo.git.commits[sha]

    def _resolve(self, repo: FakeRepo, ref: str) -> str | None:
        """A branch (or HEAD), a tag (annotated ones followed) or a commit sha; its commit."""
        if ref == "HEAD":
            ref = "main"
        sha = repo.branches.get(ref) or repo.git.tags.get(ref) or ref
        sha = repo.git.tag_objects.get(sha, ("", sha))[1]
        return sha if self._commit_of(repo, sha) else None

    def _files_at(self, repo: FakeRepo, ref: str) -> dict[str, bytes]:
        if ref in repo.files:
            return repo.files[ref]
        found = self._commit_of(repo, ref)
        if found is None:
            return {}
        return {p: repo.git.blobs[b] for p, b in repo.git.trees[found[0]].items()}

    def _is_ancestor(self, repo: FakeRepo, old: str, new: str) -> bool:
        todo = [new]
        while todo:
            sha = todo.pop()
            if sha == old:
                return True
            found = self._commit_of(repo, sha)
            todo += found[1] if found else []
        return False

    def _person(self) -> dict[str, str]:
        return {"name": "Octo", "email": "octo@example.com", "date": "2026-01-01T00:00:00Z"}

    def _git_commit_json(self, repo: FakeRepo, sha: str) -> dict[str, Any]:
        tree, parents, message = repo.git.commits[sha]
        return {
            "sha": sha,
            "node_id": f"C_{sha[:12]}",
            "url": self._url(repo, f"git/commits/{sha}"),
            "html_url": f"https://github.com/{repo.full_name}/commit/{sha}",
            "author": self._person(),
            "committer": self._person(),
            "message": message,
            "tree": {"sha": tree, "url": self._url(repo, f"git/trees/{tree}")},
            "parents": [
                {
                    "sha": p,
                    "url": self._url(repo, f"git/commits/{p}"),
                    "html_url": f"https://github.com/{repo.full_name}/commit/{p}",
                }
                for p in parents
            ],
            "verification": {
                "verified": False,
                "reason": "unsigned",
                "signature": None,
                "payload": None,
                "verified_at": None,
            },
        }

    def get_commit(
        self, query: dict[str, str], body: Any, owner: str, name: str, ref: str
    ) -> _Reply:
        repo = self._get(owner, name)
        if not repo.branches:
            raise _error(409, "Git Repository is empty.")
        sha = self._resolve(repo, ref)
        if sha is None:
            raise _error(422, f"No commit found for SHA: {ref}")
        git = self._git_commit_json(repo, sha)
        person = {k: git["author"][k] for k in ("name", "email", "date")}
        return _Reply(
            200,
            {
                "url": self._url(repo, f"commits/{sha}"),
                "sha": sha,
                "node_id": git["node_id"],
                "html_url": git["html_url"],
                "comments_url": self._url(repo, f"commits/{sha}/comments"),
                "commit": {
                    "author": person,
                    "committer": person,
                    "comment_count": 0,
                    "message": git["message"],
                    "tree": git["tree"],
                    "url": git["url"],
                },
                "author": self._owner_json(repo.owner),
                "committer": self._owner_json(repo.owner),
                "parents": [
                    {"sha": p["sha"], "url": p["url"], "html_url": p["html_url"]}
                    for p in git["parents"]
                ],
            },
        )

    def _tree_json(self, repo: FakeRepo, sha: str, recursive: bool) -> dict[str, Any]:
        entries: list[dict[str, Any]] = []
        folders: set[str] = set()
        for path, blob in sorted(repo.git.trees[sha].items()):
            parts = path.split("/")
            for depth in range(1, len(parts)):
                folder = "/".join(parts[:depth])
                if folder not in folders and (recursive or depth == 1):
                    folders.add(folder)
                    folder_sha = hashlib.sha1(f"{sha}/{folder}".encode()).hexdigest()
                    entries.append(
                        {
                            "path": folder,
                            "mode": "040000",
                            "type": "tree",
                            "sha": folder_sha,
                            "url": self._url(repo, f"git/trees/{folder_sha}"),
                        }
                    )
            if recursive or len(parts) == 1:
                entries.append(
                    {
                        "path": path,
                        "mode": "100644",
                        "type": "blob",
                        "sha": blob,
                        "size": len(repo.git.blobs[blob]),
                        "url": self._url(repo, f"git/blobs/{blob}"),
                    }
                )
        return {
            "sha": sha,
            "url": self._url(repo, f"git/trees/{sha}"),
            "tree": entries,
            "truncated": False,
        }

    def get_tree(self, query: dict[str, str], body: Any, owner: str, name: str, sha: str) -> _Reply:
        repo = self._get(owner, name)
        if sha not in repo.git.trees:
            raise _error(404, "Not Found")
        return _Reply(200, self._tree_json(repo, sha, query.get("recursive") not in (None, "")))

    def create_blob(self, query: dict[str, str], body: Any, owner: str, name: str) -> _Reply:
        repo = self._get(owner, name)
        if not repo.branches:
            raise _error(409, "Git Repository is empty.")
        raw = body["content"]
        data = base64.b64decode(raw) if body.get("encoding") == "base64" else raw.encode()
        sha = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
        repo.git.blobs[sha] = data
        return _Reply(201, {"url": self._url(repo, f"git/blobs/{sha}"), "sha": sha})

    def create_tree(self, query: dict[str, str], body: Any, owner: str, name: str) -> _Reply:
        repo = self._get(owner, name)
        if not repo.branches:
            raise _error(409, "Git Repository is empty.")
        base = body.get("base_tree")
        if base is not None and base not in repo.git.trees:
            raise _error(422, f"base_tree {base} is not a valid tree")
        files = {p: repo.git.blobs[b] for p, b in repo.git.trees.get(base or "", {}).items()}
        for entry in body["tree"]:
            if "sha" in entry and "content" in entry:
                raise _error(422, "Only one of sha or content may be given per tree entry")
            if entry.get("type") != "blob" or entry.get("mode") != "100644":
                raise _error(422, "This fake stores plain files only")
            if "content" in entry:
                files[entry["path"]] = entry["content"].encode()
            elif entry.get("sha") is None:
                files.pop(entry["path"], None)
            elif entry["sha"] in repo.git.blobs:
                files[entry["path"]] = repo.git.blobs[entry["sha"]]
            else:
                raise _error(422, f"tree.sha {entry['sha']} is not a valid blob")
        sha = self._store_tree(repo, files)
        return _Reply(201, self._tree_json(repo, sha, recursive=False))

    def create_commit(self, query: dict[str, str], body: Any, owner: str, name: str) -> _Reply:
        repo = self._get(owner, name)
        if not repo.branches:
            raise _error(409, "Git Repository is empty.")
        parents = list(body.get("parents") or [])
        if body["tree"] not in repo.git.trees:
            raise _error(422, "Tree SHA does not exist")
        if any(self._commit_of(repo, p) is None for p in parents):
            raise _error(422, "Parent SHA does not exist or is not a commit object")
        sha = self._store_commit(repo, body["tree"], parents, body["message"])
        return _Reply(201, self._git_commit_json(repo, sha))

    def _git_ref_json(self, repo: FakeRepo, ref: str, sha: str) -> dict[str, Any]:
        kind = "tag" if sha in repo.git.tag_objects else "commit"
        return {
            "ref": f"refs/{ref}",
            "node_id": f"REF_{sha[:12]}",
            "url": self._url(repo, f"git/refs/{ref}"),
            "object": {"type": kind, "sha": sha, "url": self._url(repo, f"git/{kind}s/{sha}")},
        }

    def _create_tag_ref(self, repo: FakeRepo, tag: str, sha: str) -> _Reply:
        if tag in repo.git.tags:
            raise _error(422, "Reference already exists")
        if self._commit_of(repo, sha) is None and sha not in repo.git.tag_objects:
            raise _error(422, "Object does not exist")
        repo.git.tags[tag] = sha
        return _Reply(201, self._git_ref_json(repo, f"tags/{tag}", sha))

    def get_tag_ref(
        self, query: dict[str, str], body: Any, owner: str, name: str, tag: str
    ) -> _Reply:
        repo = self._get(owner, name)
        if tag not in repo.git.tags:
            raise _error(404, "Not Found")
        return _Reply(200, self._git_ref_json(repo, f"tags/{tag}", repo.git.tags[tag]))

    def matching_refs(
        self, query: dict[str, str], body: Any, owner: str, name: str, prefix: str
    ) -> _Reply:
        repo = self._get(owner, name)
        refs = [(f"heads/{b}", s) for b, s in repo.branches.items()]
        refs += [(f"tags/{t}", s) for t, s in repo.git.tags.items()]
        return _Reply(
            200, [self._git_ref_json(repo, r, s) for r, s in sorted(refs) if r.startswith(prefix)]
        )

    def update_ref(
        self, query: dict[str, str], body: Any, owner: str, name: str, ref: str
    ) -> _Reply:
        repo = self._get(owner, name)
        kind, _, short = ref.partition("/")
        current = repo.branches.get(short) if kind == "heads" else repo.git.tags.get(short)
        if current is None:
            raise _error(422, "Reference does not exist")
        if self._commit_of(repo, body["sha"]) is None:
            raise _error(422, "Object does not exist")
        if not body.get("force") and not self._is_ancestor(repo, current, body["sha"]):
            raise _error(422, "Update is not a fast forward")
        if kind == "heads":
            self._move_branch(repo, short, body["sha"])
        else:
            repo.git.tags[short] = body["sha"]
        return _Reply(200, self._git_ref_json(repo, ref, body["sha"]))

    def get_tag_object(
        self, query: dict[str, str], body: Any, owner: str, name: str, sha: str
    ) -> _Reply:
        repo = self._get(owner, name)
        if sha not in repo.git.tag_objects:
            raise _error(404, "Not Found")
        tag, target = repo.git.tag_objects[sha]
        person = self._person()
        return _Reply(
            200,
            {
                "sha": sha,
                "url": self._url(repo, f"git/tags/{sha}"),
                "node_id": f"TAG_{sha[:12]}",
                "tagger": person,
                "tag": tag,
                "message": f"{tag}\n",
                "object": {
                    "sha": target,
                    "type": "commit",
                    "url": self._url(repo, f"git/commits/{target}"),
                },
                "verification": {
                    "verified": False,
                    "reason": "unsigned",
                    "signature": None,
                    "payload": None,
                    "verified_at": None,
                },
            },
        )


# ----- runs that end, their report artifact, and Pages deployments ---------------------------
# Appended for issue 16: a test ends a dispatched run with ``finish_run`` (its conclusion and the
# report.json the Action uploads as ``llm-deploy-report-deploy``) and deploys a commit with
# ``deploy_pages``. The artifact download answers 302 to a blob URL outside the REST API, as
# GitHub does; that blob is served without the API's checks or token.
BLOB_PREFIX = "/_blobs/"
REPORT_ARTIFACT = "llm-deploy-report-deploy"


def _stamp(at: float | None = None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


def _zip(files: dict[str, bytes]) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def deploy_pages(fake: FakeGitHub, full_name: str, sha: str, status: str = "succeed") -> None:
    """Record the Pages deployment of a commit, as actions/deploy-pages would create it."""
    with fake._lock:
        fake.pages_deployments[(full_name.lower(), sha)] = status


def finish_run(
    fake: FakeGitHub, run_id: int, conclusion: str, report: dict[str, Any] | None = None
) -> None:
    """End a dispatched run with a conclusion and (optionally) its uploaded report.json."""
    with fake._lock:
        fake.finished[run_id] = (conclusion, report)
        if report is not None:
            fake.blobs[f"{BLOB_PREFIX}{run_id + 7}.zip"] = _zip(
                {"report.json": json.dumps(report).encode()}
            )


def _record(fake: FakeGitHub, repo: FakeRepo, run_id: str) -> tuple[DispatchRecord, int]:
    mine = [d for d in fake.dispatches if d.repo == repo.full_name]
    for number, record in enumerate(mine, 1):
        if str(record.run_id) == run_id:
            return record, number
    raise _error(404, "Not Found")


def _list_artifacts(
    fake: FakeGitHub, query: dict[str, str], body: Any, owner: str, name: str, run_id: str
) -> _Reply:
    repo = fake._get(owner, name)
    record, _ = _record(fake, repo, run_id)
    done = fake.finished.get(record.run_id)
    artifacts = []
    if done is not None and done[1] is not None:
        artifact_id = record.run_id + 7
        url = fake._url(repo, f"actions/artifacts/{artifact_id}")
        artifacts.append(
            {
                "id": artifact_id,
                "node_id": f"MDg6QXJ0aWZhY3Q{artifact_id}",
                "name": REPORT_ARTIFACT,
                "size_in_bytes": len(fake.blobs[f"{BLOB_PREFIX}{artifact_id}.zip"]),
                "url": url,
                "archive_download_url": f"{url}/zip",
                "expired": False,
                "created_at": record.created_at,
                "updated_at": record.created_at,
                "expires_at": _stamp(time.time() + 90 * 86400),
                "digest": None,
                "workflow_run": {
                    "id": record.run_id,
                    "repository_id": repo.id,
                    "head_repository_id": repo.id,
                    "head_branch": record.ref,
                    "head_sha": repo.branches.get(record.ref, "0" * 40),
                },
            }
        )
    if query.get("name"):
        artifacts = [a for a in artifacts if a["name"] == query["name"]]
    return _Reply(200, {"total_count": len(artifacts), "artifacts": artifacts})


def _download_artifact(
    fake: FakeGitHub,
    query: dict[str, str],
    body: Any,
    owner: str,
    name: str,
    artifact_id: str,
    archive_format: str,
) -> _Reply:
    fake._get(owner, name)
    blob = f"{BLOB_PREFIX}{artifact_id}.zip"
    if archive_format != "zip" or blob not in fake.blobs:
        raise _error(404, "Not Found")
    return _Reply(302, None, {"Location": f"{fake.url}{blob}"})


def _get_pages_deployment(
    fake: FakeGitHub, query: dict[str, str], body: Any, owner: str, name: str, deployment: str
) -> _Reply:
    repo = fake._get(owner, name)
    status = fake.pages_deployments.get((repo.full_name.lower(), deployment))
    if status is None:
        raise _error(404, "Not Found")
    return _Reply(200, {"status": status})


def _workflow_doc(source: bytes) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(source)
    except yaml.YAMLError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _workflow_name(source: bytes, workflow: str) -> str:
    """A run's ``name``: the workflow's ``name:``, else its path, as GitHub shows it."""
    return str(_workflow_doc(source).get("name") or f".github/workflows/{workflow}")


_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def _run_title(source: bytes, workflow: str, inputs: dict[str, str]) -> str:
    """The rendered ``run-name`` (GitHub's ``display_title``), else the workflow's name.

    Only what run-names use here is understood: ``inputs.x``, ``github.event.inputs.x``,
    quoted literals and ``||`` between them.
    """
    template = _workflow_doc(source).get("run-name")
    if not template:
        return _workflow_name(source, workflow)

    def value(match: re.Match[str]) -> str:
        for option in match.group(1).split("||"):
            option = option.strip()
            if option[:1] == option[-1:] == "'" and len(option) >= 2:
                return option[1:-1]
            key = option.removeprefix("github.event.").removeprefix("inputs.")
            if option != key and inputs.get(key):
                return inputs[key]
        return ""

    return _EXPRESSION.sub(value, str(template))


_R = r"([^/]+)/([^/]+)"
_TABLE: list[tuple[str, str, Callable[..., _Reply]]] = [
    ("GET", "/user", FakeGitHub.get_user),
    ("GET", "/user/repos", FakeGitHub.list_user_repos),
    ("POST", "/user/repos", FakeGitHub.create_user_repo),
    ("GET", "/orgs/([^/]+)/repos", FakeGitHub.list_org_repos),
    ("POST", "/orgs/([^/]+)/repos", FakeGitHub.create_org_repo),
    ("GET", f"/repos/{_R}", FakeGitHub.get_repo),
    ("PUT", f"/repos/{_R}/contents/(.+)", FakeGitHub.put_content),
    ("GET", f"/repos/{_R}/contents/(.+)", FakeGitHub.get_content),
    ("GET", f"/repos/{_R}/git/ref/tags/(.+)", FakeGitHub.get_tag_ref),
    ("GET", f"/repos/{_R}/git/ref/(.+)", FakeGitHub.get_ref),
    ("POST", f"/repos/{_R}/git/refs", FakeGitHub.create_ref),
    ("GET", f"/repos/{_R}/actions/secrets/public-key", FakeGitHub.public_key),
    ("PUT", f"/repos/{_R}/actions/secrets/([^/]+)", FakeGitHub.put_secret),
    ("GET", f"/repos/{_R}/actions/secrets/([^/]+)", FakeGitHub.get_secret),
    ("POST", f"/repos/{_R}/pages", FakeGitHub.create_pages),
    ("GET", f"/repos/{_R}/pages", FakeGitHub.get_pages),
    ("GET", f"/repos/{_R}/actions/workflows/([^/]+)", FakeGitHub.get_workflow),
    ("POST", f"/repos/{_R}/actions/workflows/([^/]+)/dispatches", FakeGitHub.dispatch),
    ("GET", f"/repos/{_R}/actions/workflows/([^/]+)/runs", FakeGitHub.list_runs),
    ("GET", f"/repos/{_R}/actions/runs/(\\d+)/artifacts", _list_artifacts),
    ("GET", f"/repos/{_R}/actions/artifacts/(\\d+)/([^/]+)", _download_artifact),
    ("GET", f"/repos/{_R}/pages/deployments/([^/]+)", _get_pages_deployment),
    ("GET", f"/repos/{_R}/commits/(.+)", FakeGitHub.get_commit),
    ("GET", f"/repos/{_R}/git/trees/([^/]+)", FakeGitHub.get_tree),
    ("POST", f"/repos/{_R}/git/blobs", FakeGitHub.create_blob),
    ("POST", f"/repos/{_R}/git/trees", FakeGitHub.create_tree),
    ("POST", f"/repos/{_R}/git/commits", FakeGitHub.create_commit),
    ("GET", f"/repos/{_R}/git/matching-refs/(.*)", FakeGitHub.matching_refs),
    ("PATCH", f"/repos/{_R}/git/refs/(.+)", FakeGitHub.update_ref),
    ("GET", f"/repos/{_R}/git/tags/([^/]+)", FakeGitHub.get_tag_object),
]
_ROUTES = [(verb, re.compile(f"^{pattern}$"), fn) for verb, pattern, fn in _TABLE]


def _handler(fake: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            if parts.path.startswith(BLOB_PREFIX):
                return self._blob(parts.path)
            query = dict(parse_qsl(parts.query))
            headers = dict(self.headers.items())
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if fake.delay:
                time.sleep(fake.delay)
            reply = fake.handle(self.command, parts.path, query, headers, raw)
            body = b"" if reply.body is None else json.dumps(reply.body).encode()
            out = {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "4999"}
            out["x-ratelimit-reset"] = str(int(time.time()) + 3600)
            if body:
                out["Content-Type"] = "application/json; charset=utf-8"
            if fake.scopes is not None:
                out["X-OAuth-Scopes"] = fake.scopes
            out.update(reply.headers)
            try:
                fake.violations += openapi_check.check_exchange(
                    self.command, parts.path, query, headers, raw, reply.status, out, body
                )
            except Exception as exc:  # a checker crash must fail the test, not hang the client
                fake.violations.append(f"{self.command} {parts.path}: checker crashed: {exc!r}")
            fake.requests.append(Recorded(self.command, parts.path, reply.status))
            self.send_response(reply.status)
            for key, value in out.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _blob(self, path: str) -> None:
            data = fake.blobs.get(path)
            fake.requests.append(Recorded(self.command, path, 200 if data else 404))
            self.send_response(200 if data is not None else 404)
            self.send_header("Content-Type", "application/zip")
            self.send_header("Content-Length", str(len(data or b"")))
            self.end_headers()
            self.wfile.write(data or b"")

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

    return Handler


# ----- doctor endpoints: permissions probes, the Action's commit, run simulation, deletion -------
# Appended as plain functions taking the fake, so the class above stays as it was.

_DENIED_PATHS = {  # permission family -> path fragments a fine-grained token without it gets 403 on
    "secrets": ("/actions/secrets",),
    "actions": ("/actions/workflows", "/actions/runs"),
    "pages": ("/pages",),
    "administration": ("/actions/permissions",),
}


def _maybe_deny(fake: FakeGitHub, path: str) -> None:
    for family in fake.denied:
        if any(part in path for part in _DENIED_PATHS[family]):
            raise _error(403, "Resource not accessible by personal access token")


def get_repo_actions_permissions(
    fake: FakeGitHub, query: dict[str, str], body: Any, owner: str, name: str
) -> _Reply:
    fake._get(owner, name)
    return _Reply(200, dict(fake.repo_actions))


def get_org_actions_permissions(
    fake: FakeGitHub, query: dict[str, str], body: Any, org: str
) -> _Reply:
    if org not in fake.orgs:
        raise _error(404, "Not Found")
    return _Reply(200, dict(fake.org_actions))


def list_workflows(
    fake: FakeGitHub, query: dict[str, str], body: Any, owner: str, name: str
) -> _Reply:
    fake._get(owner, name)
    return _Reply(200, {"total_count": 0, "workflows": []})


def get_commit(
    fake: FakeGitHub, query: dict[str, str], body: Any, owner: str, name: str, ref: str
) -> _Reply:
    """A branch name or a commit sha that is (or was made) a branch head of the repo."""
    repo = fake._get(owner, name)
    if not repo.branches:
        raise _error(409, "Git Repository is empty.")
    sha = repo.branches.get(ref) or (ref if ref in repo.branches.values() else None)
    if sha is None:
        raise _error(422, f"No commit found for SHA: {ref}")
    url = fake._url(repo, f"commits/{sha}")
    user = {"name": "Octo", "email": "octo@example.com", "date": "2026-01-01T00:00:00Z"}
    tree = hashlib.sha1(sha.encode()).hexdigest()
    return _Reply(
        200,
        {
            "url": url,
            "sha": sha,
            "node_id": f"C_{sha[:12]}",
            "html_url": f"https://github.com/{repo.full_name}/commit/{sha}",
            "comments_url": f"{url}/comments",
            "commit": {
                "author": user,
                "committer": user,
                "comment_count": 0,
                "message": "commit",
                "url": fake._url(repo, f"git/commits/{sha}"),
                "tree": {"sha": tree, "url": fake._url(repo, f"git/trees/{tree}")},
            },
            "author": fake._owner_json(repo.owner),
            "committer": fake._owner_json(repo.owner),
            "parents": [],
        },
    )


def delete_repo(
    fake: FakeGitHub, query: dict[str, str], body: Any, owner: str, name: str
) -> _Reply:
    repo = fake._get(owner, name)
    if fake.scopes is not None and "delete_repo" not in fake.scopes:
        raise _error(403, "Must have admin rights to Repository.")
    del fake.repos[repo.full_name.lower()]
    return _Reply(204)


def get_run(
    fake: FakeGitHub, query: dict[str, str], body: Any, owner: str, name: str, run_id: str
) -> _Reply:
    """One dispatched run: as ``finish_run`` ended it, else, with ``simulate_runs``, each read
    advances it: queued, then in progress (the "Action" commits index.html and deploys Pages),
    then completed; else as dispatched."""
    repo = fake._get(owner, name)
    record, number = _record(fake, repo, run_id)
    data = fake._run_json(repo, record, number)
    if record.run_id in fake.finished:  # ended by a test (finish_run)
        data.update(
            status="completed", conclusion=fake.finished[record.run_id][0], updated_at=_stamp()
        )
        return _Reply(200, data)
    if not fake.simulate_runs:
        return _Reply(200, data)
    reads = fake.run_reads.get(record.run_id, 0)
    fake.run_reads[record.run_id] = reads + 1
    if reads == 0:
        data.update(status="queued")
    elif reads == 1:
        _simulate_action(fake, repo, record)
    else:
        data.update(status="completed", conclusion=fake.run_conclusion)
    return _Reply(200, data)


def _simulate_action(fake: FakeGitHub, repo: FakeRepo, record: DispatchRecord) -> None:
    """What the Action does inside a run, reduced: one commit of index.html, one deployment."""
    page = (
        f"<!doctype html><title>round trip</title><p>run {record.run_id} "
        f"dispatch {record.inputs.get('dispatch-id', '')}</p>\n"
    ).encode()
    files = repo.files.setdefault("main", {})
    files["index.html"] = page
    sha = hashlib.sha1(b"commit %d" % record.run_id + page).hexdigest()
    repo.branches["main"] = sha
    deployment_id = next(fake._ids)
    fake.deployments.append(
        {
            "repo": repo.full_name,
            "id": deployment_id,
            "sha": sha,
            "created_at": _stamp(),
            "run_id": record.run_id,
        }
    )
    fake.pages_deployments[(repo.full_name.lower(), sha)] = "succeed"


def list_deployments(
    fake: FakeGitHub, query: dict[str, str], body: Any, owner: str, name: str
) -> _Reply:
    repo = fake._get(owner, name)
    env = query.get("environment")
    found = [
        d for d in fake.deployments if d["repo"] == repo.full_name and env in (None, "github-pages")
    ]
    creator = fake._owner_json(repo.owner)
    out = []
    for d in reversed(found):  # newest first, as GitHub lists them
        url = fake._url(repo, f"deployments/{d['id']}")
        out.append(
            {
                "id": d["id"],
                "node_id": f"DE_{d['id']}",
                "sha": d["sha"],
                "ref": "main",
                "task": "deploy",
                "environment": "github-pages",
                "creator": creator,
                "payload": {},
                "description": "",
                "statuses_url": f"{url}/statuses",
                "repository_url": fake._url(repo, "").rstrip("/"),
                "url": url,
                "created_at": d["created_at"],
                "updated_at": d["created_at"],
            }
        )
    return _Reply(200, out)


def list_deployment_statuses(
    fake: FakeGitHub, query: dict[str, str], body: Any, owner: str, name: str, deployment_id: str
) -> _Reply:
    repo = fake._get(owner, name)
    found = next(
        (
            d
            for d in fake.deployments
            if d["repo"] == repo.full_name and str(d["id"]) == deployment_id
        ),
        None,
    )
    if found is None:
        raise _error(404, "Not Found")
    url = fake._url(repo, f"deployments/{deployment_id}")
    return _Reply(
        200,
        [
            {
                "id": found["id"] + 1,
                "node_id": f"DES_{found['id']}",
                "state": "success",
                "creator": fake._owner_json(repo.owner),
                "description": "Deployed",
                "deployment_url": url,
                "target_url": f"https://{repo.owner.lower()}.github.io/{repo.name}/",
                "repository_url": fake._url(repo, "").rstrip("/"),
                "url": f"{url}/statuses/1",
                "created_at": found["created_at"],
                "updated_at": found["created_at"],
            }
        ],
    )


_DOCTOR_TABLE: list[tuple[str, str, Callable[..., _Reply]]] = [
    ("GET", f"/repos/{_R}/actions/permissions", get_repo_actions_permissions),
    ("GET", "/orgs/([^/]+)/actions/permissions", get_org_actions_permissions),
    ("GET", f"/repos/{_R}/actions/workflows", list_workflows),
    ("GET", f"/repos/{_R}/commits/(.+)", get_commit),
    ("DELETE", f"/repos/{_R}", delete_repo),
    ("GET", f"/repos/{_R}/actions/runs/([0-9]+)", get_run),
    ("GET", f"/repos/{_R}/deployments", list_deployments),
    ("GET", f"/repos/{_R}/deployments/([0-9]+)/statuses", list_deployment_statuses),
]
_TABLE += _DOCTOR_TABLE
_ROUTES += [(verb, re.compile(f"^{pattern}$"), fn) for verb, pattern, fn in _DOCTOR_TABLE]


class FakePagesHost:
    """Serves each fake repo's ``main`` index.html at ``/<repo>/`` once it has a deployment:
    the round trip's stand-in for ``https://<owner>.github.io/<repo>/``."""

    def __init__(self, fake: FakeGitHub) -> None:
        host = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                status, body = host.page(urlsplit(self.path).path)
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.fake = fake
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def page(self, path: str) -> tuple[int, bytes]:
        name = path.strip("/").split("/")[0]
        with self.fake._lock:
            for repo in self.fake.repos.values():
                deployed = any(d["repo"] == repo.full_name for d in self.fake.deployments)
                if repo.name == name and deployed and "index.html" in repo.files.get("main", {}):
                    return 200, repo.files["main"]["index.html"]
        return 404, b"<h1>404</h1>"

    def __enter__(self) -> FakePagesHost:
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
