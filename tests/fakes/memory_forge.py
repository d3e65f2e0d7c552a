"""An in-memory Forge for worker and app tests: thread-safe, records every call."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field

from receiver.forge import Dispatch, ForgeError, NameTaken, Repo, WorkflowNotRegistered


@dataclass
class RepoState:
    repo: Repo
    description: str
    files: dict[str, bytes] = field(default_factory=dict)
    side_files: dict[tuple[str, str], bytes] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    pages: bool = False
    commits: int = 0
    workflow_pushed_at: float | None = None
    dispatches: list[dict[str, str]] = field(default_factory=list)
    run_urls: list[str] = field(default_factory=list)  # one per dispatch, same order


class MemoryForge:
    """A Forge held in memory, with switches for taken names, registration lag and failures."""

    INPUT_CAP = 65_535

    def __init__(self, owner: str = "octo", *, registration_lag: float = 0.0) -> None:
        self.owner = owner
        self.registration_lag = registration_lag
        self.taken: set[str] = set()  # names that exist outside this forge's knowledge
        self.fail: dict[str, str] = {}  # method name → ForgeError message to raise
        self.never_register: set[str] = set()  # repo names whose workflow never registers
        self.dispatch_delay = 0.0
        self.run_lag = 0  # find_run calls that miss every run, like GitHub creating runs late
        self.repos: dict[str, RepoState] = {}
        self.calls: list[tuple[str, str]] = []  # (method, repo name or argument)
        self._lock = threading.Lock()
        self._clock = 1_700_000_000.0

    def _call(self, method: str, arg: str) -> None:
        with self._lock:
            self.calls.append((method, arg))
        if method in self.fail:
            raise ForgeError(self.fail[method])

    def _state(self, repo: Repo) -> RepoState:
        with self._lock:
            return self.repos[repo.name]

    def count(self, method: str) -> int:
        with self._lock:
            return sum(1 for m, _ in self.calls if m == method)

    def all_dispatches(self) -> list[tuple[str, dict[str, str]]]:
        with self._lock:
            return [(n, d) for n, s in self.repos.items() for d in s.dispatches]

    def task_repos(self, base_name: str, tag: str) -> list[Repo]:
        self._call("task_repos", base_name)
        with self._lock:
            prefix = base_name + "-"
            found = [
                s.repo
                for n, s in self.repos.items()
                if (n == base_name or (n.startswith(prefix) and n[len(prefix) :].isdigit()))
                and tag in s.description
            ]
        return sorted(found, key=lambda r: r.created_at)

    def create_repo(self, name: str, description: str) -> Repo:
        self._call("create_repo", name)
        with self._lock:
            if name in self.repos or name in self.taken:
                raise NameTaken(f"The name {name} already exists on this account.")
            self._clock += 1
            repo = Repo(
                name=name,
                owner=self.owner,
                html_url=f"https://example.test/{self.owner}/{name}",
                pages_url=f"https://{self.owner}.example.test/{name}/",
                created_at=max(self._clock, time.time()),
            )
            self.repos[name] = RepoState(repo=repo, description=description)
        return repo

    def commit_files(self, repo: Repo, files: dict[str, bytes], message: str) -> str:
        self._call("commit_files", repo.name)
        state = self._state(repo)
        with self._lock:
            state.files.update(files)
            state.commits += 1
            if any(p.startswith(".github/workflows/") for p in files):
                state.workflow_pushed_at = time.monotonic()
            return f"{state.commits:040x}"

    def put_side_file(self, repo: Repo, branch: str, path: str, content: bytes) -> None:
        self._call("put_side_file", repo.name)
        state = self._state(repo)
        with self._lock:
            state.side_files[(branch, path)] = content

    def set_secret(self, repo: Repo, name: str, value: str) -> None:
        self._call("set_secret", f"{repo.name}:{name}")
        state = self._state(repo)
        with self._lock:
            state.secrets[name] = value

    def enable_pages(self, repo: Repo) -> None:
        self._call("enable_pages", repo.name)
        state = self._state(repo)
        with self._lock:
            state.pages = True

    def _registered(self, state: RepoState) -> bool:
        if state.repo.name in self.never_register or state.workflow_pushed_at is None:
            return False
        return time.monotonic() - state.workflow_pushed_at >= self.registration_lag

    def wait_for_workflow(self, repo: Repo, workflow_file: str, timeout: float) -> None:
        self._call("wait_for_workflow", repo.name)
        state = self._state(repo)
        deadline = time.monotonic() + timeout
        while not self._registered(state):
            if time.monotonic() >= deadline:
                raise WorkflowNotRegistered(f"{workflow_file} never registered in {repo.name}.")
            time.sleep(0.01)

    def dispatch(self, repo: Repo, workflow_file: str, inputs: dict[str, str]) -> Dispatch:
        self._call("dispatch", repo.name)
        state = self._state(repo)
        if not self._registered(state):
            raise WorkflowNotRegistered(f"{workflow_file} is not registered in {repo.name}.")
        if len(json.dumps(inputs, separators=(",", ":"))) > self.INPUT_CAP:
            raise ForgeError("inputs are too large.")
        if self.dispatch_delay:
            time.sleep(self.dispatch_delay)
        with self._lock:
            state.dispatches.append(dict(inputs))
            run_id = sum(len(s.dispatches) for s in self.repos.values())
            state.run_urls.append(f"{repo.html_url}/actions/runs/{run_id}")
        return Dispatch(run_id=run_id, run_url=state.run_urls[-1])

    def find_run(self, repo: Repo, workflow_file: str, dispatch_id: str) -> str | None:
        self._call("find_run", repo.name)
        state = self._state(repo)
        with self._lock:
            if self.run_lag > 0:
                self.run_lag -= 1
                return None
            for inputs, url in zip(state.dispatches, state.run_urls, strict=True):
                if dispatch_id and inputs.get("dispatch-id") == dispatch_id:
                    return url
        return None
