"""Step execution for the local runner: ``run:`` scripts, ``actions/*`` steps, the composite.

``StepRunner`` runs a list of steps the way GitHub Actions does (``if:``, ``env:``,
``continue-on-error``, step outputs, ``GITHUB_OUTPUT``/``GITHUB_ENV``/``GITHUB_PATH`` files, masks)
and saves the run record after each step so the status endpoint and ``/runs/<id>`` show progress.
``LocalRunner`` (receiver.local.runner) adds the workflow around it; the ``actions/*`` stand-ins
are in receiver.local.builtin_actions and the run record in receiver.local.run_model.
``StepProcesses`` tracks the steps running now, so that local mode's shutdown can end them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import yaml

from receiver.local.builtin_actions import run_builtin
from receiver.local.expressions import ExpressionError, evaluate_if, substitute, truthy
from receiver.local.run_model import (
    RunState,
    StepFailed,
    StepRecord,
    parse_env_file,
    str_map,
    yaml_str,
)

log = logging.getLogger("receiver.local.runner")
_SHELLS = {
    "bash": ["bash", "--noprofile", "--norc", "-eo", "pipefail", "{0}"],
    "sh": ["sh", "-e", "{0}"],
    "python": [sys.executable, "{0}"],
}
_USES = re.compile(r"^(?P<owner>[^/@\s]+)/(?P<name>[^@\s]+)@(?P<ref>\S+)$")


class StepProcesses:
    """The process groups of the steps running now, and whether local mode is shutting down.

    Steps get their own session (so a timeout can end a step's whole tree), which also means they
    would outlive the receiver: ``shutdown`` ends them. Their runs stay "running" in their records
    and run again on the next start (receiver.local.resume).
    """

    def __init__(self) -> None:
        self._active: set[int] = set()
        self._lock = threading.Lock()
        self.stopping = threading.Event()  # set on shutdown: runs must not record the kill

    def add(self, pgid: int) -> None:
        with self._lock:
            self._active.add(pgid)

    def discard(self, pgid: int) -> None:
        with self._lock:
            self._active.discard(pgid)

    def shutdown(self) -> None:
        """End every running step's process group; later record saves are skipped."""
        self.stopping.set()
        with self._lock:
            active = list(self._active)
        for pgid in active:
            kill_group(pgid)


class StepRunner:
    """Runs the steps of runs, one run per thread, for the ``LocalRunner`` that owns it."""

    def __init__(
        self,
        *,
        data_dir: Path,
        action_path: Path,
        public_url: str,
        runs_dir: Path,
        processes: StepProcesses,
        pages_url: str | None = None,
    ) -> None:
        self.data_dir, self.action_path, self.public_url = data_dir, action_path, public_url
        self.pages_url = pages_url or public_url
        self.runs_dir, self.processes = runs_dir, processes

    def run_steps(
        self,
        run: RunState,
        steps: list[dict[str, Any]],
        ctx: dict[str, Any],
        action_path: Path | None,
    ) -> str:
        """Run steps in order; return "success" or "failure" for this list (composite or job)."""
        status = "success"
        for index, step in enumerate(steps, 1):
            name = str(
                step.get("name")
                or step.get("uses")
                or str(step.get("run", "")).strip().split("\n")[0][:60]
                or f"step {index}"
            )
            name = run.masker.mask(substitute(name, ctx)) if "${{" in name else name
            if action_path is not None:
                name = f"action: {name}"
            record = StepRecord(name, state="running")
            run.result.steps.append(record)
            run.save()
            ctx["job"] = {"status": "failure" if "failure" in (status, run.status) else "success"}
            started = time.monotonic()
            try:
                if not evaluate_if(step.get("if"), ctx):
                    record.state = "skipped"
                    run.write(f"Skipping step: {name}")
                    continue
                run.write(f"##[group]{name}")
                step_env = {
                    **ctx["env"],
                    **{k: substitute(v, ctx) for k, v in str_map(step.get("env")).items()},
                }
                outputs = self._run_step(run, step, ctx, step_env, action_path)
                record.state, record.outputs = (
                    "success",
                    {k: run.masker.mask(v) for k, v in outputs.items()},
                )
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
                run.save()
                if record.state != "skipped":
                    run.write(f"##[endgroup] {name}: {record.state} in {record.elapsed:.2f}s")
                    log.info(
                        "run=%s repo=%s step=%r state=%s elapsed=%.2fs",
                        run.result.run_id,
                        run.result.repo,
                        name,
                        record.state,
                        record.elapsed,
                    )
            if step.get("id"):
                ctx["steps"][str(step["id"])] = {
                    "outputs": outputs,
                    "outcome": record.state,
                    "conclusion": record.state,
                }
        return status

    def _run_step(
        self,
        run: RunState,
        step: dict[str, Any],
        ctx: dict[str, Any],
        env: dict[str, str],
        action_path: Path | None,
    ) -> dict[str, str]:
        with_ = {k: substitute(yaml_str(v), ctx) for k, v in (step.get("with") or {}).items()}
        if "run" in step:
            shell = step.get("shell") or ("bash" if action_path is None else None)
            if shell is None:
                raise StepFailed("A composite action's run step must set 'shell'.")
            workdir = run.workspace / substitute(yaml_str(step.get("working-directory")), ctx)
            return self._shell(
                run, substitute(str(step["run"]), ctx), str(shell), env, workdir, action_path
            )
        uses = str(step.get("uses", ""))
        m = _USES.match(uses)
        if not m:
            raise StepFailed(f"The step uses {uses!r}, which the local runner cannot run.")
        if m["owner"] == "actions":
            return run_builtin(
                run, m["name"], with_, data_dir=self.data_dir, pages_url=self.pages_url
            )
        if action_path is not None:
            raise StepFailed(f"The local runner cannot run the nested action {uses!r}.")
        return self._composite(run, with_, ctx, env)

    def _composite(
        self, run: RunState, with_: dict[str, str], outer: dict[str, Any], env: dict[str, str]
    ) -> dict[str, str]:
        spec_file = next(
            (
                self.action_path / n
                for n in ("action.yml", "action.yaml")
                if (self.action_path / n).is_file()
            ),
            None,
        )
        if spec_file is None:
            raise StepFailed(f"No action.yml in {self.action_path}.")
        spec = yaml.safe_load(spec_file.read_text("utf-8")) or {}
        runs = spec.get("runs") or {}
        if runs.get("using") != "composite":
            raise StepFailed("The local runner only runs composite actions.")
        inputs: dict[str, str] = {}
        for key, decl in (spec.get("inputs") or {}).items():
            default = yaml_str((decl or {}).get("default"))
            inputs[key] = with_[key] if key in with_ else substitute(default, outer)
        for key in set(with_) - set(inputs):
            run.write(f"##[warning]Unexpected input {key!r} for the action")
        ctx: dict[str, Any] = {
            "inputs": inputs,
            "steps": {},
            "env": env,
            "runner": outer["runner"],
            "github": {**outer["github"], "action_path": str(self.action_path)},
            "job": dict(outer["job"]),
            "vars": {},
        }
        status = self.run_steps(run, list(runs.get("steps") or []), ctx, self.action_path)
        outputs = {
            k: substitute(yaml_str((d or {}).get("value")), ctx)
            for k, d in (spec.get("outputs") or {}).items()
        }
        run.result.outputs.update({k: run.masker.mask(v) for k, v in outputs.items()})
        if status != "success":
            raise StepFailed("A step of the action failed.")
        return outputs

    def _shell(
        self,
        run: RunState,
        script: str,
        shell: str,
        env: dict[str, str],
        workdir: Path,
        action_path: Path | None,
    ) -> dict[str, str]:
        n = next(run.counter)
        files = {
            k: run.temp / f"_{k.lower()}_{n}" for k in ("OUTPUT", "ENV", "PATH", "STEP_SUMMARY")
        }
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
        with subprocess.Popen(
            argv,
            cwd=workdir,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        ) as proc:
            self.processes.add(proc.pid)
            timer = threading.Timer(remaining, kill_group, (proc.pid,))
            timer.start()
            try:
                assert proc.stdout is not None
                for raw in proc.stdout:
                    line = raw.decode("utf-8", "replace")
                    if line.startswith("::add-mask::"):
                        run.masker.add(line[len("::add-mask::") :].strip())
                        continue
                    run.write(line)
                code = proc.wait()
            finally:
                timer.cancel()
                self.processes.discard(proc.pid)
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


def kill_group(pid: int) -> None:
    """End a step's process group: its children (pip, python, git) share its session."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
