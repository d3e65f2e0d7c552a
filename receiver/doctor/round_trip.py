"""``doctor --round-trip``: two rounds of a built-in task through the real pipeline, timed.

The receiver's own ``Worker`` prepares and dispatches each round, against a forge wrapped so that
the end of each call is a timestamp (repository created, workflow registered, dispatched). A
``Watcher`` then observes what happens after the dispatch on the forge's side (run started,
Pages deployed, page serving the commit, run completed, notification received) until the round is
done. The journal is a scratch one, the LLM key is withheld so the offline generator builds the
page (no LLM spend), and the notification goes to a local listener or, where the runner cannot
reach one, nowhere (``skipped``).
"""

from __future__ import annotations

import dataclasses
import secrets
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from receiver.config import Settings
from receiver.doctor.result import DoctorError, Phase, RoundTiming
from receiver.forge import Dispatch, Forge, Repo
from receiver.journal import Journal, repo_from_json
from receiver.local.run_model import StepFailed
from receiver.request import DeployRequest
from receiver.worker import Worker
from receiver.workflow import ActionChoice

CREATED, REGISTERED, DISPATCHED = "repository created", "workflow registered", "dispatched"
STARTED, DEPLOYED, SERVING = "run started", "Pages deployed", "page serving the commit"
COMPLETED, NOTIFIED = "run completed", "notification received"
ROUND_TIMEOUT = 900.0  # GitHub's own limits: 10 min for deploy-pages, plus a queue

SAMPLE_BRIEFS = {
    1: "Publish a one-page site titled 'llm-deploy round trip' with an h1 that says "
    "'Round trip works'.",
    2: "Keep the page and add a paragraph with id 'round-two' that says 'Round 2 arrived'.",
}
SAMPLE_CHECKS = {
    1: ["js: document.title === 'llm-deploy round trip'"],
    2: ["js: !!document.querySelector('#round-two')"],
}


def sample_request(task: str, round_: int, secret: str, evaluation_url: str) -> DeployRequest:
    """The built-in task: small, checkable, and buildable by the offline generator."""
    return DeployRequest(
        email="doctor@llm-deploy.invalid",
        secret=secret,
        task=task,
        round=round_,
        nonce=f"doctor-{round_}-{secrets.token_hex(4)}",
        brief=SAMPLE_BRIEFS[round_],
        evaluation_url=evaluation_url,
        checks=list(SAMPLE_CHECKS[round_]),
        attachments=[],
    )


def scratch_task() -> str:
    """A task id (and so a repository name) that no earlier round trip used."""
    return f"llm-deploy-doctor-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


class TimedForge:
    """A Forge that stamps the end of each call the phases are made of; delegates the rest."""

    def __init__(self, inner: Forge, clock: Callable[[], float]) -> None:
        self.inner, self.clock = inner, clock
        self.marks: dict[str, float] = {}
        self.dispatched: Dispatch | None = None

    def create_repo(self, name: str, description: str) -> Repo:
        repo = self.inner.create_repo(name, description)
        self.marks[CREATED] = self.clock()
        return repo

    def wait_for_workflow(self, repo: Repo, workflow_file: str, timeout: float) -> None:
        self.inner.wait_for_workflow(repo, workflow_file, timeout)
        self.marks[REGISTERED] = self.clock()

    def dispatch(self, repo: Repo, workflow_file: str, inputs: dict[str, str]) -> Dispatch:
        self.dispatched = self.inner.dispatch(repo, workflow_file, inputs)
        self.marks[DISPATCHED] = self.clock()
        return self.dispatched

    # The rest is plain delegation.
    def task_repos(self, base_name: str, tag: str) -> list[Repo]:
        return self.inner.task_repos(base_name, tag)

    def commit_files(self, repo: Repo, files: dict[str, bytes], message: str) -> str:
        return self.inner.commit_files(repo, files, message)

    def put_side_file(self, repo: Repo, branch: str, path: str, content: bytes) -> None:
        self.inner.put_side_file(repo, branch, path, content)

    def set_secret(self, repo: Repo, name: str, value: str) -> None:
        self.inner.set_secret(repo, name, value)

    def enable_pages(self, repo: Repo) -> None:
        self.inner.enable_pages(repo)

    def find_run(self, repo: Repo, workflow_file: str, dispatch_id: str) -> str | None:
        return self.inner.find_run(repo, workflow_file, dispatch_id)


