"""The local runner: runs a generated repo's workflow the way GitHub Actions would, on this machine.

A run clones the bare repo into a fresh workspace, then executes the job's steps in order:
``actions/checkout`` is that clone; any other ``uses:`` outside ``actions/`` is this project's
composite Action and runs the REAL ``action.yml`` at ``action_path`` (inputs with defaults,
``env:``, ``if:``, outputs wired as the file says); the other ``actions/*`` steps get local
equivalents (setup-python → this interpreter, Pages upload/deploy → ``data_dir/sites``). A broken
step in ``action.yml`` therefore breaks the local run too. Composite actions see no ``secrets``
context, exactly as on GitHub.

Temp folders (decision): ``RUNNER_TEMP`` is per run (``runner-work/<id>/temp``), as on a hosted
runner, so concurrent runs never share per-run files whatever ``action.yml`` writes there. What
should survive between runs (e.g. the Action's venv) belongs in ``RUNNER_TOOL_CACHE`` /
``runner.tool_cache``: one shared folder, ``data_dir/runner-temp``, where anything installed must
be created atomically (build aside, then rename) because concurrent runs may race.
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO

import yaml

from receiver.local.action_source import action_path
from receiver.local.forge import OWNER, LocalForge, read_secrets, workflow_path
from receiver.local.github_api import LOCAL_API_PREFIX
from receiver.local.push_runs import PushWatch, job_order, push_workflows, unsupported_step
from receiver.local.run_model import (
    Masker,
    RunResult,
    RunState,
    StepFailed,
    run_git,
    str_map,
    yaml_str,
)
from receiver.local.steps import StepProcesses, StepRunner
from receiver.private import FILE_MODE, open_private, private_dir, write_private
from receiver.worker import PUSH_SECRET

__all__ = ["LocalRunner", "RerunError", "default_action_path", "local_forge_with_runner"]

log = logging.getLogger("receiver.local.runner")
# Only these variables of the receiver's own environment reach a step: never its secrets.
_PASS_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER", "LOGNAME", "TERM")


class RerunError(Exception):
    """A run cannot be run again; the message says why."""


class LocalRunner:
    """Runs generated repos' workflows locally; thread-safe, at most ``max_runs`` at a time.

    Each dispatch gets a thread, but a run waits for one of ``max_runs`` slots before it starts
    (its record says "queued" meanwhile): every run starts a Chromium and a model call, and an
    unbounded burst of dispatches once had 33 browsers running at once.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        action_path: Path,
        public_url: str,
        secrets_for: Callable[[str], dict[str, str]],
        on_finish: Callable[[RunResult], None] | None = None,
        clone_url_for: Callable[[str], str] | None = None,
        tool_cache: Path | None = None,
        processes: StepProcesses | None = None,
        max_runs: int = 4,
        pages_url: str | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.pages_url = (pages_url or public_url).rstrip("/")  # the sites' own origin
        self.max_runs = max_runs
        self._slots = threading.BoundedSemaphore(max_runs)
        self.action_path = Path(action_path).resolve()
        self.public_url = public_url.rstrip("/")
        self.secrets_for = secrets_for
        self.on_finish = on_finish
        self.clone_url_for = clone_url_for or (
            lambda name: (self.data_dir / "repos" / f"{name}.git").as_uri()
        )
        # Shared by runs and kept between them (the Action's venv lives there); tests and the
        # bench point it at one pre-built folder so each data folder does not reinstall.
        self.tool_cache = Path(tool_cache or self.data_dir / "runner-temp").resolve()
        self.runs_dir = self.data_dir / "runs"
        private_dir(self.runs_dir)
        self._lock = threading.Lock()
        # Steps running now; local mode's shutdown ends them (a runner of its own owns a fresh set).
        self.processes = processes or StepProcesses()
        self.steps = StepRunner(
            data_dir=self.data_dir,
            action_path=self.action_path,
            public_url=self.public_url,
            runs_dir=self.runs_dir,
            processes=self.processes,
            pages_url=self.pages_url,
        )

    def allocate_run_id(self) -> int:
        """Reserve a new run id (unique across restarts) by creating its record file."""
        with self._lock:
            ids = [int(p.stem) for p in self.runs_dir.glob("*.json") if p.stem.isdigit()]
            for run_id in itertools.count(max(ids, default=0) + 1):
                try:
                    fd = os.open(
                        self.record_path(run_id), os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE
                    )
                except FileExistsError:
                    continue
                os.write(fd, json.dumps({"run_id": run_id, "state": "queued"}).encode())
                os.close(fd)
                return run_id
        raise AssertionError("unreachable")

    def record_path(self, run_id: int) -> Path:
        return self.runs_dir / f"{run_id}.json"

    def _save(self, result: RunResult) -> None:
        if self.processes.stopping.is_set():
            return  # the receiver is exiting and killed the steps: the record stays "running"
        path = self.record_path(result.run_id)
        tmp = path.with_name(f".{path.name}.tmp")
        write_private(tmp, json.dumps(asdict(result), indent=2))
        os.replace(tmp, path)

    def run(
        self,
        repo_name: str,
        workflow_file: str,
        inputs: dict[str, str],
        *,
        run_id: int | None = None,
        attempt: int | None = None,
    ) -> RunResult:
        """Run the workflow of repo_name on main with these dispatch inputs; never raises.

        Blocks until a run slot is free; a run still waiting when the receiver stops keeps its
        record as it was, and the next start runs it (``receiver.local.resume``). ``attempt``
        defaults to the one the run's record holds (a run resumed after a stop keeps its
        attempt), else 1.
        """
        run_id = run_id if run_id is not None else self.allocate_run_id()
        attempt = attempt if attempt is not None else self._recorded_attempt(run_id)
        with self._slots:
            if self.processes.stopping.is_set():
                return RunResult(
                    run_id, repo_name, workflow_file, "queued", time.time(), attempt=attempt
                )
            return self._run(repo_name, workflow_file, inputs, run_id, attempt)

    def _run(
        self,
        repo_name: str,
        workflow_file: str,
        inputs: dict[str, str],
        run_id: int,
        attempt: int,
    ) -> RunResult:
        result = RunResult(
            run_id, repo_name, workflow_file, "running", time.time(), attempt=attempt
        )

        def body(run: RunState, secrets: dict[str, str], token: str) -> None:
            self._run_workflow(run, inputs, secrets, token)

        self._execute(result, body, append_log=attempt > 1, watch_pushes=True)
        if self.on_finish is not None:
            self.on_finish(result)
        return result

    def _execute(
        self,
        result: RunResult,
        body: Callable[[RunState, dict[str, str], str], None],
        *,
        append_log: bool = False,
        watch_pushes: bool = False,
    ) -> RunResult:
        """What every run shares: its record, a masked log, a work folder, a record at the end."""
        self._save(result)
        secrets = {k: v for k, v in self.secrets_for(result.repo).items() if v}
        token = f"local-token-{os.urandom(8).hex()}"
        masker = Masker([*secrets.values(), token])
        work = self.data_dir / "runner-work" / str(result.run_id)
        start = time.monotonic()
        log_path = self.runs_dir / f"{result.run_id}.log"
        with open_private(log_path, "a" if append_log else "w") as logfile:
            run = self._prepare(result, masker, logfile, work, token)
            watch = self.watch_pushes(result.repo, run.clone_url) if watch_pushes else None
            try:
                body(run, secrets, token)
                result.state = run.status
            except Exception as exc:  # the run must end with a record, whatever broke
                prefix = "" if isinstance(exc, StepFailed) else "The runner failed: "
                result.state, result.error = "failure", masker.mask(f"{prefix}{exc}")
                run.write(f"##[error]{result.error}")
            finally:
                result.elapsed = round(time.monotonic() - start, 3)
                run.write(f"Run {result.run_id} finished: {result.state} in {result.elapsed:.2f}s")
                self._save(result)
                shutil.rmtree(work, ignore_errors=True)
                if watch is not None:
                    watch.stop()
        log.info(
            "run=%s repo=%s workflow=%s state=%s elapsed=%.2f",
            result.run_id,
            result.repo,
            result.workflow,
            result.state,
            result.elapsed,
        )
        return result

    # -- push-triggered app workflows (receiver.local.push_runs) ------------------------------

    def watch_pushes(self, repo_name: str, clone_url: str) -> PushWatch:
        """Start the workflows each push to main starts, for as long as the caller's run lasts."""
        return PushWatch(
            clone_url, "main", functools.partial(self._start_push_runs, repo_name, clone_url)
        )

    def _start_push_runs(self, repo_name: str, clone_url: str, before: str, after: str) -> None:
        # On GitHub a push made with the run's GITHUB_TOKEN starts no workflow; the Action pushes
        # with the push token when the repo has one, and only then do app workflows start.
        if not self.secrets_for(repo_name).get(PUSH_SECRET):
            return
        for name, workflow in push_workflows(clone_url, after, "main").items():
            run_id = self.allocate_run_id()
            log.info(
                "run=%s repo=%s started by the push of %s (%s)", run_id, repo_name, after[:12], name
            )
            threading.Thread(
                target=self.run_push,
                args=(repo_name, name, workflow, after, before),
                kwargs={"run_id": run_id},
                name=f"local-run-{run_id}",
                daemon=True,
            ).start()

    def run_push(
        self,
        repo_name: str,
        workflow_file: str,
        workflow: dict[Any, Any],
        sha: str,
        before: str,
        *,
        run_id: int | None = None,
    ) -> RunResult:
        """Run an app workflow for a push of ``sha`` to main; never raises.

        It takes no run slot: the dispatch run that pushed holds one and waits for this run's
        Pages deployment, so with one slot it would wait for itself until its deadline.
        """
        run_id = run_id if run_id is not None else self.allocate_run_id()
        result = RunResult(run_id, repo_name, workflow_file, "running", time.time())

        def body(run: RunState, secrets: dict[str, str], token: str) -> None:
            self._run_push_workflow(run, workflow, sha, before, secrets, token)

        return self._execute(result, body)

    def _run_push_workflow(
        self,
        run: RunState,
        workflow: dict[Any, Any],
        sha: str,
        before: str,
        secrets: dict[str, str],
        token: str,
    ) -> None:
        problem = unsupported_step(workflow)
        if problem is not None:
            raise StepFailed(f"{run.result.workflow}: {problem}")
        jobs = workflow.get("jobs") or {}
        order = job_order(jobs)
        run.github.update(
            {"sha": sha, "event_name": "push", "ref": "refs/heads/main", "ref_name": "main"}
        )
        event = {
            "ref": "refs/heads/main",
            "before": before,
            "after": sha,
            "repository": {"full_name": run.github["repository"]},
        }
        (run.temp / "event.json").write_text(json.dumps(event), "utf-8")
        run.env.update(
            {
                f"GITHUB_{k.upper()}": str(v)
                for k, v in run.github.items()
                if k not in ("token", "action_path")
            }
        )
        run.env["GITHUB_EVENT_PATH"] = str(run.temp / "event.json")
        run.write(
            f"Run {run.result.run_id} of {run.result.workflow} in {run.result.repo}, "
            f"started by the push of {sha[:12]}"
        )
        for job_id in order:
            job = jobs[job_id]
            if job.get("needs") and run.status == "failure":
                run.write(f"Skipping the job {job_id}: a job it needs failed")
                continue
            run.deadline = time.monotonic() + float(job.get("timeout-minutes") or 30) * 60
            run.env["GITHUB_JOB"] = run.github["job"] = str(job_id)
            env = {**str_map(workflow.get("env")), **str_map(job.get("env"))}
            ctx: dict[str, Any] = {
                "inputs": {},
                "secrets": {**secrets, "GITHUB_TOKEN": token},
                "github": {**run.github, "event": event},
                "runner": run.runner_ctx,
                "env": env,
                "steps": {},
                "vars": {},
                "job": {"status": run.status},
                "needs": {},
            }
            self.steps.run_steps(run, job.get("steps") or [], ctx, action_path=None)

    # -- re-runs ----------------------------------------------------------------------------

    def _recorded_attempt(self, run_id: int) -> int:
        try:
            record = json.loads(self.record_path(run_id).read_text("utf-8"))
        except (OSError, ValueError):
            return 1
        attempt = record.get("attempt") if isinstance(record, dict) else None
        return attempt if isinstance(attempt, int) and attempt > 0 else 1

    def rerun(self, run_id: int) -> RunResult:
        """ "Re-run jobs": run attempt N+1 of a finished run with its dispatch inputs.

        As on GitHub the run keeps its id and its artifacts, ``github.run_attempt`` counts up, and
        the earlier attempt's record is kept as ``runs/<id>.attempt-<n>.json``. Raises RerunError
        when the run is unknown, still in flight, or its inputs were not kept; once the attempt
        has started it never raises (like ``run``).
        """
        repo, workflow, inputs, attempt = self.start_rerun(run_id)
        return self.run(repo, workflow, inputs, run_id=run_id, attempt=attempt)

    def start_rerun(self, run_id: int) -> tuple[str, str, dict[str, str], int]:
        """Claim run_id's next attempt (its record then says queued): repo, workflow, inputs,
        attempt, for ``run``."""
        runs = self.runs_dir
        with self._lock:  # two re-runs of one run must not both start
            try:
                record = json.loads(self.record_path(run_id).read_text("utf-8"))
                dispatch = json.loads((runs / f"{run_id}.dispatch.json").read_text("utf-8"))
            except (OSError, ValueError):
                raise RerunError(f"Run {run_id} has no dispatch record to run again.") from None
            if record.get("state") in ("queued", "running"):
                raise RerunError(f"Run {run_id} is still {record['state']}; re-run it later.")
            inputs = dispatch.get("inputs")
            if not isinstance(inputs, dict):
                raise RerunError(f"Run {run_id}'s dispatch inputs were not kept; it cannot rerun.")
            attempt = int(record.get("attempt") or 1)
            archive = runs / f"{run_id}.attempt-{attempt}.json"
            archive.write_text(json.dumps(record, indent=2), "utf-8")
            queued = RunResult(
                run_id,
                str(dispatch["repo"]),
                str(dispatch["workflow"]),
                "queued",
                attempt=attempt + 1,
            )
            self._save(queued)
        return (
            queued.repo,
            queued.workflow,
            {str(k): str(v) for k, v in inputs.items()},
            attempt + 1,
        )

    def _prepare(
        self, result: RunResult, masker: Masker, logfile: TextIO, work: Path, token: str
    ) -> RunState:
        shutil.rmtree(work, ignore_errors=True)
        workspace, temp = work / "workspace", work / "temp"
        workspace.mkdir(parents=True)
        temp.mkdir()
        tool_cache = self.tool_cache
        tool_cache.mkdir(parents=True, exist_ok=True)
        github: dict[str, Any] = {
            "token": token,
            "workspace": str(workspace),
            "repository": f"{OWNER}/{result.repo}",
            "repository_owner": OWNER,
            "server_url": self.data_dir.as_uri(),
            "run_id": str(result.run_id),
            "run_number": str(result.run_id),
            "run_attempt": str(result.attempt),
            "workflow_ref": (
                f"{OWNER}/{result.repo}/{workflow_path(result.workflow)}@refs/heads/main"
            ),
            "ref": "refs/heads/main",
            "ref_name": "main",
            "sha": "",
            "event_name": "workflow_dispatch",
            "actor": "llm-deploy",
            "workflow": result.workflow,
            # Local mode's GitHub-compatible listing of these runs (receiver.local.github_api).
            "api_url": f"{self.public_url}{LOCAL_API_PREFIX}",
            "action_path": "",
        }
        env = {k: os.environ[k] for k in _PASS_ENV if k in os.environ}
        env.update(
            {
                "CI": "true",
                "GITHUB_ACTIONS": "true",
                "RUNNER_OS": "Linux",
                "RUNNER_ARCH": "X64",
                "RUNNER_TEMP": str(temp),
                "RUNNER_TOOL_CACHE": str(tool_cache),
            }
        )
        runner_ctx = {"temp": str(temp), "tool_cache": str(tool_cache), "os": "Linux"}
        clone_url = self.clone_url_for(result.repo)
        return RunState(
            result,
            masker,
            logfile,
            env,
            github,
            runner_ctx,
            workspace,
            temp,
            clone_url,
            save=lambda: self._save(result),
        )

    def _run_workflow(
        self, run: RunState, inputs: dict[str, str], secrets: dict[str, str], token: str
    ) -> None:
        wf_dir = run.temp / "workflow-source"
        run_git("clone", "--quiet", "--depth=1", run.clone_url, str(wf_dir))
        run.github["sha"] = run_git("-C", str(wf_dir), "rev-parse", "HEAD")
        wf_file = wf_dir / workflow_path(run.result.workflow)
        if not wf_file.is_file():
            raise StepFailed(f"The workflow {run.result.workflow} is not on main.")
        workflow = yaml.safe_load(wf_file.read_text("utf-8")) or {}
        shutil.rmtree(wf_dir)
        on = workflow.get("on", workflow.get(True)) or {}  # YAML 1.1 reads a bare `on` as True
        dispatch = (on.get("workflow_dispatch") if isinstance(on, dict) else None) or {}
        declared = dispatch.get("inputs") or {}
        full_inputs = {k: yaml_str((v or {}).get("default", "")) for k, v in declared.items()}
        full_inputs.update({k: str(v) for k, v in inputs.items()})
        event = run.temp / "event.json"
        event.write_text(json.dumps({"inputs": full_inputs}), "utf-8")
        run.env.update(
            {
                f"GITHUB_{k.upper()}": str(v)
                for k, v in run.github.items()
                if k not in ("token", "action_path")
            }
        )
        run.env["GITHUB_EVENT_PATH"] = str(event)
        run.write(
            f"Run {run.result.run_id} of {run.result.workflow} in {run.result.repo} "
            f"at {run.github['sha'][:12]}"
        )
        for job_id, job in (workflow.get("jobs") or {}).items():
            run.deadline = time.monotonic() + float(job.get("timeout-minutes") or 30) * 60
            run.env["GITHUB_JOB"] = run.github["job"] = str(job_id)
            env = {**str_map(workflow.get("env")), **str_map(job.get("env"))}
            ctx: dict[str, Any] = {
                "inputs": full_inputs,
                "secrets": {**secrets, "GITHUB_TOKEN": token},
                "github": {**run.github, "event": {"inputs": full_inputs}},
                "runner": run.runner_ctx,
                "env": env,
                "steps": {},
                "vars": {},
                "job": {"status": run.status},
            }
            self.steps.run_steps(run, job.get("steps") or [], ctx, action_path=None)


def local_forge_with_runner(
    data_dir: Path,
    *,
    public_url: str,
    action_path: Path,
    on_finish: Callable[[RunResult], None] | None = None,
    tool_cache: Path | None = None,
    processes: StepProcesses | None = None,
    max_runs: int = 4,
    pages_url: str | None = None,
) -> LocalForge:
    """A LocalForge whose dispatches run on a LocalRunner reading that forge's secrets."""
    runner = LocalRunner(
        data_dir,
        action_path=action_path,
        public_url=public_url,
        secrets_for=functools.partial(read_secrets, Path(data_dir).resolve()),
        on_finish=on_finish,
        tool_cache=tool_cache,
        processes=processes,
        max_runs=max_runs,
        pages_url=pages_url,
    )
    return LocalForge(data_dir, public_url=public_url, runner=runner, pages_url=pages_url)


def default_action_path(data_dir: Path | None = None) -> Path:
    """The folder holding this project's action.yml: the checkout, or one assembled in data_dir."""
    return action_path(Path(data_dir) if data_dir is not None else Path("llm-deploy-data"))
