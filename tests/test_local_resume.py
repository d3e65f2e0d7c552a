"""Local mode: a run that dies with the receiver runs again when the receiver comes back.

Runs execute inside the receiver's process here (on GitHub they outlive it), so a restart must
pick up what a stop interrupted, except a run that had already notified the evaluator.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from receiver.local.forge import LocalForge
from receiver.local.resume import NOTIFIED_BEFORE_STOP, close_run, interrupted_runs
from tests.e2e_support import (
    ROOT,
    corpus_answer,
    free_socket,
    link_tool_cache,
    load_request,
    prebuild_action_venv,
    wait_for,
)
from tests.fakes.evaluator import FakeEvaluator
from tests.fakes.llm import FakeLLM

if TYPE_CHECKING:
    from tests.reliability import Recorder

pytest_plugins = ["tests.reliability"]
SECRET = "resume-deploy-secret"


def _write(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data), "utf-8")


def _runs(tmp_path: Path, states: dict[int, tuple[str, list[dict[str, str]], bool]]) -> Path:
    """runs/ with a dispatch record and a run record per id: (state, steps, inputs kept)."""
    runs = tmp_path / "runs"
    runs.mkdir(parents=True)
    for run_id, (state, steps, kept) in states.items():
        dispatch = {
            "run_id": run_id,
            "repo": f"r{run_id}",
            "workflow": "llm-deploy.yml",
            "dispatch_id": f"d{run_id}",
            "run_url": f"http://x/runs/{run_id}",
        }
        if kept:
            dispatch["inputs"] = {"payload": f"sealed-{run_id}", "dispatch-id": f"d{run_id}"}
        _write(runs / f"{run_id}.dispatch.json", dispatch)
        _write(runs / f"{run_id}.json", {"run_id": run_id, "state": state, "steps": steps})
    return runs


NOTIFIED = [{"name": "action: Wait for the page, then notify the evaluator", "state": "success"}]
GENERATING = [{"name": "action: Generate, verify, commit and push the app", "state": "running"}]


def test_only_unfinished_runs_are_found_in_order(tmp_path: Path) -> None:
    runs = _runs(
        tmp_path,
        {
            10: ("success", NOTIFIED, True),
            2: ("running", GENERATING, True),
            3: ("queued", [], True),
            4: ("failure", [], True),
            5: ("running", NOTIFIED, True),
            6: ("running", [], False),
        },
    )
    found = list(interrupted_runs(runs))
    assert [r.run_id for r in found] == [2, 3, 5, 6]
    assert [r.notified for r in found] == [False, False, True, False]
    assert found[0].inputs == {"payload": "sealed-2", "dispatch-id": "d2"}
    assert found[3].inputs is None


def test_close_run_ends_the_record_with_the_reason(tmp_path: Path) -> None:
    runs = _runs(tmp_path, {1: ("running", NOTIFIED, True)})
    close_run(runs, 1, NOTIFIED_BEFORE_STOP)
    record = json.loads((runs / "1.json").read_text())
    assert record["state"] == "failure" and record["error"] == NOTIFIED_BEFORE_STOP
    assert record["steps"] == NOTIFIED and list(interrupted_runs(runs)) == []


class RecordingRunner:
    """The forge's Runner seam: records what it is asked to run (the real one is tested below)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, str], int | None]] = []
        self.done = threading.Event()

    def allocate_run_id(self) -> int:
        raise AssertionError("a resumed run keeps its id")

    def run(
        self, repo: str, workflow: str, inputs: dict[str, str], *, run_id: int | None = None
    ) -> Any:
        self.calls.append((repo, workflow, inputs, run_id))
        self.done.set()


def test_resume_reruns_with_the_kept_inputs_and_closes_the_rest(tmp_path: Path) -> None:
    runner = RecordingRunner()
    forge = LocalForge(tmp_path, public_url="http://x", runner=runner)  # type: ignore[arg-type]
    _runs_dir = tmp_path / "runs"
    for run_id, (state, steps, kept) in {
        7: ("running", GENERATING, True),
        8: ("running", NOTIFIED, True),
        9: ("running", GENERATING, False),
    }.items():
        _write(
            _runs_dir / f"{run_id}.dispatch.json",
            {
                "run_id": run_id,
                "repo": "r",
                "workflow": "llm-deploy.yml",
                "dispatch_id": "d",
                "run_url": "u",
                **({"inputs": {"payload": "p"}} if kept else {}),
            },
        )
        _write(_runs_dir / f"{run_id}.json", {"run_id": run_id, "state": state, "steps": steps})
    assert forge.resume_interrupted() == [7]
    assert runner.done.wait(10)
    assert runner.calls == [("r", "llm-deploy.yml", {"payload": "p"}, 7)]
    errors = {i: json.loads((_runs_dir / f"{i}.json").read_text()).get("error") for i in (8, 9)}
    assert errors[8] == NOTIFIED_BEFORE_STOP and "not recorded" in errors[9]


