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

import contextlib
import functools
import itertools
import json
import logging
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml

from receiver.expressions import ExpressionError, evaluate_if, substitute, truthy
from receiver.local_forge import OWNER, LocalForge, read_secrets, workflow_path
from receiver.local_pages import publish_site, stage_artifact

log = logging.getLogger("receiver.runner")
# Only these variables of the receiver's own environment reach a step: never its secrets.
_PASS_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER", "LOGNAME", "TERM")
_SHELLS = {
    "bash": ["bash", "--noprofile", "--norc", "-eo", "pipefail", "{0}"],
    "sh": ["sh", "-e", "{0}"],
    "python": [sys.executable, "{0}"],
}
_USES = re.compile(r"^(?P<owner>[^/@\s]+)/(?P<name>[^@\s]+)@(?P<ref>\S+)$")


class StepFailed(Exception):
    """A step failed; the message is safe to log."""


@dataclass
class StepRecord:
    name: str
    state: str = "pending"  # success | failure | skipped
    elapsed: float = 0.0
    outputs: dict[str, str] = field(default_factory=dict)
    error: str = ""


@dataclass
class RunResult:
    run_id: int
    repo: str
    workflow: str
    state: str = "queued"  # queued | running | success | failure
    started_at: float = 0.0
    elapsed: float = 0.0
    steps: list[StepRecord] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    error: str = ""


class Masker:
    """Replaces every registered secret value with ***."""

    def __init__(self, values: Iterable[str]) -> None:
        self._values: set[str] = set()
        for v in values:
            self.add(v)

    def add(self, value: str) -> None:
        for part in [value, *value.splitlines()]:
            if len(part.strip()) >= 3:  # masking "1" or "" would shred every log line
                self._values.add(part.strip())

    def mask(self, text: str) -> str:
        for value in sorted(self._values, key=len, reverse=True):
            text = text.replace(value, "***")
        return text


def parse_env_file(text: str) -> dict[str, str]:
    """Parse a GITHUB_OUTPUT/GITHUB_ENV file: ``k=v`` lines and ``k<<DELIM`` heredocs."""
    values: dict[str, str] = {}
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i].rstrip("\r")
        i += 1
        if not line.strip():
            continue
        eq, hd = line.find("="), line.find("<<")
        if eq >= 0 and (hd < 0 or eq < hd):
            values[line[:eq]] = line[eq + 1 :]
            continue
        if hd < 0:
            raise StepFailed(f"Malformed line in an output file: {line[:40]!r}.")
        key, delim = line[:hd], line[hd + 2 :]
        body: list[str] = []
        while i < len(lines) and lines[i].rstrip("\r") != delim:
            body.append(lines[i].rstrip("\r"))
            i += 1
        if i >= len(lines):
            raise StepFailed(f"The output {key!r} has no closing delimiter.")
        i += 1
        values[key] = "\n".join(body)
    return values


