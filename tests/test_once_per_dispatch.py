"""Once per dispatch, piece by piece: the plan, the trailers in real git, waiting for earlier runs
through local mode's GitHub-compatible listing, the per-attempt Pages artifact and local re-runs.

The whole flow (a receiver, runs, re-runs) is in tests/test_reruns.py.
"""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from starlette.applications import Starlette
from starlette.routing import Route

from action import earlier_runs, gitops, rounds
from action.rounds import RoundCommit
from receiver.local.builtin_actions import run_builtin
from receiver.local.github_api import LOCAL_API_PREFIX, list_workflow_runs, workflow_runs
from receiver.local.run_model import Masker, RunResult, RunState, StepFailed
from receiver.local.runner import LocalRunner, RerunError
from tests.fakes import openapi_check
from tests.support import START, FakeTime, serve

ROOT = Path(__file__).resolve().parent.parent


def _c(sha: str, dispatch: str, round_: int, run: int | None = None) -> RoundCommit:
    return RoundCommit(sha * 40, dispatch, round_, run)


PLANS = [
    ("empty branch", [], "d1", 1, "7", "generate", None),
    ("own commit is the tip", [_c("a", "d1", 1, 7)], "d1", 1, "7", "reuse", "a"),
    (
        "a newer round follows",
        [_c("b", "d2", 2, 9), _c("a", "d1", 1, 7)],
        "d1",
        1,
        "7",
        "superseded",
        "b",
    ),
    ("not committed, a later round exists", [_c("b", "d2", 2, 9)], "d1", 1, "7", "superseded", "b"),
    (
        "not committed, a later run of the same round",
        [_c("b", "d2", 1, 9)],
        "d1",
        1,
        "7",
        "superseded",
        "b",
    ),
    ("not committed, earlier rounds only", [_c("a", "d0", 1, 3)], "d1", 2, "7", "generate", None),
    (
        "round 1 again by a later manual run",
        [_c("a", "run-3", 1, 3)],
        "run-8",
        1,
        "8",
        "generate",
        None,
    ),
    ("old commits without a run trailer", [_c("a", "d0", 1)], "d1", 1, "7", "generate", None),
    ("a higher round without a run trailer", [_c("b", "d0", 2)], "d1", 1, "7", "superseded", "b"),
    (
        "manual round 1 started after round 2",
        [_c("b", "d2", 2, 5), _c("a", "d1", 1, 4)],
        "run-8",
        1,
        "8",
        "generate",
        None,
    ),
    (
        "re-run of round 1 never committed, round 2 landed",
        [_c("b", "d2", 2, 5)],
        "d1",
        1,
        "4",
        "superseded",
        "b",
    ),
]


@pytest.mark.parametrize(
    ("history", "dispatch", "round_", "run", "action", "sha"),
    [p[1:] for p in PLANS],
    ids=[p[0] for p in PLANS],
)
def test_plan(
    history: list[RoundCommit], dispatch: str, round_: int, run: str, action: str, sha: str | None
) -> None:
    decided = rounds.plan(history, dispatch, round_, run)
    assert decided.action == action
    assert (decided.commit.sha[0] if decided.commit else None) == sha
    if action != "generate":
        assert decided.reason


@pytest.mark.parametrize(
    ("given", "run", "expected"),
    [("d-1", "42", "d-1"), ("", "42", "run-42"), ("", "", "")],
    ids=["input", "run", "neither"],
)
def test_dispatch_identity(given: str, run: str, expected: str) -> None:
    assert rounds.dispatch_identity(given, run) == expected


def test_trailer_lines_need_a_dispatch() -> None:
    assert rounds.trailer_lines("", 1, "7") == []
    assert rounds.trailer_lines("d", 2, "") == ["LLM-Deploy-Dispatch: d", "LLM-Deploy-Round: 2"]


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def _commit(root: Path, name: str, message: str) -> str:
    (root / name).write_text(name)
    _git(root, "add", name)
    _git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message)
    return _git(root, "rev-parse", "HEAD")