def _descendants(pid: int) -> list[int]:
    """Every process below pid (from /proc), so a 'machine stop' can take them all."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _start(data: Path, port: int, llm: FakeLLM, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_TOKEN", "AIPIPE_TOKEN")}
    env.update(
        DEPLOY_SECRET=SECRET,
        LLM_API_KEY=llm.api_key,
        LLM_BASE_URL=llm.base_url,
        LLM_DEPLOY_DATA=str(data),
        PORT=str(port),
        PYTHONPATH=str(ROOT),
    )
    with log.open("ab") as out:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            [sys.executable, "-c", "from receiver.cli import main; main(['serve'])"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )

    def up() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            assert proc.poll() is None, log.read_text()[-3000:]
            return False

    wait_for(up, 60, "the receiver to start")
    return proc


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"  # a zombie has ended; only its exit status waits to be collected


STOPS = {
    "sigkill-machine": "SIGKILL of the receiver and every process below it (a machine or "
    "container stop)",
    "sigterm-receiver": "SIGTERM of the receiver alone (Ctrl-C, a process manager's stop)",
}


@pytest.mark.e2e
@pytest.mark.parametrize("stop", list(STOPS))
def test_a_run_stopped_with_the_receiver_runs_again_after_restart(
    tmp_path: Path, reliability: Recorder, stop: str
) -> None:
    prebuild_action_venv()
    data, log = tmp_path / "data", tmp_path / "receiver.log"
    link_tool_cache(data)
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    gate = threading.Event()  # the first model call hangs until the 'machine' has stopped

    def first_hangs(request: dict[str, Any]) -> str:
        gate.wait(60)
        return corpus_answer(request)

    request = load_request("sum-of-sales-601-r1")
    with FakeLLM(script=[first_hangs], default=corpus_answer) as llm, FakeEvaluator() as ev:
        receiver = _start(data, port, llm, log)
        base = f"http://127.0.0.1:{port}"
        try:
            answer = httpx.post(
                f"{base}/api-deploy",
                timeout=30,
                json={**request, "secret": SECRET, "evaluation_url": ev.url},
            )
            assert answer.status_code == 200, answer.text
            wait_for(lambda: llm.requests, 120, "the run to ask the model")
            below = _descendants(receiver.pid)
            assert below, "the run's step processes should be running"
            if stop == "sigkill-machine":
                for pid in [receiver.pid, *below]:
                    os.kill(pid, signal.SIGKILL)
            else:
                receiver.send_signal(signal.SIGTERM)
            receiver.wait(30)
            # No step outlives the receiver (steps run in their own sessions, so this is work).
            wait_for(lambda: not any(_alive(pid) for pid in below), 10, "the steps to end")
        finally:
            gate.set()
        record = json.loads((data / "runs" / "1.dispatch.json").read_text())
        assert (
            record["inputs"]["dispatch-id"]
            and (data / "runs" / "1.dispatch.json").stat().st_mode & 0o077 == 0
        )
        assert json.loads((data / "runs" / "1.json").read_text())["state"] == "running"
        receiver = _start(data, port, llm, log)
        try:
            note = wait_for(lambda: list(ev.bodies), 180, "the notification after the restart")
            status = wait_for(
                lambda: (
                    (
                        r := httpx.get(
                            f"{base}/api-deploy/{request['task']}",
                            timeout=10,
                            headers={"authorization": f"Bearer {SECRET}"},
                        ).json()["rounds"][0]
                    )["state"]
                    == "deployed"
                    and r
                ),
                120,
                "deployed",
            )
        finally:
            receiver.send_signal(signal.SIGTERM)
            receiver.wait(30)
    reliability.record(
        "Receiver",
        f"local mode: {STOPS[stop]} while the run waits for the model, restart on the same data",
        "no step process outlived the receiver; the restarted receiver found the run still "
        "'running' in its record and ran it again under the same id from the kept (encrypted) "
        "dispatch inputs",
        sent=1,
        dispatched=1,
        notified=len(note),
        lost=1 - len(note),
        duplicated=max(0, len(note) - 1),
    )
    assert len(note) == 1 and note[0]["nonce"] == request["nonce"]
    assert status["run"]["id"] == 1 and status["run"]["state"] == "success"
    assert len(llm.requests) == 2  # the hung call, then the rerun's
    assert "running it again" in log.read_text()