def _yaml_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _git(*args: str) -> str:
    proc = subprocess.run(["git", *args], capture_output=True, check=False)
    if proc.returncode != 0:
        raise StepFailed(f"git {args[0]} failed: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout.decode("utf-8", "replace").strip()


@dataclass
class _Run:
    result: RunResult
    masker: Masker
    logfile: TextIO
    env: dict[str, str]
    github: dict[str, Any]
    runner_ctx: dict[str, str]
    workspace: Path
    temp: Path
    clone_url: str
    deadline: float = 0.0
    status: str = "success"
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def write(self, line: str) -> None:
        self.logfile.write(self.masker.mask(line.rstrip("\n")) + "\n")
        self.logfile.flush()


class LocalRunner:
    """Runs generated repos' workflows locally; thread-safe, one thread per run."""

    def __init__(
        self,
        data_dir: Path,
        *,
        action_path: Path,
        public_url: str,
        secrets_for: Callable[[str], dict[str, str]],
        on_finish: Callable[[RunResult], None] | None = None,
        clone_url_for: Callable[[str], str] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.action_path = Path(action_path).resolve()
        self.public_url = public_url.rstrip("/")
        self.secrets_for = secrets_for
        self.on_finish = on_finish
        self.clone_url_for = clone_url_for or (
            lambda name: (self.data_dir / "repos" / f"{name}.git").as_uri()
        )
        self.runs_dir = self.data_dir / "runs"
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def allocate_run_id(self) -> int:
        """Reserve a new run id (unique across restarts) by creating its record file."""
        with self._lock:
            ids = [int(p.stem) for p in self.runs_dir.glob("*.json") if p.stem.isdigit()]
            for run_id in itertools.count(max(ids, default=0) + 1):
                try:
                    fd = os.open(self.record_path(run_id), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                except FileExistsError:
                    continue
                os.write(fd, json.dumps({"run_id": run_id, "state": "queued"}).encode())
                os.close(fd)
                return run_id
        raise AssertionError("unreachable")

    def record_path(self, run_id: int) -> Path:
        return self.runs_dir / f"{run_id}.json"

    def _save(self, result: RunResult) -> None:
        path = self.record_path(result.run_id)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(asdict(result), indent=2), "utf-8")
        os.replace(tmp, path)

    def run(
        self,
        repo_name: str,
        workflow_file: str,
        inputs: dict[str, str],
        *,
        run_id: int | None = None,
    ) -> RunResult:
        """Run the workflow of repo_name on main with these dispatch inputs; never raises."""
        run_id = run_id if run_id is not None else self.allocate_run_id()
        result = RunResult(run_id, repo_name, workflow_file, "running", time.time())
        self._save(result)
        secrets = {k: v for k, v in self.secrets_for(repo_name).items() if v}
        token = f"local-token-{os.urandom(8).hex()}"
        masker = Masker([*secrets.values(), token])
        work = self.data_dir / "runner-work" / str(run_id)
        start = time.monotonic()
        with open(self.runs_dir / f"{run_id}.log", "w", encoding="utf-8") as logfile:
            run = self._prepare(result, masker, logfile, work, token)
            try:
                self._run_workflow(run, inputs, secrets, token)
                result.state = run.status
            except Exception as exc:  # the run must end with a record, whatever broke
                prefix = "" if isinstance(exc, StepFailed) else "The runner failed: "
                result.state, result.error = "failure", masker.mask(f"{prefix}{exc}")
                run.write(f"##[error]{result.error}")
            finally:
                result.elapsed = round(time.monotonic() - start, 3)
                run.write(f"Run {run_id} finished: {result.state} in {result.elapsed:.2f}s")
                self._save(result)
                shutil.rmtree(work, ignore_errors=True)
        log.info("run=%s repo=%s state=%s elapsed=%.2f", run_id, repo_name, result.state,
                 result.elapsed)
        if self.on_finish is not None:
            self.on_finish(result)
        return result

    def _prepare(
        self, result: RunResult, masker: Masker, logfile: TextIO, work: Path, token: str
    ) -> _Run:
        shutil.rmtree(work, ignore_errors=True)
        workspace, temp = work / "workspace", work / "temp"
        workspace.mkdir(parents=True)
        temp.mkdir()
        tool_cache = self.data_dir / "runner-temp"
        tool_cache.mkdir(exist_ok=True)
        github: dict[str, Any] = {
            "token": token, "workspace": str(workspace), "repository": f"{OWNER}/{result.repo}",
            "repository_owner": OWNER, "server_url": self.data_dir.as_uri(),
            "run_id": str(result.run_id), "run_number": str(result.run_id), "run_attempt": "1",
            "ref": "refs/heads/main", "ref_name": "main", "sha": "",
            "event_name": "workflow_dispatch", "actor": "llm-deploy", "workflow": result.workflow,
            "api_url": f"{self.public_url}/api", "action_path": "",
        }
        env = {k: os.environ[k] for k in _PASS_ENV if k in os.environ}
        env.update({
            "CI": "true", "GITHUB_ACTIONS": "true", "RUNNER_OS": "Linux", "RUNNER_ARCH": "X64",
            "RUNNER_TEMP": str(temp), "RUNNER_TOOL_CACHE": str(tool_cache),
        })
        runner_ctx = {"temp": str(temp), "tool_cache": str(tool_cache), "os": "Linux"}
        clone_url = self.clone_url_for(result.repo)
        return _Run(result, masker, logfile, env, github, runner_ctx, workspace, temp, clone_url)

    def _run_workflow(
        self, run: _Run, inputs: dict[str, str], secrets: dict[str, str], token: str
    ) -> None:
        wf_dir = run.temp / "workflow-source"
        _git("clone", "--quiet", "--depth=1", run.clone_url, str(wf_dir))
        run.github["sha"] = _git("-C", str(wf_dir), "rev-parse", "HEAD")
        wf_file = wf_dir / workflow_path(run.result.workflow)
        if not wf_file.is_file():
            raise StepFailed(f"The workflow {run.result.workflow} is not on main.")
        workflow = yaml.safe_load(wf_file.read_text("utf-8")) or {}
        shutil.rmtree(wf_dir)
        on = workflow.get("on", workflow.get(True)) or {}  # YAML 1.1 reads a bare `on` as True
        dispatch = (on.get("workflow_dispatch") if isinstance(on, dict) else None) or {}
        declared = dispatch.get("inputs") or {}
        full_inputs = {k: _yaml_str((v or {}).get("default", "")) for k, v in declared.items()}
        full_inputs.update({k: str(v) for k, v in inputs.items()})
        event = run.temp / "event.json"
        event.write_text(json.dumps({"inputs": full_inputs}), "utf-8")
        run.env.update({
            f"GITHUB_{k.upper()}": str(v) for k, v in run.github.items()
            if k not in ("token", "action_path")
        })
        run.env["GITHUB_EVENT_PATH"] = str(event)
        run.write(f"Run {run.result.run_id} of {run.result.workflow} in {run.result.repo} "
                  f"at {run.github['sha'][:12]}")
        for job_id, job in (workflow.get("jobs") or {}).items():
            run.deadline = time.monotonic() + float(job.get("timeout-minutes") or 30) * 60
            run.env["GITHUB_JOB"] = str(job_id)
            env = {**_str_map(workflow.get("env")), **_str_map(job.get("env"))}
            ctx: dict[str, Any] = {
                "inputs": full_inputs, "secrets": {**secrets, "GITHUB_TOKEN": token},
                "github": {**run.github, "event": {"inputs": full_inputs}},
                "runner": run.runner_ctx, "env": env, "steps": {}, "vars": {},
                "job": {"status": run.status},
            }
            self._run_steps(run, job.get("steps") or [], ctx, action_path=None)

    # -- steps ---------------------------------------------------------------------------------
    def _run_steps(
        self, run: _Run, steps: list[dict[str, Any]], ctx: dict[str, Any], action_path: Path | None
    ) -> str:
        """Run steps in order; return "success" or "failure" for this list (composite or job)."""
        status = "success"
        for index, step in enumerate(steps, 1):
            name = str(step.get("name") or step.get("uses") or str(step.get("run", "")).strip()
                       .split("\n")[0][:60] or f"step {index}")
            name = run.masker.mask(substitute(name, ctx)) if "${{" in name else name
            if action_path is not None:
                name = f"action: {name}"
            record = StepRecord(name)
            run.result.steps.append(record)
            ctx["job"] = {"status": "failure" if "failure" in (status, run.status) else "success"}
            started = time.monotonic()
            try:
                if not evaluate_if(step.get("if"), ctx):
                    record.state = "skipped"
                    run.write(f"Skipping step: {name}")
                    continue
                run.write(f"##[group]{name}")
                step_env = {**ctx["env"], **{k: substitute(v, ctx) for k, v in
                                             _str_map(step.get("env")).items()}}
                outputs = self._run_step(run, step, ctx, step_env, action_path)
                record.state, record.outputs = "success", {
                    k: run.masker.mask(v) for k, v in outputs.items()}
            except (StepFailed, ExpressionError, OSError, subprocess.SubprocessError) as exc:
                outputs = {}
                record.state, record.error = "failure", run.masker.mask(str(exc))
                run.write(f"##[error]{record.error}")
                continue_on_error = step.get("continue-on-error", False)
                if isinstance(continue_on_error, str):
                    continue_on_error = truthy(substitute(continue_on_error, ctx))
                if not continue_on_error:
                    status = "failure"
                    if action_path is None:
                        run.status = "failure"
            finally:
                record.elapsed = round(time.monotonic() - started, 3)
                if record.state != "skipped":
                    run.write(f"##[endgroup] {name}: {record.state} in {record.elapsed:.2f}s")
                    log.info("run=%s repo=%s step=%s elapsed=%.2f", run.result.run_id,
                             run.result.repo, name, record.elapsed)
            if step.get("id"):
                ctx["steps"][str(step["id"])] = {
                    "outputs": outputs, "outcome": record.state, "conclusion": record.state}
        return status

    def _run_step(
        self, run: _Run, step: dict[str, Any], ctx: dict[str, Any], env: dict[str, str],
        action_path: Path | None,
    ) -> dict[str, str]:
        with_ = {k: substitute(_yaml_str(v), ctx) for k, v in (step.get("with") or {}).items()}
        if "run" in step:
            shell = step.get("shell") or ("bash" if action_path is None else None)
            if shell is None:
                raise StepFailed("A composite action's run step must set 'shell'.")
            workdir = run.workspace / substitute(_yaml_str(step.get("working-directory")), ctx)
            return self._shell(run, substitute(str(step["run"]), ctx), str(shell), env, workdir,
                               action_path)
        uses = str(step.get("uses", ""))
        m = _USES.match(uses)
        if not m:
            raise StepFailed(f"The step uses {uses!r}, which the local runner cannot run.")
        if m["owner"] == "actions":
            return self._builtin(run, m["name"], with_)
        if action_path is not None:
            raise StepFailed(f"The local runner cannot run the nested action {uses!r}.")
        return self._composite(run, with_, ctx, env)

    def _builtin(self, run: _Run, name: str, with_: dict[str, str]) -> dict[str, str]:
        site = f"{self.public_url}/pages/{run.result.repo}/"
        if name == "checkout":
            dest = run.workspace / with_.get("path", "")
            if dest.exists() and any(dest.iterdir()):
                shutil.rmtree(dest)
            # A local bare repo needs no credentials: origin is the file URL, pushes just work.
            _git("clone", "--quiet", run.clone_url, str(dest))
            run.write(f"Checked out {run.result.repo} into the workspace")
            return {"commit": _git("-C", str(dest), "rev-parse", "HEAD"), "ref": "refs/heads/main"}
        if name == "setup-python":
            # The receiver's own interpreter stands in; nothing is installed or changed.
            return {"python-path": sys.executable, "python-version": platform.python_version(),
                    "cache-hit": "false"}
        if name == "upload-pages-artifact":
            source = run.workspace / (with_.get("path") or "_site")
            count = stage_artifact(source, run.temp / "pages-artifact")
            run.write(f"Staged {count} files from {with_.get('path') or '_site'} for Pages")
            return {"artifact_id": str(run.result.run_id)}
        if name == "deploy-pages":
            artifact = run.temp / "pages-artifact"
            if not artifact.is_dir():
                raise StepFailed("No Pages artifact was uploaded before deploy-pages.")
            publish_site(self.data_dir, run.result.repo, artifact, str(run.result.run_id))
            run.write(f"Published the site at {site}")
            return {"page_url": site}
        if name == "configure-pages":
            return {"base_url": site.rstrip("/"), "origin": self.public_url,
                    "base_path": f"/pages/{run.result.repo}"}
        run.write(f"actions/{name} has no local equivalent; treated as a no-op")
        return {}

    def _composite(
        self, run: _Run, with_: dict[str, str], outer: dict[str, Any], env: dict[str, str]
    ) -> dict[str, str]:
        spec_file = next((self.action_path / n for n in ("action.yml", "action.yaml")
                          if (self.action_path / n).is_file()), None)
        if spec_file is None:
            raise StepFailed(f"No action.yml in {self.action_path}.")
        spec = yaml.safe_load(spec_file.read_text("utf-8")) or {}
        runs = spec.get("runs") or {}
        if runs.get("using") != "composite":
            raise StepFailed("The local runner only runs composite actions.")
        inputs: dict[str, str] = {}
        for key, decl in (spec.get("inputs") or {}).items():
            default = _yaml_str((decl or {}).get("default"))
            inputs[key] = with_[key] if key in with_ else substitute(default, outer)
        for key in set(with_) - set(inputs):
            run.write(f"##[warning]Unexpected input {key!r} for the action")
        ctx: dict[str, Any] = {
            "inputs": inputs, "steps": {}, "env": env, "runner": outer["runner"],
            "github": {**outer["github"], "action_path": str(self.action_path)},
            "job": dict(outer["job"]), "vars": {},
        }
        status = self._run_steps(run, list(runs.get("steps") or []), ctx, self.action_path)
        outputs = {k: substitute(_yaml_str((d or {}).get("value")), ctx)
                   for k, d in (spec.get("outputs") or {}).items()}
        run.result.outputs.update({k: run.masker.mask(v) for k, v in outputs.items()})
        if status != "success":
            raise StepFailed("A step of the action failed.")
        return outputs

    def _shell(
        self, run: _Run, script: str, shell: str, env: dict[str, str], workdir: Path,
        action_path: Path | None,
    ) -> dict[str, str]:
        n = next(run.counter)
        files = {k: run.temp / f"_{k.lower()}_{n}" for k in ("OUTPUT", "ENV", "PATH",
                                                             "STEP_SUMMARY")}
        for f in files.values():
            f.touch()
        script_file = run.temp / f"_script_{n}"
        script_file.write_text(script, "utf-8")
        template = _SHELLS.get(shell.split()[0]) if "{0}" not in shell else shell.split()
        if template is None:
            raise StepFailed(f"The shell {shell!r} is not supported by the local runner.")
        argv = [a.replace("{0}", str(script_file)) for a in template]
        full_env = {**run.env, **env, **{f"GITHUB_{k}": str(v) for k, v in files.items()}}
        if action_path is not None:
            full_env["GITHUB_ACTION_PATH"] = str(action_path)
        remaining = run.deadline - time.monotonic()
        if remaining <= 0:
            raise StepFailed("The job ran past its timeout-minutes.")
        with subprocess.Popen(argv, cwd=workdir, env=full_env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                              start_new_session=True) as proc:
            timer = threading.Timer(remaining, _kill_group, (proc.pid,))
            timer.start()
            try:
                assert proc.stdout is not None
                for raw in proc.stdout:
                    line = raw.decode("utf-8", "replace")
                    if line.startswith("::add-mask::"):
                        run.masker.add(line[len("::add-mask::"):].strip())
                        continue
                    run.write(line)
                code = proc.wait()
            finally:
                timer.cancel()
        summary = files["STEP_SUMMARY"].read_text("utf-8", "replace")
        if summary.strip():
            summary_file = self.runs_dir / f"{run.result.run_id}.summary.md"
            with open(summary_file, "a", encoding="utf-8") as out:
                out.write(run.masker.mask(summary) + "\n")
        run.env.update(parse_env_file(files["ENV"].read_text("utf-8", "replace")))
        extra = [p for p in files["PATH"].read_text("utf-8").splitlines() if p.strip()]
        if extra:
            run.env["PATH"] = os.pathsep.join([*reversed(extra), run.env.get("PATH", "")])
        if code != 0:
            raise StepFailed(f"The script exited with code {code}.")
        return parse_env_file(files["OUTPUT"].read_text("utf-8", "replace"))


def _kill_group(pid: int) -> None:
    # The step's children (pip, python, git) share its session; a timeout must end them all.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def _str_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): _yaml_str(v) for k, v in value.items()}


def local_forge_with_runner(
    data_dir: Path,
    *,
    public_url: str,
    action_path: Path,
    on_finish: Callable[[RunResult], None] | None = None,
) -> LocalForge:
    """A LocalForge whose dispatches run on a LocalRunner reading that forge's secrets."""
    runner = LocalRunner(
        data_dir, action_path=action_path, public_url=public_url,
        secrets_for=functools.partial(read_secrets, Path(data_dir).resolve()), on_finish=on_finish,
    )
    return LocalForge(data_dir, public_url=public_url, runner=runner)


def default_action_path() -> Path:
    """The folder holding this project's action.yml (the source checkout)."""
    return Path(__file__).resolve().parent.parent