def test_trailers_survive_real_git_and_the_history_finds_them(tmp_path: Path) -> None:
    origin, work = tmp_path / "origin.git", tmp_path / "work"
    _git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    _git(tmp_path, "clone", "-q", str(origin), str(work))
    first = _commit(
        work, "a", rounds.with_trailers("llm-deploy: t round 1", rounds.trailer_lines("d1", 1, ""))
    )  # no run id: no trailer
    _commit(work, "b", "a human fix, no trailers")
    third = _commit(
        work,
        "c",
        rounds.with_trailers(
            "llm-deploy: t round 2\n\nBody text: not a trailer block",
            rounds.trailer_lines("run-9", 2, "9"),
        ),
    )
    _git(work, "push", "-q", "origin", "HEAD:main")
    clone = tmp_path / "shallow"
    _git(tmp_path, "clone", "-q", "--depth=1", origin.as_uri(), str(clone))
    tip = gitops.fetch_branch(clone, "main")
    assert tip == third
    assert gitops.round_history(clone, tip) == [
        RoundCommit(third, "run-9", 2, 9),
        RoundCommit(first, "d1", 1, None),
    ]
    assert gitops.fetch_branch(clone, "no-such-branch") is None
    gitops.check_out(clone, first)
    assert (clone / "a").is_file() and not (clone / "c").exists()


# -- waiting for earlier runs, through local mode's listing ---------------------------------
class _Mode:
    def __init__(self, data_dir: Path) -> None:
        self.settings = type("S", (), {"data_dir": data_dir})()


def _listing_app(data_dir: Path) -> Starlette:
    app = Starlette(
        routes=[
            Route(
                f"{LOCAL_API_PREFIX}/repos/{{owner}}/{{repo}}/actions/workflows/{{workflow}}/runs",
                workflow_runs,
            )
        ]
    )
    app.state.mode = _Mode(data_dir)
    return app


def _record(
    runs: Path, run_id: int, state: str, repo: str = "app", workflow: str = "llm-deploy.yml"
) -> None:
    runs.mkdir(parents=True, exist_ok=True)
    (runs / f"{run_id}.json").write_text(
        json.dumps(
            {
                "run_id": run_id,
                "repo": repo,
                "workflow": workflow,
                "state": state,
                "started_at": 1_700_000_000.0 + run_id,
            }
        )
    )