class Watcher(Protocol):
    """Observes one dispatched round on the forge's side."""

    commit_sha: str  # the commit the page was last seen serving

    def poll(self, repo: Repo, dispatch: Dispatch, nonce: str, marks: dict[str, float]) -> str:
        """Add milestones seen now to ``marks``; return "" to go on, "done", or an error."""
        ...


def phases(marks: dict[str, float], start: float, skipped: dict[str, str]) -> list[Phase]:
    """Milestones in the order they happened, each with the time since the one before."""
    out, previous = [], start
    for name, at in sorted(marks.items(), key=lambda item: item[1]):
        out.append(Phase(name, round(at - start, 2), round(max(0.0, at - previous), 2)))
        previous = at
    out += [Phase(name, 0.0, 0.0, f"skipped: {why}") for name, why in skipped.items()]
    return out


@dataclasses.dataclass
class Trip:
    """One round trip's collaborators; ``run`` plays round 1 then round 2."""

    settings: Settings
    forge: Forge
    watcher: Watcher
    evaluation_url: str = ""  # "" when nothing the runner can reach listens
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    poll_seconds: float = 5.0
    timeout: float = ROUND_TIMEOUT
    task: str = dataclasses.field(default_factory=scratch_task)
    repo: Repo | None = None
    action: Callable[[], ActionChoice] | None = None  # what the workflow uses; the mode's

    def run(self) -> list[RoundTiming]:
        # The offline generator builds the page: no key reaches the scratch repository.
        settings = dataclasses.replace(self.settings, llm_api_key=None, github_workflow_token=None)
        timings = []
        with tempfile.TemporaryDirectory(prefix="llm-deploy-doctor-") as scratch:
            journal = Journal(Path(scratch) / "journal.sqlite3")
            try:
                for round_ in (1, 2):
                    timing = self._round(settings, journal, round_)
                    timings.append(timing)
                    if timing.error:
                        break
            finally:
                journal.close()
        return timings

    def _round(self, settings: Settings, journal: Journal, round_: int) -> RoundTiming:
        timed = TimedForge(self.forge, self.clock)
        worker = Worker(settings, journal, timed, clock=time.time, action=self.action)
        request = sample_request(self.task, round_, settings.deploy_secret, self.evaluation_url)
        start = self.clock()
        request_id, _ = journal.record(request)
        worker.process(request_id)
        entry = journal.get(request_id)
        repo_json = journal.steps(request_id).get("repo")
        if repo_json:
            self.repo = repo_from_json(repo_json)
        if entry.state != "dispatched" or timed.dispatched is None or self.repo is None:
            return RoundTiming(
                round_,
                phases(timed.marks, start, {}),
                error=f"the receiver stopped before the dispatch: {entry.error}",
            )
        marks = dict(timed.marks)
        deadline = start + self.timeout
        while True:
            try:
                outcome = self.watcher.poll(self.repo, timed.dispatched, request.nonce, marks)
            except (DoctorError, StepFailed) as exc:  # GitHub or git refused a read: say which
                outcome = str(exc)
            if outcome:
                break
            if self.clock() > deadline:
                outcome = f"round {round_} did not finish within {self.timeout:.0f} s"
                break
            self.sleep(self.poll_seconds)
        skipped = (
            {}
            if self.evaluation_url
            else {NOTIFIED: "no listener the runner can reach (--notify-url)"}
        )
        return RoundTiming(
            round_,
            phases(marks, start, skipped),
            page_url=self.repo.pages_url,
            commit_sha=self.watcher.commit_sha,
            error="" if outcome == "done" else outcome,
        )
