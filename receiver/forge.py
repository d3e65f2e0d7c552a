"""The ``Forge`` port: everything the worker needs from a code host.

Each mode brings its adapter (``Mode.forge``, see ``receiver.mode``); the worker only ever talks
to this interface.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class ForgeError(Exception):
    """A forge operation failed; the message is one sentence a user can act on."""


class NameTaken(ForgeError):
    """The repository name already exists for this owner."""


class WorkflowNotRegistered(ForgeError):
    """The workflow file was pushed but the forge never registered it for dispatch."""


@dataclass(frozen=True)
class Repo:
    name: str  # the real name, read back from the forge
    owner: str
    html_url: str  # what the notification reports as repo_url
    pages_url: str
    created_at: float  # seconds since the epoch
    default_branch: str = "main"

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass(frozen=True)
class Dispatch:
    run_id: int | None
    run_url: str  # a page a person can open to follow the run ("" when unknown)


class Forge(Protocol):
    """What the receiver needs from a code host. Implementations are synchronous and thread-safe."""

    def task_repos(self, base_name: str, tag: str) -> list[Repo]:
        """Repos named ``base_name`` or ``base_name-<n>`` whose description carries ``tag``
        (``receiver.naming.task_tag``: the exact task id), oldest first."""
        ...

    def create_repo(self, name: str, description: str) -> Repo:
        """Create a public repo; raise NameTaken when the name is in use."""
        ...

    def commit_files(self, repo: Repo, files: dict[str, bytes], message: str) -> str:
        """Commit files to the default branch in one commit; return its sha."""
        ...

    def put_side_file(self, repo: Repo, branch: str, path: str, content: bytes) -> None:
        """Store a file on a side branch (for payloads over the dispatch input cap)."""
        ...

    def set_secret(self, repo: Repo, name: str, value: str) -> None:
        """Store an Actions secret (sealed-box encrypted to the repo's public key)."""
        ...

    def enable_pages(self, repo: Repo) -> None:
        """Enable Pages in workflow mode; already enabled counts as success."""
        ...

    def wait_for_workflow(self, repo: Repo, workflow_file: str, timeout: float) -> None:
        """Block until the workflow can be dispatched; raise WorkflowNotRegistered on timeout."""
        ...

    def dispatch(self, repo: Repo, workflow_file: str, inputs: dict[str, str]) -> Dispatch:
        """Start the workflow on the default branch with these inputs, exactly once."""
        ...

    def find_run(self, repo: Repo, workflow_file: str, dispatch_id: str) -> str | None:
        """The page (html URL) of the workflow's run whose name carries ``dispatch_id``, or None.

        The generated workflow's run-name is ``llm-deploy <dispatch-id>``, so a receiver that
        died mid-dispatch can ask whether the run started instead of guessing.
        """
        ...


def run_name_matches(name: str | None, dispatch_id: str) -> bool:
    """Whether a run's rendered name carries the dispatch id as a whole word."""
    # A word match, not a substring one: an empty or short id must never match every run.
    return bool(dispatch_id) and dispatch_id in (name or "").split()
