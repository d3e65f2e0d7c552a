"""LLM faults through the real generate step: every one still ends in a commit, and says why.

The generate step runs against a temp clone of a local bare repo and the fake LLM on 127.0.0.1;
the LLM client's per-call timeout and retry sleep are shortened at the one seam that builds it.
"""

from __future__ import annotations

import functools
import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from action import generate
from action.job import Job
from action.llm import LLMClient
from action.payload import encode_key, seal
from receiver.local.run_model import parse_env_file
from tests.fakes.llm import FakeLLM, Reply, budget_reply, default_app_answer

if TYPE_CHECKING:
    from tests.reliability import Recorder

pytest_plugins = ["tests.reliability"]

KEY = bytes(range(32))
LLM_KEY = "sk-fault-llm-key-0123456789"
GITHUB_TOKEN = "ghs_fault_github_token_0123456789"
EMAIL = "fault-student@example.com"
EVAL_URL = "http://127.0.0.1:9/private-fault-evaluation"
BRIEF = "Publish a page titled 'Fault test' that shows the sum of 2 and 3 in #total."


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


@dataclass
class Checkout:
    bare: Path
    work: Path
    temp: Path


@pytest.fixture
def checkout(tmp_path: Path) -> Iterator[Checkout]:
    """origin.git with the workflow committed, and a clone to run the step in."""
    bare, seed, work = tmp_path / "origin.git", tmp_path / "seed", tmp_path / "work"
    git(tmp_path, "init", "--quiet", "--bare", "-b", "main", str(bare))
    git(tmp_path, "init", "--quiet", "-b", "main", str(seed))
    (seed / ".github" / "workflows").mkdir(parents=True)
    (seed / ".github" / "workflows" / "llm-deploy.yml").write_text("on: workflow_dispatch\n")
    git(seed, "add", "-A")
    git(seed, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", "init")
    git(seed, "remote", "add", "origin", str(bare))
    git(seed, "push", "--quiet", "origin", "main")
    git(tmp_path, "clone", "--quiet", str(bare), str(work))
    temp = tmp_path / "runner-temp"
    temp.mkdir()
    yield Checkout(bare, work, temp)


@pytest.fixture
def fast_llm(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Short per-call timeouts and recorded (not slept) retry delays; returns the delays."""
    slept: list[float] = []
    monkeypatch.setattr(
        generate, "LLMClient", functools.partial(LLMClient, timeout=0.4, sleep=slept.append)
    )
    return slept


def make_job(brief: str = BRIEF, evaluation_url: str = EVAL_URL, task: str = "fault-app") -> Job:
    return Job(
        task=task,
        round=1,
        brief=brief,
        nonce="nonce-fault",
        email=EMAIL,
        evaluation_url=evaluation_url,
        checks=["js: document.title === 'Fault test'"],
        attachments=[],
        received_at=time.time(),
    )


def environ(co: Checkout, job: Job, llm: FakeLLM | None, **inputs: str) -> dict[str, str]:
    env = {
        "GITHUB_WORKSPACE": str(co.work),
        "GITHUB_REPOSITORY": "Student/" + job.task,
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_OUTPUT": str(co.temp / "output"),
        "GITHUB_STEP_SUMMARY": str(co.temp / "summary"),
        "RUNNER_TEMP": str(co.temp),
        "INPUT_PAYLOAD": seal(job, KEY),
        "INPUT_PAYLOAD_KEY": encode_key(KEY),
        "INPUT_GITHUB_TOKEN": GITHUB_TOKEN,
        "INPUT_VERIFY": "false",
    }
    if llm is not None:
        env.update(INPUT_LLM_API_KEY=llm.api_key, INPUT_LLM_BASE_URL=llm.base_url)
    env.update({"INPUT_" + k.upper().replace("-", "_"): v for k, v in inputs.items()})
    return env


@dataclass
class StepRun:
    code: int
    report: dict[str, Any]
    outputs: dict[str, str]
    logs: str
    summary: str
    env: dict[str, str]


def run_generate(
    co: Checkout, job: Job, llm: FakeLLM | None, capsys: pytest.CaptureFixture[str], **inputs: str
) -> StepRun:
    """Run ``python -m action generate`` in-process; logs are what the runner would show."""
    env = environ(co, job, llm, **inputs)
    code = generate.main(["generate"], env)
    logs = capsys.readouterr().out
    outputs = parse_env_file(Path(env["GITHUB_OUTPUT"]).read_text())
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    return StepRun(code, json.loads(outputs.get("report") or "{}"), outputs, logs, summary, env)


def committed(co: Checkout, path: str) -> str | None:
    try:
        return git(co.bare, "show", f"main:{path}")
    except subprocess.CalledProcessError:
        return None


def secrets_of(llm: FakeLLM | None, job: Job) -> dict[str, str]:
    found = {
        "email": EMAIL,
        "evaluation_url": job.evaluation_url,
        "github token": GITHUB_TOKEN,
        "payload key": encode_key(KEY),
    }
    if llm is not None:
        found["llm key"] = llm.api_key
    return found


TRUNCATED = '<file path="index.html">\n<!doctype html><html><head><title>Fault test</title>'
NOTHING_VALID = (
    '<file path="../escape.html">x</file>\n<file path=".git/hooks/pre-commit">rm -rf /</file>\n'
    '<file path="/etc/passwd">root</file>\n'
)


@dataclass
class Case:
    id: str
    fault: str
    script: list[Any]
    default: Any
    generator: str
    reason: str  # in the offline reason (or the notes, for the LLM generator)
    behaviour: str


CASES = [
    Case(
        "timeout",
        "LLM timeouts (every call)",
        [],
        Reply(200, "late", delay=3.0),
        "offline",
        "no answer within",
        "each call timed out; 4 attempts with backoff; offline page",
    ),
    Case(
        "5xx",
        "LLM 5xx (every call)",
        [],
        Reply(502, {"error": {"message": "bad gateway"}}),
        "offline",
        "502",
        "retried after 1, 2, 4 s; offline page",
    ),
    Case(
        "429-transient",
        "LLM 429 transient, then fine",
        [Reply(429, {"error": {"message": "slow down"}}, headers={"retry-after": "7"})],
        default_app_answer,
        "llm",
        "",
        "waited retry-after (7 s), then used the answer",
    ),
    Case(
        "budget",
        "LLM 429 budget exhausted",
        [],
        budget_reply(),
        "offline",
        "budget",
        "no retry, no fallback (same account); offline page",
    ),
    Case(
        "empty",
        "LLM empty answer",
        [],
        "   ",
        "offline",
        "empty answer",
        "no usable answer; offline page",
    ),
    Case(
        "no-protocol",
        "LLM answer in no protocol",
        [],
        "Sure! Here is a lovely app. Enjoy.",
        "offline",
        "the model failed",
        "one corrective retry, still no blocks; offline page",
    ),
    Case(
        "truncated",
        "LLM truncated answer",
        [],
        TRUNCATED,
        "offline",
        "the model failed",
        "asked again, more concisely; still cut; offline page",
    ),
    Case(
        "nothing-valid",
        "LLM answer that writes nothing valid",
        [],
        NOTHING_VALID,
        "offline",
        "no usable file",
        "every path refused and reported; offline page",
    ),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_llm_fault_still_commits_and_reports_why(
    checkout: Checkout,
    fast_llm: list[float],
    case: Case,
    capsys: pytest.CaptureFixture[str],
    reliability: Recorder,
) -> None:
    job = make_job()
    with FakeLLM(script=list(case.script), default=case.default) as llm:
        run = run_generate(checkout, job, llm, capsys)
    sha = run.outputs.get("commit-sha", "")
    reason = run.report.get("offline_reason") or "model answer used"
    reliability.record(
        "LLM",
        case.fault,
        case.behaviour,
        sent=1,
        lost=0,
        final=f"committed {sha[:7]} after {len(llm.requests)} LLM calls "
        f"({run.report.get('generator')}: {reason[:90]})",
    )
    assert run.code == 0, run.logs
    assert sha == git(checkout.bare, "rev-parse", "main")
    assert committed(checkout, "index.html"), "the commit has no index.html"
    assert committed(checkout, "LICENSE") and committed(checkout, "README.md")
    assert run.report["generator"] == case.generator
    if case.generator == "offline":
        assert case.reason in run.report["offline_reason"], run.report
        assert "offline" in run.summary.lower()
    if case.id == "429-transient":
        assert 7.0 in fast_llm
    if case.id == "nothing-valid":
        refused = {p for p, _ in run.report["files_refused"]}
        assert {"../escape.html", ".git/hooks/pre-commit", "/etc/passwd"} <= refused
        assert not (checkout.work.parent / "escape.html").exists()
    from tests.test_leaks import scan_for_leaks

    assert (
        scan_for_leaks(
            [run.logs, run.summary, json.dumps(run.outputs), checkout.bare],
            secrets_of(llm, job),
            allow_masks=True,
        )
        == []
    )
