"""The verify/repair loop: its pure core with scripted verifications, then the real generate step
(temp working copy, local bare origin, scripted FakeLLM, Debian's Chromium) end to end."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from action import generate, live_checks, verify
from action.browser import find_chromium, serve
from action.errors import LLMError
from action.job import Job
from action.payload import encode_key, seal
from action.repair import Limits, notes, repair_loop, verification_report
from receiver.local.run_model import parse_env_file

KEY = bytes(range(32))
LLM_KEY = "sk-fake-llm-key-repair"
GITHUB_TOKEN = "ghs_fake_github_token_repair"
EMAIL = "student-private@example.com"
CHROMIUM = find_chromium()
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="apt-get install chromium")


# -- the pure loop -----------------------------------------------------------------------------


@dataclass
class Version:
    failed_checks: list[str]

    @property
    def failures(self) -> list[str]:
        return [f"{c} failed" for c in self.failed_checks]

    def to_dict(self) -> dict[str, Any]:
        return {"js": [{"check": c, "status": "fail"} for c in self.failed_checks], "skipped": ""}


@dataclass
class Script:
    """Versions the checker returns in turn; `fix` moves on, spending `cost` tokens each."""

    versions: list[list[str]]
    cost: int = 100
    fail_at: int = 0  # the repair (1-based) whose model call raises
    spent: int = 0
    on_disk: int = 0
    sent: list[list[str]] = field(default_factory=list)

    def check(self) -> Version:
        return Version(self.versions[self.on_disk])

    def fix(self, failures: list[str]) -> list[str]:
        self.sent.append(failures)
        self.spent += self.cost
        if len(self.sent) == self.fail_at:
            raise LLMError("the gateway said no")
        self.on_disk += 1
        return ["index.html"]

    def restore(self, state: int) -> None:
        self.on_disk = state


LOOP_CASES = [
    # versions (failing checks per round), limits, cost, fail_at → repairs, kept, stopped, disk
    ([[]], Limits(2), 100, 0, 0, 0, "no check fails", 0),
    ([["a"], []], Limits(2), 100, 0, 1, 1, "no check fails", 1),
    ([["a"], ["a"], ["a"]], Limits(2), 100, 0, 2, 0, "reached the bound of 2", 0),
    ([["a"], ["a", "b"], ["b"]], Limits(2), 100, 0, 2, 0, "reached the bound of 2", 0),
    ([["a", "b"], ["a"], ["a", "b", "c"]], Limits(2), 100, 0, 2, 1, "reached the bound", 1),
    ([["a"], ["a"], ["a"]], Limits(5, token_budget=250), 100, 0, 2, 0, "token budget (250)", 0),
    ([["a"], []], Limits(2, token_budget=50), 100, 0, 0, 0, "token budget (50)", 0),
    ([["a"], []], Limits(0), 100, 0, 0, 0, "reached the bound of 0", 0),
    ([["a"], ["b"], []], Limits(2), 100, 2, 2, 0, "repair round 2 failed", 0),
]


@pytest.mark.parametrize(
    ("versions", "limits", "cost", "fail_at", "repairs", "kept", "stopped", "disk"),
    LOOP_CASES,
    ids=[
        "passes-at-once",
        "fixed-in-one",
        "never-fixed",
        "worse-then-equal",
        "better-then-worse",
        "budget-stops-third",
        "budget-below-first-estimate",
        "zero-rounds",
        "model-error",
    ],
)
def test_repair_loop(
    versions: list[list[str]],
    limits: Limits,
    cost: int,
    fail_at: int,
    repairs: int,
    kept: int,
    stopped: str,
    disk: int,
) -> None:
    script = Script(versions, cost=cost, fail_at=fail_at)
    outcome = repair_loop(
        script.check,
        script.fix,
        tokens=lambda: script.spent,
        snapshot=lambda: script.on_disk,
        restore=script.restore,
        limits=limits,
        first_estimate=cost,
    )
    assert (len(outcome.repairs), outcome.best, script.on_disk) == (repairs, kept, disk)
    assert stopped in outcome.stopped
    assert script.sent == [[f"{c} failed" for c in versions[i]] for i in range(len(script.sent))]
    section = verification_report(outcome, limits)
    assert [r.round for r in section.rounds] == list(range(len(outcome.versions)))
    fields = section.to_json()
    assert all(c["round"] == kept for c in fields["checks"]) and fields["kept_round"] == kept
    assert fields["repair_tokens"] == section.repair_tokens == cost * len(script.sent)
    assert fields["verdict"] == ("fail" if versions[kept] else "pass")
    assert any("still fail" in n for n in notes(outcome)) == bool(versions[kept])


def test_no_model_means_no_repair() -> None:
    script = Script([["a"], []])
    outcome = repair_loop(
        script.check,
        None,
        tokens=lambda: 0,
        snapshot=lambda: 0,
        restore=script.restore,
        limits=Limits(),
    )
    assert outcome.repairs == [] and outcome.stopped == "no model to repair with"


# -- the real generate step, with Chromium -----------------------------------------------------


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)
    return done.stdout.strip()


@dataclass
class Repo:
    bare: Path
    work: Path
    temp: Path


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Repo]:
    """A clone whose origin is a local bare repo, and a RUNNER_TEMP."""
    monkeypatch.setattr(verify, "SETTLE_MS", 700)  # the test pages settle at once
    bare, work = tmp_path / "origin.git", tmp_path / "work"
    git(tmp_path, "init", "--quiet", "--bare", "-b", "main", str(bare))
    git(tmp_path, "clone", "--quiet", str(bare), str(work))
    (work / "seed.txt").write_text("seed\n")
    git(work, "add", "-A")
    git(work, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", "seed")
    git(work, "push", "--quiet", "origin", "HEAD:main")
    yield Repo(bare, work, tmp_path / "runner-temp")


def page(title: str, body: str = "") -> str:
    html = f"<!doctype html><html><head><title>{title}</title></head><body>{body}</body></html>"
    return f'<file path="index.html">{html}</file>'


def generate_with(
    repo: Repo, job: Job, script: list[str], capsys: pytest.CaptureFixture[str], **inputs: str
) -> dict[str, Any]:
    from tests.fakes.llm import FakeLLM

    repo.temp.mkdir(exist_ok=True)
    env = {
        "GITHUB_WORKSPACE": str(repo.work),
        "GITHUB_REPOSITORY": "Student/" + job.task,
        "GITHUB_OUTPUT": str(repo.temp / "output"),
        "GITHUB_STEP_SUMMARY": str(repo.temp / "summary"),
        "RUNNER_TEMP": str(repo.temp),
        "INPUT_PAYLOAD": seal(job, KEY),
        "INPUT_PAYLOAD_KEY": encode_key(KEY),
        "INPUT_GITHUB_TOKEN": GITHUB_TOKEN,
        "INPUT_VERIFY": "true",
        **{"INPUT_" + k.upper(): v for k, v in inputs.items()},
    }
    with FakeLLM(script, default=lambda r: page("Fallback"), api_key=LLM_KEY) as llm:
        env.update(INPUT_LLM_API_KEY=llm.api_key, INPUT_LLM_BASE_URL=llm.base_url)
        code = generate.main([], env)
        asked = [json.dumps(r.json) for r in llm.requests]
    logs = capsys.readouterr().out
    report = json.loads((repo.temp / "llm-deploy" / "report.json").read_text())
    summary = (repo.temp / "summary").read_text()
    for text in (
        summary,
        json.dumps(report),
        *(ln for ln in logs.splitlines() if "mask" not in ln),
    ):
        for secret in (EMAIL, LLM_KEY, GITHUB_TOKEN, job.brief):
            assert secret not in text
    outputs = parse_env_file((repo.temp / "output").read_text())
    assert code == 0, summary
    # Whatever the checks say, the run commits and pushes.
    assert outputs["commit-sha"] == git(repo.bare, "rev-parse", "main")
    return {"report": report, "summary": summary, "asked": asked, "logs": logs}


def job_with(checks: list[str | dict[str, str]]) -> Job:
    brief = "Private brief: a page whose title is Fixed, and a #total showing 42."
    return Job(task="repair-demo", round=1, brief=brief, email=EMAIL, checks=checks)


FIX_CASES = [
    # check, first answer, its status, what the repair prompt quotes
    ("js: document.title === 'Fixed'", page("Draft"), "fail", "was falsy: it returned false"),
    ("document.title === 'Fixed'", page("Draft"), "fail", "was falsy"),
    (
        "js: document.querySelector('#total').textContent.includes('42')",
        page("Fixed"),
        "error",
        "threw: TypeError: Cannot read properties of null",
    ),
]


@pytest.mark.browser
@needs_chromium
@pytest.mark.parametrize(
    ("check", "first", "status", "quoted"), FIX_CASES, ids=["js-prefix", "bare", "throws"]
)
def test_first_answer_fails_and_the_repair_fixes_it(
    repo: Repo,
    capsys: pytest.CaptureFixture[str],
    check: str,
    first: str,
    status: str,
    quoted: str,
) -> None:
    fixed = page("Fixed", '<p id="total">42</p>')
    run = generate_with(repo, job_with([check, "The page looks tidy"]), [first, fixed], capsys)
    report, summary = run["report"], run["report"]
    assert len(run["asked"]) == 2 and quoted in run["asked"][1]
    rounds = report["verification_rounds"]
    source = check.removeprefix("js: ")
    results = [{c["check"]: c["result"] for c in r["checks"]}[source] for r in rounds]
    assert results == [status, "pass"]
    assert report["verdict"] == "pass" and report["kept_round"] == 1
    assert report["repairs"][0]["round"] == 1 and report["repairs"][0]["files_changed"] == [
        "index.html"
    ]
    assert report["repairs"][0]["tokens"] > 0 and report["tokens"]["prompt"] > 0
    assert quoted in report["repairs"][0]["failures_sent"][0]
    kept = {c["check"]: (c["result"], c["round"]) for c in report["checks"]}
    assert kept[source] == ("pass", 1) and kept["The page looks tidy"] == ("not run", 1)
    summary = run["summary"]
    assert "| kind | check | round 0 | round 1 (kept) |" in summary
    assert f"| js | {source} | {status} | pass |" in summary and "All checks pass." in summary
    assert '<p id="total">42</p>' in git(repo.bare, "show", "main:index.html")
    shots = sorted(p.name for p in (repo.temp / "llm-deploy").glob("*.png"))
    assert shots == ["screenshot-round-0.png", "screenshot-round-1.png"]
    assert report["verification"]["screenshot"] == "screenshot-round-1.png"


@pytest.mark.browser
@needs_chromium
def test_never_fixed_stops_at_the_bound_and_still_ships(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    check = "js: document.title === 'Fixed'"
    answers = [page("Draft one"), page("Draft two"), page("Draft three")]
    run = generate_with(repo, job_with([check]), answers, capsys, repair_rounds="2")
    report = run["report"]
    assert len(run["asked"]) == 3  # the answer and two repairs, then it stops
    assert [r["failed"] for r in report["verification_rounds"]] == [1, 1, 1]
    assert report["repair_rounds"] == 2 and report["verdict"] == "fail"
    assert report["repair_stopped"] == "reached the bound of 2 repair round(s)"
    assert report["kept_round"] == 0  # a tie keeps the earliest version, restored on disk
    assert "<title>Draft one</title>" in git(repo.bare, "show", "main:index.html")
    assert any("still fail after 2 repair round(s)" in n for n in report["notes"])
    assert "Some checks still fail; the app was committed and deployed anyway." in run["summary"]
    assert "| js | document.title === 'Fixed' | fail | fail | fail |" in run["summary"]


def test_static_only_checks_launch_no_browser_and_respect_the_token_budget(
    repo: Repo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_browser(*args: object, **kwargs: object) -> None:
        raise AssertionError("no JavaScript check, so no browser may start")

    monkeypatch.setattr(verify, "launch", no_browser)
    job = Job(
        task="static-demo",
        round=1,
        brief="Commit data.json with the totals.",
        email=EMAIL,
        checks=["The README is professional"],
    )
    with_data = page("T") + '<file path="data.json">{"total": 1}</file>'
    run = generate_with(repo, job, [page("T"), with_data], capsys)
    rounds = run["report"]["verification_rounds"]
    assert [r["failed"] for r in rounds] == [1, 0] and run["report"]["verdict"] == "pass"
    assert run["report"]["verification"]["js"] == []
    assert "missing: data.json" in run["asked"][1]
    (repo.work / "data.json").unlink()
    git(repo.work, "commit", "--quiet", "-am", "drop data")
    git(repo.work, "push", "--quiet", "origin", "HEAD:main")
    broke = generate_with(repo, job, [page("T"), with_data], capsys, repair_token_budget="10")
    assert len(broke["asked"]) == 1 and broke["report"]["repair_rounds"] == 0
    assert "repair token budget (10) would be exceeded" in broke["report"]["repair_stopped"]


@pytest.mark.browser
@needs_chromium
def test_live_checks_against_a_served_page(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site, temp = tmp_path / "site", tmp_path / "temp"
    site.mkdir()
    (site / "index.html").write_text("<title>Live</title><h1>hi</h1>")
    (temp / "llm-deploy").mkdir(parents=True)
    (temp / "llm-deploy" / "report.json").write_text('{"task": "t", "verdict": "pass"}')
    env = {"RUNNER_TEMP": str(temp), "GITHUB_STEP_SUMMARY": str(tmp_path / "summary")}
    checks = [
        "--check",
        "js: document.title === 'Live'",
        "--check",
        "!!document.querySelector('h2')",
    ]
    with serve(site) as base:
        assert live_checks.main(["--url", base, *checks], env) == 0  # informational
    out = capsys.readouterr().out
    assert "::warning::A check fails on the deployed page: !!document.querySelector('h2')" in out
    report = json.loads((temp / "llm-deploy" / "report.json").read_text())
    assert report["task"] == "t" and report["live_checks"]["url"] == base
    assert report["live_checks"]["verdict"] == "fail"
    got = {c["check"]: c["result"] for c in report["live_checks"]["checks"]}
    assert got == {"document.title === 'Live'": "pass", "!!document.querySelector('h2')": "fail"}
    assert (temp / "llm-deploy" / "screenshot-live.png").is_file()
    summary = (tmp_path / "summary").read_text()
    assert f"### Checks on the deployed page ({base})" in summary
    assert "| document.title === 'Live' | pass | returned true |" in summary


def test_live_checks_without_a_browser_are_skipped_not_failed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {"RUNNER_TEMP": str(tmp_path)}
    argv = ["--url", "http://127.0.0.1:9/", "--check", "js: 1 === 1", "--strict"]
    assert live_checks.main([*argv, "--chromium", str(tmp_path / "no-chrome")], env) == 0
    assert "::warning::Checks on the deployed page were skipped" in capsys.readouterr().out
    live = json.loads((tmp_path / "llm-deploy" / "report.json").read_text())["live_checks"]
    assert live["verdict"] == "incomplete" and live["checks"][0]["result"] == "skipped"
