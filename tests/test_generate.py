"""The generate step end to end: a temp working copy whose origin is a local bare repo, the fake
LLM on 127.0.0.1, an encrypted payload, temp GITHUB_OUTPUT / GITHUB_STEP_SUMMARY files."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from action import generate
from action.__main__ import main as action_main
from action.__main__ import notify_main
from action.attachments import from_request, safe_name
from action.job import Job
from action.payload import encode_key, seal
from action.settings import ActionSettings
from receiver.local.run_model import parse_env_file
from tests.conftest import load_task, task_sequences
from tests.fakes.evaluator import Answer, FakeEvaluator
from tests.fakes.llm import FakeLLM, default_app_answer

KEY = bytes(range(32))
LLM_KEY = "sk-fake-llm-key-123"
GITHUB_TOKEN = "ghs_fake_github_token_456"
EMAIL = "student-private@example.com"
EVAL_URL = "http://127.0.0.1:1/private-evaluation-endpoint"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


@dataclass
class Repo:
    bare: Path
    work: Path
    temp: Path
    runs: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repo]:
    """origin.git with the project's workflow committed, and a clone to work in."""
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
    yield Repo(bare, work, tmp_path / "runner-temp")


def job_for(name: str) -> Job:
    request = load_task(name)
    return Job(
        task=request["task"],
        round=int(request["round"]),
        brief=request["brief"],
        nonce=request["nonce"],
        email=EMAIL,
        evaluation_url=EVAL_URL,
        checks=request["checks"],
        attachments=from_request(request.get("attachments", [])),
        received_at=time.time(),
    )


def environ(repo: Repo, job: Job, llm: FakeLLM | None, **inputs: str) -> dict[str, str]:
    n = len(repo.runs)
    env = {
        "GITHUB_WORKSPACE": str(repo.work),
        "GITHUB_REPOSITORY": "Student/" + job.task,
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_OUTPUT": str(repo.temp / f"output-{n}"),
        "GITHUB_STEP_SUMMARY": str(repo.temp / f"summary-{n}"),
        "RUNNER_TEMP": str(repo.temp),
        "INPUT_PAYLOAD": seal(job, KEY),
        "INPUT_PAYLOAD_KEY": encode_key(KEY),
        "INPUT_GITHUB_TOKEN": GITHUB_TOKEN,
        "INPUT_VERIFY": "false",
    }
    if llm is not None:
        env.update(INPUT_LLM_API_KEY=llm.api_key, INPUT_LLM_BASE_URL=llm.base_url)
    env.update({"INPUT_" + k.upper(): v for k, v in inputs.items()})
    return env


def run_step(
    repo: Repo,
    job: Job,
    llm: FakeLLM | None,
    capsys: pytest.CaptureFixture[str],
    runner_env: dict[str, str] | None = None,
    **inputs: str,
) -> dict[str, Any]:
    repo.temp.mkdir(exist_ok=True)
    env = {**environ(repo, job, llm, **inputs), **(runner_env or {})}
    code = generate.main(["generate"], env)
    logs = capsys.readouterr().out
    outputs = parse_env_file(Path(env["GITHUB_OUTPUT"]).read_text())
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    # Secrets may appear only in ::add-mask:: lines, which is how they get hidden.
    for line in logs.splitlines():
        if not line.startswith("::add-mask::"):
            for secret in (EMAIL, EVAL_URL, LLM_KEY, GITHUB_TOKEN, llm.api_key if llm else "x" * 9):
                assert secret not in line
    for text in (json.dumps(outputs), summary):
        for secret in (EMAIL, EVAL_URL, job.brief, LLM_KEY, GITHUB_TOKEN, encode_key(KEY)):
            assert secret not in text
        if llm:
            assert llm.api_key not in text
    run = {
        "code": code,
        "outputs": outputs,
        "summary": summary,
        "report": json.loads(outputs["report"]),
    }
    repo.runs.append(run)
    return run


