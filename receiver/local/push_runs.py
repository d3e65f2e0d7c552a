"""Push-triggered app workflows in local mode: which ones a push starts, and what they may use.

On GitHub a push made with a token other than the run's ``GITHUB_TOKEN`` starts every workflow
of the pushed commit whose ``on: push`` matches the branch; ``Analyze`` relies on that, since its
own CI builds ``result.json`` and deploys Pages. Locally the runner watches the repo's ``main``
while a run of the Action lasts (``PushWatch``) and starts those workflows the same way. Only
what the local runner can stand in for may appear in them: ``run:`` steps, ``actions/checkout``,
``actions/setup-python``, ``actions/upload-pages-artifact`` and ``actions/deploy-pages``; any
other ``uses:`` fails the run with a message that says so, rather than pretending it ran.
"""

from __future__ import annotations

import fnmatch
import logging
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

import yaml

from receiver.local.run_model import run_git

log = logging.getLogger("receiver.local.runner")

SUPPORTED_ACTIONS = ("checkout", "setup-python", "upload-pages-artifact", "deploy-pages")
WATCH_SECONDS = 0.3


def _triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    """The ``on:`` of a workflow as a mapping (YAML 1.1 reads a bare ``on`` key as True)."""
    on = workflow.get("on", workflow.get(True))
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return {str(event): None for event in on}
    return dict(on) if isinstance(on, dict) else {}


def runs_on_push(workflow: dict[Any, Any], branch: str) -> bool:
    """Whether a push to ``branch`` starts this workflow (branch filters honoured)."""
    triggers = _triggers(workflow)
    if "push" not in triggers:
        return False
    spec = triggers["push"] or {}
    if not isinstance(spec, dict):
        return True
    wanted, ignored = spec.get("branches"), spec.get("branches-ignore")
    if wanted is None and ignored is None and spec.get("tags") is not None:
        return False  # a tags-only filter: branch pushes do not start it
    if wanted is not None:
        patterns = [wanted] if isinstance(wanted, str) else list(wanted)
        return any(fnmatch.fnmatchcase(branch, str(p)) for p in patterns)
    if ignored is not None:
        patterns = [ignored] if isinstance(ignored, str) else list(ignored)
        return not any(fnmatch.fnmatchcase(branch, str(p)) for p in patterns)
    return True


def unsupported_step(workflow: dict[Any, Any]) -> str | None:
    """Why the local runner cannot run this app workflow, or None when it can."""
    for job_id, job in (workflow.get("jobs") or {}).items():
        if not isinstance(job, dict):
            return f"The job {job_id!r} is not a mapping."
        if "uses" in job:
            return (
                f"The job {job_id!r} calls the reusable workflow {job['uses']!r}, which the "
                "local runner cannot run."
            )
        for index, step in enumerate(job.get("steps") or [], 1):
            uses = str(step.get("uses", "")) if isinstance(step, dict) else ""
            if not uses:
                continue
            owner, _, rest = uses.partition("/")
            if owner == "actions" and rest.split("@", 1)[0] in SUPPORTED_ACTIONS:
                continue
            return (
                f"Step {index} of the job {job_id!r} uses {uses!r}, which the local runner "
                "cannot run: an app's workflow may use only run steps, "
                + ", ".join(f"actions/{a}" for a in SUPPORTED_ACTIONS)
                + " locally."
            )
    return None


def job_order(jobs: dict[str, Any]) -> list[str]:
    """Job ids with every job after the jobs it ``needs`` (file order otherwise)."""
    ordered: list[str] = []
    pending = list(jobs)
    while pending:
        ready = [j for j in pending if all(n in ordered for n in _needs(jobs[j]))]
        if not ready:
            raise ValueError(f"The jobs {', '.join(pending)} need each other or missing jobs.")
        ordered.append(ready[0])
        pending.remove(ready[0])
    return ordered


def _needs(job: Any) -> list[str]:
    needs = job.get("needs") if isinstance(job, dict) else None
    if needs is None:
        return []
    return [needs] if isinstance(needs, str) else [str(n) for n in needs]


def push_workflows(clone_url: str, sha: str, branch: str) -> dict[str, dict[Any, Any]]:
    """The workflows of commit ``sha`` that a push to ``branch`` starts: file name → parsed."""
    found: dict[str, dict[Any, Any]] = {}
    git_dir = _git_dir(clone_url)
    names = run_git(
        "--git-dir", git_dir, "ls-tree", "--name-only", sha, ".github/workflows/"
    ).splitlines()
    for path in sorted(names):
        if not path.endswith((".yml", ".yaml")):
            continue
        text = run_git("--git-dir", git_dir, "show", f"{sha}:{path}")
        try:
            workflow = yaml.safe_load(text)
        except yaml.YAMLError:
            log.warning("the workflow %s at %s is not valid YAML; not started", path, sha[:12])
            continue
        if isinstance(workflow, dict) and runs_on_push(workflow, branch):
            found[path.rsplit("/", 1)[-1]] = workflow
    return found


def _git_dir(clone_url: str) -> str:
    """The folder of a local bare repo given its clone URL (local repos are file URLs)."""
    if clone_url.startswith("file:"):
        return url2pathname(urlparse(clone_url).path)
    return clone_url


def head_of(clone_url: str, branch: str) -> str:
    """The commit ``branch`` points at in the repo, or "" when it has none."""
    try:
        out = run_git("ls-remote", clone_url, f"refs/heads/{branch}")
    except Exception:  # a repo being written or gone: no answer this time
        return ""
    return out.split()[0] if out.strip() else ""


class PushWatch:
    """Watches a branch while a run lasts and reports each move as ``on_push(before, after)``."""

    def __init__(
        self,
        clone_url: str,
        branch: str,
        on_push: Callable[[str, str], None],
        *,
        every: float = WATCH_SECONDS,
    ) -> None:
        self.clone_url, self.branch, self.on_push, self.every = clone_url, branch, on_push, every
        self.last = head_of(clone_url, branch)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="local-push-watch", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(self.every):
            self.check()

    def check(self) -> None:
        """Look once; report a move of the branch."""
        now = head_of(self.clone_url, self.branch)
        if now and now != self.last:
            before, self.last = self.last, now
            try:
                self.on_push(before, now)
            except Exception:  # a failed start must not end the watch of the run
                log.exception("could not start the workflows of a push to %s", self.clone_url)

    def stop(self) -> None:
        """Stop watching, after one last look (a push in the last step still counts)."""
        self._stop.set()
        self._thread.join(5)
        self.check()