def test_the_local_listing_has_githubs_shape(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    for run_id, state in ((1, "success"), (2, "running"), (3, "queued"), (4, "running")):
        _record(runs, run_id, state)
    _record(runs, 5, "running", repo="other")
    (runs / "6.dispatch.json").write_text("{}")
    body = list_workflow_runs(
        runs,
        base_url="http://h",
        owner="o",
        repo="app",
        workflow="llm-deploy.yml",
        status="in_progress",
    )
    assert [r["id"] for r in body["workflow_runs"]] == [4, 2] and body["total_count"] == 2
    raw = json.dumps(body).encode()
    problems = openapi_check.check_exchange(
        "GET",
        "/repos/o/app/actions/workflows/llm-deploy.yml/runs",
        {"status": "in_progress"},
        {},
        b"",
        200,
        {"content-type": "application/json"},
        raw,
    )
    assert problems == []


def test_a_round_waits_until_earlier_runs_end(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    _record(runs, 1, "success")
    _record(runs, 2, "running")
    _record(runs, 3, "queued")
    _record(runs, 4, "running")  # ours
    _record(runs, 5, "queued")  # later: never waited for
    clock, lines = FakeTime(), list[str]()

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if clock.now - START > 5:
            _record(runs, 2, "success")
        if clock.now - START > 10:
            _record(runs, 3, "failure")

    with serve(_listing_app(tmp_path)) as base, httpx.Client() as http:
        outcome = earlier_runs.wait_for_earlier_runs(
            http,
            api_url=f"{base}{LOCAL_API_PREFIX}",
            repository="o/app",
            workflow_ref="o/app/.github/workflows/llm-deploy.yml@refs/heads/main",
            run_id="4",
            token="t",
            deadline=clock.now + 600,
            clock=clock.clock,
            sleep=sleep,
            log=lines.append,
        )
    assert outcome.runs == [2, 3] and outcome.note == ""
    assert outcome.waited_s > 10 and any("Waiting for earlier run(s) 2, 3" in x for x in lines)


def test_the_wait_ends_at_the_deadline_and_when_the_api_refuses(tmp_path: Path) -> None:
    _record(tmp_path / "runs", 1, "running")
    clock = FakeTime()
    ref = "o/app/.github/workflows/llm-deploy.yml@refs/heads/main"
    with serve(_listing_app(tmp_path)) as base, httpx.Client() as http:

        def wait(api_url: str) -> earlier_runs.WaitOutcome:
            return earlier_runs.wait_for_earlier_runs(
                http,
                api_url=api_url,
                repository="o/app",
                workflow_ref=ref,
                run_id="2",
                token="",
                deadline=clock.now + 60,
                clock=clock.clock,
                sleep=clock.sleep,
                log=lambda _: None,
            )

        late = wait(f"{base}{LOCAL_API_PREFIX}")
        refused = wait(f"{base}/nowhere")
    assert late.runs == [1] and "still in flight at the deadline" in late.note
    assert 60 <= late.waited_s < 80
    assert refused.runs == [] and "HTTP 404" in refused.note and "actions: read" in refused.note


# -- the Pages artifact, per attempt ------------------------------------------------------------
def _state(tmp_path: Path, attempt: int) -> RunState:
    workspace, temp = tmp_path / f"ws{attempt}", tmp_path / f"temp{attempt}"
    workspace.mkdir()
    temp.mkdir()
    (workspace / "index.html").write_text(f"attempt {attempt}")
    return RunState(
        RunResult(7, "app", "llm-deploy.yml", attempt=attempt),
        Masker([]),
        io.StringIO(),
        {},
        {"run_attempt": str(attempt)},
        {},
        workspace,
        temp,
        "",
    )


@pytest.mark.parametrize("per_attempt", [False, True], ids=["one-name", "per-attempt-name"])
def test_deploy_refuses_a_name_two_attempts_uploaded(tmp_path: Path, per_attempt: bool) -> None:
    data = tmp_path / "data"
    for attempt in (1, 2):
        run = _state(tmp_path, attempt)
        name = {"name": f"github-pages-7-{attempt}"} if per_attempt else {}
        run_builtin(
            run, "upload-pages-artifact", {"path": ".", **name}, data_dir=data, pages_url="http://h"
        )
    deploy = {"artifact_name": "github-pages-7-2"} if per_attempt else {}
    if not per_attempt:
        with pytest.raises(
            StepFailed,
            match='Multiple artifacts named "github-pages" were '
            "unexpectedly found for this workflow run",
        ):
            run_builtin(run, "deploy-pages", deploy, data_dir=data, pages_url="http://h")
        return
    out = run_builtin(run, "deploy-pages", deploy, data_dir=data, pages_url="http://h")
    assert out["page_url"] == "http://h/pages/app/"
    assert (data / "sites" / "app" / "index.html").read_text() == "attempt 2"


def test_action_yml_names_the_artifact_per_attempt_and_skips_superseded_rounds() -> None:
    spec = yaml.safe_load((ROOT / "action.yml").read_text())
    steps = {s.get("uses", "").split("@")[0] or s.get("id"): s for s in spec["runs"]["steps"]}
    name = "github-pages-${{ github.run_id }}-${{ github.run_attempt }}"
    assert steps["actions/upload-pages-artifact"]["with"]["name"] == name
    assert steps["actions/deploy-pages"]["with"]["artifact_name"] == name
    for key in ("actions/upload-pages-artifact", "actions/deploy-pages", "notify", "verify-live"):
        assert "steps.generate.outputs.outcome != 'superseded'" in steps[key]["if"], key


# -- local re-runs ------------------------------------------------------------------------------
def _runner(tmp_path: Path) -> LocalRunner:
    return LocalRunner(
        tmp_path, action_path=tmp_path, public_url="http://h", secrets_for=lambda _: {}
    )


@pytest.mark.parametrize(
    ("record", "dispatch", "message"),
    [
        ({"state": "running"}, {"inputs": {}}, "still running"),
        ({"state": "success"}, None, "no dispatch record"),
        ({"state": "failure"}, {"repo": "r", "workflow": "w"}, "inputs were not kept"),
    ],
    ids=["in-flight", "not-dispatched", "no-inputs"],
)
def test_a_rerun_is_refused_when_it_cannot_repeat_the_run(
    tmp_path: Path, record: dict[str, Any], dispatch: dict[str, Any] | None, message: str
) -> None:
    runner = _runner(tmp_path)
    (runner.runs_dir / "3.json").write_text(json.dumps({"run_id": 3, **record}))
    if dispatch is not None:
        (runner.runs_dir / "3.dispatch.json").write_text(json.dumps(dispatch))
    with pytest.raises(RerunError, match=message):
        runner.start_rerun(3)


def test_a_rerun_claims_the_next_attempt_once(tmp_path: Path) -> None:
    runner = _runner(tmp_path)
    runs = runner.runs_dir
    (runs / "3.json").write_text(json.dumps({"run_id": 3, "state": "failure", "attempt": 1}))
    (runs / "3.dispatch.json").write_text(
        json.dumps({"repo": "r", "workflow": "llm-deploy.yml", "inputs": {"round": "2"}})
    )
    assert runner.start_rerun(3) == ("r", "llm-deploy.yml", {"round": "2"}, 2)
    assert json.loads((runs / "3.json").read_text())["state"] == "queued"
    assert json.loads((runs / "3.attempt-1.json").read_text())["state"] == "failure"
    with pytest.raises(RerunError, match="still queued"):
        runner.start_rerun(3)