@pytest.mark.parametrize("sequence", task_sequences(), ids=lambda s: s[0][:-3])
def test_every_task_round_1_then_its_round_2s(
    repo: Repo, sequence: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    def answer(request: dict[str, Any]) -> str:
        # Analyze asks for its own CI workflow: the model writes one, like a real model would.
        extra = '<file path=".github/workflows/ci.yml">on: push\n</file>\n'
        return default_app_answer(request) + (extra if sequence[0] == "Analyze-r1" else "")

    with FakeLLM(default=answer, api_key=LLM_KEY) as llm:
        for name in sequence:
            job = job_for(name)
            run = run_step(repo, job, llm, capsys)
            assert run["code"] == 0, run["summary"]
            head = git(repo.bare, "rev-parse", "main")
            assert run["outputs"]["commit-sha"] == head
            assert run["outputs"]["page-url"] == f"https://student.github.io/{job.task}/"
            assert git(repo.bare, "log", "-1", "--format=%an|%s", "main") == (
                f"github-actions[bot]|llm-deploy: {job.task} round {job.round}"
            )
            tree = set(git(repo.bare, "ls-tree", "-r", "--name-only", "main").split("\n"))
            assert {"index.html", "README.md", "LICENSE"} <= tree
            license_text = git(repo.bare, "show", "main:LICENSE")
            assert "MIT License" in license_text and "is hereby granted" in license_text
            for att in job.attachments:
                committed = subprocess.run(
                    ["git", "show", f"main:{safe_name(att.name)}"],
                    cwd=repo.bare,
                    check=True,
                    capture_output=True,
                ).stdout
                assert committed == att.data, att.name
            report = run["report"]
            assert (report["task"], report["round"], report["generator"]) == (
                job.task,
                job.round,
                "llm",
            )
            assert report["tokens"]["prompt"] > 0 and "index.html" in report["files_written"]
            assert f"| Round | {job.round} |" in run["summary"]
        assert len(llm.requests) == len(sequence)
        assert all(r.authorized for r in llm.requests)
    if sequence[0].startswith("Analyze"):
        # The app's own CI workflow needs a push token; without one it is refused and reported.
        refused = dict(map(tuple, report["files_refused"]))
        assert "push-token" in refused[".github/workflows/ci.yml"]
        assert "`.github/workflows/ci.yml`" in run["summary"]


def test_no_llm_key_uses_the_labelled_offline_generator(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    job = job_for("sum-of-sales-601-r1")
    run = run_step(repo, job, None, capsys)
    assert run["code"] == 0
    assert run["report"]["generator"] == "offline"
    assert "no LLM API key" in run["report"]["offline_reason"]
    assert "| Generator | offline |" in run["summary"] and "Offline because" in run["summary"]
    assert run["outputs"]["commit-sha"] == git(repo.bare, "rev-parse", "main")
    assert (repo.work / "data.csv").read_bytes() == job.attachments[0].data


def test_malformed_answer_gets_one_corrective_retry(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    job = job_for("SumOfSales-r1")
    with FakeLLM(["Sure! Here is your app, described in prose."], api_key=LLM_KEY) as llm:
        run = run_step(repo, job, llm, capsys)
        assert len(llm.requests) == 2
        last = llm.requests[1].json["messages"]
        assert last[-2]["content"].startswith("Sure!") and last[-1]["role"] == "user"
    assert run["report"]["generator"] == "llm"
    assert any("malformed" in n for n in run["report"]["notes"])


def test_llm_failure_after_retry_falls_back_offline(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    job = job_for("SumOfSales-r1")
    with FakeLLM(["no blocks", "still no blocks"], api_key=LLM_KEY) as llm:
        run = run_step(repo, job, llm, capsys)
    assert run["code"] == 0 and run["report"]["generator"] == "offline"
    assert "the model failed" in run["report"]["offline_reason"]


HOSTILE = """<file path="../outside.txt">x</file>
<file path="/etc/passwd">x</file>
<file path=".git/config">x</file>
<file path=".github/workflows/x.yml">on: push</file>
<file path=".github/workflows/llm-deploy.yml">on: push</file>
<file path="sales.csv">tampered</file>
<file path="index.html"><title>ok</title></file>
"""


def test_hostile_answer_writes_only_allowed_files_and_reports_refusals(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    job = job_for("SumOfSales-r1")
    with FakeLLM([HOSTILE], api_key=LLM_KEY) as llm:
        run = run_step(repo, job, llm, capsys)
    refused = {p for p, _ in run["report"]["files_refused"]}
    assert {"../outside.txt", "/etc/passwd", ".git/config", ".github/workflows/x.yml"} <= refused
    assert {".github/workflows/llm-deploy.yml", "sales.csv"} <= refused
    assert not (repo.work.parent / "outside.txt").exists()
    assert (repo.work / "sales.csv").read_bytes() == job.attachments[0].data
    assert "on: workflow_dispatch" in (repo.work / ".github/workflows/llm-deploy.yml").read_text()
    assert "| `/etc/passwd` |" in run["summary"]


def test_round_2_edits_and_whole_file_fallback(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    first = '<file path="index.html"><h1 id="a">one</h1>\n<p>keep</p></file>'
    edit = (
        '<edit path="index.html"><search><h1 id="a">one</h1></search>'
        '<replace><h1 id="a">two</h1></replace></edit>\n'
        '<edit path="README.md"><search>text that is not there</search><replace>x</replace></edit>'
    )
    # Long enough that ensure_readme keeps it (a stub README is replaced by a complete one).
    whole = '<file path="README.md"># Rewritten\n' + "word " * 60 + "</file>"
    with FakeLLM([first, edit, whole], api_key=LLM_KEY) as llm:
        run_step(repo, job_for("sum-of-sales-601-r1"), llm, capsys)
        run = run_step(repo, job_for("sum-of-sales-601-r2a"), llm, capsys)
        round2 = json.dumps(llm.requests[1].json)
        assert "keep" in round2  # round 2 sees the current files
        assert len(llm.requests) == 3
    assert (repo.work / "index.html").read_text() == '<h1 id="a">two</h1>\n<p>keep</p>'
    assert (repo.work / "README.md").read_text().startswith("# Rewritten")
    assert any("did not match" in n for n in run["report"]["notes"])


@dataclass
class FakeVerification:
    failures: list[str]

    @property
    def failed_checks(self) -> list[str]:
        return self.failures

    def to_dict(self) -> dict[str, Any]:
        return {"js": [{"check": f, "status": "fail"} for f in self.failures]}


def marker_verifier(root: Path, job: Job) -> FakeVerification:
    """One failure per marker that index.html lacks."""
    html = (root / "index.html").read_text()
    return FakeVerification([m for m in ("M1", "M2") if m not in html])


def test_repair_keeps_the_best_version(repo: Repo) -> None:
    job = job_for("SumOfSales-r1")
    good = '<file path="index.html">M1 only</file>'
    worse = '<file path="index.html">nothing</file><file path="extra.js">1</file>'
    settings = ActionSettings(
        workspace=str(repo.work),
        repository="Student/SumOfSales",
        payload=seal(job, KEY),
        payload_key=encode_key(KEY),
        repair_rounds=2,
    )
    with FakeLLM([good, worse, worse], api_key=LLM_KEY) as llm, httpx.Client() as http:
        s = ActionSettings(
            **{**settings.__dict__, "llm_api_key": llm.api_key, "llm_base_url": llm.base_url}
        )
        result = generate.run(s, http=http, verifier=marker_verifier).to_json()
        assert len(llm.requests) == 3
        assert "M2" in llm.requests[1].json["messages"][-1]["content"]
    assert (repo.work / "index.html").read_text() == "M1 only"
    assert not (repo.work / "extra.js").exists()
    assert result["repair_rounds"] == 2 and result["failures"] == ["M2"]
    assert result["kept_round"] == 0 and result["verdict"] == "fail"
    assert [r["failed"] for r in result["verification_rounds"]] == [1, 2, 2]
    assert any("kept the best version" in n for n in result["notes"])
    assert result["checks"] == [
        {"kind": "js", "check": "M2", "result": "fail", "detail": "", "round": 0}
    ]


def test_missing_brief_and_payload_fails_with_error_line(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.temp.mkdir()
    env = {
        "GITHUB_WORKSPACE": str(repo.work),
        "GITHUB_REPOSITORY": "o/r",
        "GITHUB_STEP_SUMMARY": str(repo.temp / "summary"),
        "GITHUB_OUTPUT": str(repo.temp / "out"),
    }
    assert generate.main([], env) == 1
    assert "::error::Neither 'payload' nor 'brief'" in capsys.readouterr().out
    assert "Neither 'payload' nor 'brief'" in (repo.temp / "summary").read_text()


def test_module_entry_point_rejects_unknown_steps(capsys: pytest.CaptureFixture[str]) -> None:
    assert action_main(["bogus"]) == 2
    assert "usage: python -m action" in capsys.readouterr().err


def test_notify_step_waits_for_the_page_then_posts_the_body(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeLLM(api_key=LLM_KEY) as llm:
        run = run_step(repo, job_for("sum-of-sales-601-r1"), llm, capsys)
    sha = run["outputs"]["commit-sha"]
    index = (repo.work / "index.html").read_bytes()
    # A 400 is retried like any answer but 200 (the evaluator's spec): two POSTs, success.
    with FakeEvaluator(
        [Answer(400, {"reason": f"bad nonce for {EMAIL}"}), 200], pages={"/site/": index}
    ) as ev:
        job = replace(job_for("sum-of-sales-601-r1"), evaluation_url=ev.url)
        env = environ(repo, job, None, pages_url=ev.base + "/site/", commit_sha=sha)
        env["LLMD_DEPLOY_PAGE_URL"] = "https://ignored.example/"
        assert notify_main([], env) == 0
        logs = capsys.readouterr().out
        assert ev.gets == ["/site/"]
        assert ev.bodies[-1] == {
            "email": EMAIL,
            "task": job.task,
            "round": 1,
            "nonce": job.nonce,
            "repo_url": f"https://github.com/Student/{job.task}",
            "commit_sha": sha,
            "pages_url": ev.base + "/site/",
        }
        assert len(ev.bodies) == 2
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert "HTTP 200 after 2 attempt(s)" in summary and "yes" in summary
    assert "Notification attempt 1: HTTP 400: bad nonce for <email>; retrying in 1 s." in logs
    assert "Notification attempt 2: HTTP 200, accepted." in logs
    for secret in (EMAIL, ev.url, job.brief):
        assert secret not in summary
        assert all(secret not in line for line in logs.splitlines() if "::add-mask::" not in line)


def test_notify_step_that_never_gets_a_200_fails_with_the_last_status(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeLLM(api_key=LLM_KEY) as llm:
        run = run_step(repo, job_for("sum-of-sales-601-r1"), llm, capsys)
    sha = run["outputs"]["commit-sha"]
    index = (repo.work / "index.html").read_bytes()
    # Received long ago: the deadline has passed, so the one attempt always made is the last.
    with FakeEvaluator([400] * 5, pages={"/site/": index}) as ev:
        job = replace(job_for("sum-of-sales-601-r1"), evaluation_url=ev.url, received_at=1.0)
        env = environ(repo, job, None, pages_url=ev.base + "/site/", commit_sha=sha)
        assert notify_main([], env) == 1
        logs = capsys.readouterr().out
        assert len(ev.bodies) == 1
    assert "::error::The evaluator did not accept the notification before the deadline" in logs
    assert "last answer HTTP 400: scripted 400" in logs
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert "Evaluator: not accepted: last answer HTTP 400" in summary
    assert "Page serves commit" in summary  # what the step did before failing is kept
    outputs = parse_env_file(Path(env["GITHUB_OUTPUT"]).read_text())
    assert outputs["notified"] == "not accepted: last answer HTTP 400"
    assert EMAIL not in summary and ev.url not in summary


def test_hand_run_from_a_plain_brief(repo: Repo, capsys: pytest.CaptureFixture[str]) -> None:
    job = Job(task="ignored", round=1, brief="A page that greets visitors")
    repo.temp.mkdir()
    env = environ(repo, job, None, brief=job.brief, checks="js: document.title.length > 0")
    del env["INPUT_PAYLOAD"], env["INPUT_PAYLOAD_KEY"]
    assert generate.main([], env) == 0
    report = json.loads(parse_env_file(Path(env["GITHUB_OUTPUT"]).read_text())["report"])
    assert (report["task"], report["round"], report["generator"]) == ("ignored", 1, "offline")
    assert git(repo.bare, "log", "-1", "--format=%s", "main") == "llm-deploy: ignored round 1"
    capsys.readouterr()


# -- once per dispatch (action.rounds): re-runs reuse, superseded rounds change nothing ----------
def test_a_rerun_of_a_committed_dispatch_reuses_it_without_the_model(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    job = job_for("sum-of-sales-601-r1")
    with FakeLLM(api_key=LLM_KEY) as llm:
        first = run_step(repo, job, llm, capsys, dispatch_id="d-1")
        sha = first["outputs"]["commit-sha"]
        trailers = git(repo.bare, "log", "-1", "--format=%(trailers:only)", "main")
        assert "LLM-Deploy-Dispatch: d-1" in trailers and "LLM-Deploy-Round: 1" in trailers
        # A re-run checks out the sha its first attempt saw: the branch before the commit.
        git(repo.work, "reset", "--quiet", "--hard", "HEAD~1")
        again = run_step(repo, job, llm, capsys, dispatch_id="d-1")
        assert len(llm.requests) == 1, "the re-run asked the model"
    assert again["code"] == 0 and again["outputs"]["outcome"] == "reused"
    assert again["outputs"]["commit-sha"] == sha == git(repo.bare, "rev-parse", "main")
    assert git(repo.work, "rev-parse", "HEAD") == sha  # the tree that will be deployed
    assert again["report"]["dispatch"] == "d-1" and again["report"]["files_written"] == []


def test_a_round_that_lands_while_this_one_generates_is_not_overwritten(
    repo: Repo, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    other = tmp_path / "other"
    git(tmp_path, "clone", "--quiet", str(repo.bare), str(other))

    def land_a_later_round(request: dict[str, Any]) -> str:
        (other / "index.html").write_text("round 2 by a later run")
        git(other, "add", "-A")
        git(
            other,
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "--quiet",
            "-m",
            "llm-deploy: t round 2\n\nLLM-Deploy-Dispatch: d-2\nLLM-Deploy-Round: 2\n"
            "LLM-Deploy-Run: 9",
        )
        git(other, "push", "--quiet", "origin", "HEAD:main")
        return default_app_answer(request)

    with FakeLLM([land_a_later_round], api_key=LLM_KEY) as llm:
        run = run_step(
            repo,
            job_for("sum-of-sales-601-r1"),
            llm,
            capsys,
            runner_env={"GITHUB_RUN_ID": "5"},
            dispatch_id="d-1",
        )
    landed = git(other, "rev-parse", "HEAD")
    assert run["code"] == 0 and run["outputs"]["outcome"] == "superseded"
    assert run["outputs"]["commit-sha"] == ""
    assert git(repo.bare, "rev-parse", "main") == landed, "the later round was overwritten"
    assert any("round 2 (d-2)" in n for n in run["report"]["notes"])
