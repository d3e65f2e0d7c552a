"""The worker: turns journaled requests into dispatched workflow runs, resumably and exactly once.

Each step is journaled when it completes, so a restarted receiver resumes where it stopped. The
dispatch itself is bracketed by a ``dispatching`` mark and the ``dispatched`` state: a request
found still ``dispatching`` after a restart may or may not have started a run, so the forge is
asked for the run named after its dispatch id (``receiver.settle``) before anything is resent; a
duplicate run would notify twice. Work for one task runs in arrival order on one thread at a time;
different tasks run in parallel on a small pool.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from action.attachments import from_request
from action.errors import AttachmentError
from action.job import Attachment
from action.payload import REF_PREFIX, Job, decode_key, encode_key, new_key, seal
from receiver.config import Settings
from receiver.forge import Forge, ForgeError, NameTaken, Repo, WorkflowNotRegistered
from receiver.journal import FINAL_STATES, Entry, Journal, repo_from_json, repo_to_json
from receiver.naming import base_name, candidate, description, loggable, task_tag
from receiver.settle import settle_dispatch
from receiver.workflow import (
    FIX_ACTION,
    WORKFLOW_FILE,
    WORKFLOW_PATH,
    ActionChoice,
    override_choice,
    render_workflow,
)

log = logging.getLogger("llm_deploy.worker")

INPUT_CAP = 65_535  # GitHub's limit on the dispatch `inputs` object as compact JSON, in characters
SIDE_BRANCH = "llm-deploy-payloads"
MAX_NAME_TRIES = 100
PAYLOAD_SECRET = "LLM_DEPLOY_PAYLOAD_KEY"
LLM_SECRET = "LLM_API_KEY"
PUSH_SECRET = "LLM_DEPLOY_PUSH_TOKEN"


def dispatch_inputs(sealed: str, dispatch_id: str) -> tuple[dict[str, str], bool]:
    """The dispatch inputs, and whether the payload must travel as a side-branch file instead."""
    inputs = {"payload": sealed, "dispatch-id": dispatch_id}
    if len(json.dumps(inputs, separators=(",", ":"))) <= INPUT_CAP:
        return inputs, False
    ref = f"{REF_PREFIX}{SIDE_BRANCH}:{dispatch_id}.txt"
    return {"payload": ref, "dispatch-id": dispatch_id}, True


def _fixed_action(settings: Settings) -> Callable[[], ActionChoice]:
    """LLM_DEPLOY_ACTION_REF; without it, the mode must pass its source (``Mode.action``)."""
    choice = override_choice(settings)

    def fixed() -> ActionChoice:
        if choice is None:
            raise ForgeError(f"No Action is published for new repositories yet; {FIX_ACTION}.")
        return choice

    return fixed


class Worker:
    """Drains the journal in background threads; ``submit`` queues one request id."""

    def __init__(
        self,
        settings: Settings,
        journal: Journal,
        forge: Forge,
        *,
        clock: Callable[[], float] = time.time,
        threads: int | None = None,
        settle_interval: float | None = None,
        action: Callable[[], ActionChoice] | None = None,
    ) -> None:
        self.settings = settings
        self.journal = journal
        self.forge = forge
        self.clock = clock
        # How long GitHub may take to show a run it accepted; see receiver.settle.
        self.settle_interval = (
            settings.settle_interval if settle_interval is None else settle_interval
        )
        self._stopping = threading.Event()
        self._threads = threads or settings.worker_threads
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Condition()
        self._queues: dict[str, deque[int]] = {}  # task → ids waiting, in arrival order
        self._running: set[str] = set()  # tasks with a drain loop on the pool
        self._known: set[int] = set()  # ids queued or running, so a double submit is a no-op
        # Which Action new workflows pin, asked for only when a workflow is written: it may still
        # be being published (receiver.github.action_ref), and a failure fails that request.
        self._action = action or _fixed_action(settings)

    def _workflow(self) -> str:
        choice = self._action()
        return render_workflow(
            choice.ref,
            self.settings.llm_base_url,
            self.settings.llm_model,
            self.settings.llm_fallback_model,
            pins=choice.pins,
        )

    def start(self) -> None:
        """Start the pool and resume every unfinished request of the journal."""
        self._stopping.clear()
        self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="llm-deploy-worker")
        self.journal.on_recorded = self.submit  # first, so no request falls between the two
        for request_id, task in self.journal.pending():  # ``dispatching`` ones settle on the pool
            self.submit(request_id, task)

    def stop(self, wait: bool = True) -> None:
        """Stop taking work; with ``wait``, let running requests finish."""
        self._stopping.set()  # cuts a settle wait short; that request is settled on the next start
        with self._lock:  # a submit from the journal's writer then queues without starting
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=wait, cancel_futures=not wait)

    def submit(self, request_id: int, task: str) -> None:
        """Queue a journaled request of ``task``; queuing one already queued or running is a no-op.

        The caller names the task, so the door never reads a (megabytes) row back to learn it.
        """
        with self._lock:
            if request_id in self._known:
                return
            self._known.add(request_id)
            self._queues.setdefault(task, deque()).append(request_id)
            if task in self._running or self._pool is None:
                return
            self._running.add(task)
            self._pool.submit(self._drain_task, task)

    def drain(self, timeout: float = 30.0) -> bool:
        """Block until no request is queued or running; False on timeout (for tests)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._known:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
        return True

    def _drain_task(self, task: str) -> None:
        while True:
            with self._lock:
                queue = self._queues.get(task)
                if not queue:
                    self._queues.pop(task, None)
                    self._running.discard(task)
                    return
                request_id = queue.popleft()
            try:
                self.process(request_id)
            finally:
                with self._lock:
                    self._known.discard(request_id)
                    self._lock.notify_all()

    def process(self, request_id: int) -> None:
        """Run (or resume) every step for one request; failures end in the journal, not raised."""
        entry = self.journal.get(request_id)
        if entry.state in FINAL_STATES:
            return
        if entry.state == "dispatching" and not settle_dispatch(
            self.journal,
            self.forge,
            entry,
            settle_interval=self.settle_interval,
            wait=self._stopping.wait,
        ):
            return
        started = self.clock()
        self.journal.mark(request_id, "working")
        try:
            self._steps(entry, started)
        except (ForgeError, AttachmentError) as exc:
            self._fail(entry, started, str(exc))
        except Exception as exc:  # a bug must not kill the pool thread or hide the request
            log.exception("task=%s round=%s step=crash", loggable(entry.task), entry.round)
            self._fail(entry, started, f"Internal error ({type(exc).__name__}); see the log.")

    def _fail(self, entry: Entry, started: float, message: str) -> None:
        self.journal.mark(entry.id, "failed", error=message)
        self._log(entry, started, "failed", f" error={loggable(message)}", logging.ERROR)

    def _log(
        self, entry: Entry, started: float, step: str, tail: str = "", level: int = logging.INFO
    ) -> None:
        where, elapsed = f"task={loggable(entry.task)} round={entry.round}", self.clock() - started
        log.log(level, "%s step=%s elapsed=%.1fs%s", where, step, elapsed, tail)

    def _steps(self, entry: Entry, started: float) -> None:
        # Decoded before any forge call: the door only checks they are data: URIs, and a bad one
        # fails the round here, with the decoder's sentence as its error (decision 52).
        attachments = from_request(entry.body.get("attachments", []))
        done = self.journal.steps(entry.id)
        if "repo" in done:
            repo = repo_from_json(done["repo"])
        else:
            repo, created = self._resolve_repo(entry)
            self.journal.add_repo(entry.task, repo)
            if created:
                self.journal.add_repo_fact(repo.full_name, "created")
            self.journal.step(entry.id, "repo", repo_to_json(repo))
            self.journal.mark(
                entry.id, repo=repo.full_name, repo_url=repo.html_url, pages_url=repo.pages_url
            )
            self._log(entry, started, "repo")
        facts = self.journal.repo_facts(repo.full_name)
        # Repos found on the forge (fresh disk) were made by this tool and hold the workflow; if
        # one does not, registration fails and _wait_registered commits it.
        if "created" in facts and "workflow" not in facts:
            self.forge.commit_files(
                repo, {WORKFLOW_PATH: self._workflow().encode()}, "Add the llm-deploy workflow"
            )
            self.journal.add_repo_fact(repo.full_name, "workflow")
            self._log(entry, started, "workflow")
        self._secrets(repo, facts)
        if "pages" not in facts:
            self.forge.enable_pages(repo)
            self.journal.add_repo_fact(repo.full_name, "pages")
            self._log(entry, started, "pages")
        self._wait_registered(repo)
        self._log(entry, started, "registered")
        self._dispatch(entry, repo, started, attachments)

    def _resolve_repo(self, entry: Entry) -> tuple[Repo, bool]:
        """The repo for this request, and whether it was just created."""
        base = base_name(entry.task)
        if entry.round > 1:
            # Only a repo recorded for exactly this task id: from the journal, or by its tag.
            known = self.journal.task_repos(entry.task) or self.forge.task_repos(
                base, task_tag(entry.task)
            )
            if known:
                return known[-1], False
        self._action()  # fails here, not after making a repo that could get no workflow
        # Start after the names this journal already used, to spare a 422 per earlier round 1.
        first = len(self.journal.task_repos(entry.task)) + 1
        for n in range(first, first + MAX_NAME_TRIES):
            try:
                return self.forge.create_repo(
                    candidate(base, n), description(entry.task, entry.round)
                ), True
            except NameTaken:
                continue
        raise ForgeError(f"Every name from {candidate(base, first)} on is taken; delete old repos.")

    def _secrets(self, repo: Repo, facts: set[str]) -> None:
        wanted: dict[str, str] = {}
        if self.journal.payload_key(repo.full_name) is None:
            # A fresh repo, a lost disk or a journal from before random keys: whatever key the
            # repo holds is unknown here, so a new random one is journaled first, then written
            # over the old secret. Reruns of older runs can then no longer decrypt (see
            # docs/security.md); the forge is never asked whether a key exists, since an existing
            # one cannot be read back.
            self.journal.set_payload_key(repo.full_name, encode_key(new_key()))
            facts.discard(f"secret:{PAYLOAD_SECRET}")
        wanted[PAYLOAD_SECRET] = self.journal.payload_key(repo.full_name) or ""
        if self.settings.llm_api_key:
            wanted[LLM_SECRET] = self.settings.llm_api_key
        if self.settings.github_workflow_token:
            wanted[PUSH_SECRET] = self.settings.github_workflow_token
        for name, value in wanted.items():
            if f"secret:{name}" in facts:
                continue
            # Refreshed whenever this journal has not stored it itself.
            self.forge.set_secret(repo, name, value)
            self.journal.add_repo_fact(repo.full_name, f"secret:{name}")

    def _wait_registered(self, repo: Repo) -> None:
        try:
            self.forge.wait_for_workflow(repo, WORKFLOW_FILE, self.settings.workflow_timeout)
        except WorkflowNotRegistered:
            # A commit touching the file makes GitHub register it again (and adds it to a repo
            # that lost it); the changed comment line makes the commit non-empty.
            stamp = f"# re-registered at {int(self.clock())}\n"
            self.forge.commit_files(
                repo,
                {WORKFLOW_PATH: (self._workflow() + stamp).encode()},
                "Re-register the llm-deploy workflow",
            )
            self.journal.add_repo_fact(repo.full_name, "workflow")
            self.forge.wait_for_workflow(repo, WORKFLOW_FILE, self.settings.workflow_timeout / 2)

    def _dispatch(self, entry: Entry, repo: Repo, started: float, files: list[Attachment]) -> None:
        body = entry.body
        job = Job(
            task=entry.task,
            round=entry.round,
            brief=body["brief"],
            nonce=entry.nonce,
            email=body.get("email", ""),
            evaluation_url=body.get("evaluation_url", ""),
            checks=list(body.get("checks", [])),
            attachments=files,
            received_at=entry.received_at,
            # Earlier rounds' checks, re-run by the Action (issue 16 item 4).
            previous_checks=self.journal.earlier_checks(entry.task, entry.round, repo.full_name),
        )
        stored = self.journal.payload_key(repo.full_name)
        if stored is None:  # _secrets stores one first; a missing key is a bug, not a guess
            raise ForgeError(f"No payload key is journaled for {repo.full_name}.")
        sealed = seal(job, decode_key(stored))
        inputs, side = dispatch_inputs(sealed, entry.dispatch_id)
        if side:
            self.forge.put_side_file(repo, SIDE_BRANCH, f"{entry.dispatch_id}.txt", sealed.encode())
            self._log(entry, started, "side-file")
        self.journal.mark(entry.id, "dispatching")
        self.journal.step(entry.id, "dispatching")
        run = self.forge.dispatch(repo, WORKFLOW_FILE, inputs)
        self.journal.step(entry.id, "dispatched", run.run_url)
        self.journal.mark(entry.id, "dispatched", run_url=run.run_url or None, error=None)
        self._log(entry, started, "dispatched")
