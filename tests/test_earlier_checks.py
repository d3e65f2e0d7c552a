"""A later round re-runs the earlier rounds' checks: kept, lost, and "this passed before"."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from action import earlier_checks, generate, verify
from action.browser import find_chromium
from action.checks import js_failure
from action.job import Check, Job
from action.payload import encode_key, seal
from action.settings import ActionSettings
from tests.fakes.llm import FakeLLM

KEY = bytes(range(32))
LLM_KEY = "sk-fake-llm-key-earlier"
needs_chromium = pytest.mark.skipif(find_chromium() is None, reason="apt-get install chromium")


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def round_two(checks: list[Check], previous: list[Check]) -> Job:
    return Job(task="sales", round=2, brief="Add a chart.", checks=checks, previous_checks=previous)


# -- the pure parts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("checks", "previous", "earlier", "guarded"),
    [
        ([], [], [], []),
        (["js: a"], ["js: a", "js: b"], ["js: b"], ["b"]),
        (["a === 1"], [{"js": "a === 1"}, "js: b === 2"], ["js: b === 2"], ["b === 2"]),
        ([], ["js: b", "js: b", "The page is tidy"], ["js: b", "The page is tidy"], ["b"]),
    ],
    ids=["none", "repeated-check-is-current", "same-check-other-spelling", "sentences-unguarded"],
)
def test_which_earlier_checks_are_guarded(
    checks: list[Check], previous: list[Check], earlier: list[Check], guarded: list[str]
) -> None:
    job = round_two(checks, previous)
    assert earlier_checks.earlier_only(job) == earlier
    assert earlier_checks.guarded_sources(job) == guarded
    assert earlier_checks.baseline_job(job).checks == [c for c in earlier if "js" in str(c)]
    assert earlier_checks.combined_job(job).checks[: len(checks)] == checks


@dataclass
class Result:
    """A verification result as ``action.verify.VerifyReport`` shapes it."""

    js: dict[str, str]  # source -> status
    static_failures: list[str]

    @property
    def failed_checks(self) -> list[str]:
        return self.static_failures + [s for s, st in self.js.items() if st in ("fail", "error")]

    @property
    def failures(self) -> list[str]:
        lines = [f"Static check failed: {n} — x" for n in self.static_failures]
        for source, status in self.js.items():
            if line := js_failure(source, status, "returned false"):
                lines.append(line)
        return [*lines, "Page error: boom"] if lines else []

    def to_dict(self) -> dict[str, Any]:
        rows = [{"check": s, "status": st, "detail": "returned false"} for s, st in self.js.items()]
        return {"js": rows, "static": []}


LOST, KEPT, FAILING = "lost === 1", "kept === 1", "failing === 1"


@pytest.mark.parametrize(
    ("js", "failed", "lines"),
    [
        (
            {"new === 1": "pass", LOST: "fail", KEPT: "pass", FAILING: "fail"},
            [LOST],
            [
                f"Earlier round's check ({earlier_checks.KEEP_IT}): "
                + js_failure(LOST, "fail", "returned false"),
                "Page error: boom",
            ],
        ),
        ({"new === 1": "pass", LOST: "pass", KEPT: "pass", FAILING: "fail"}, [], []),
        (
            {"new === 1": "error", LOST: "pass", KEPT: "pass", FAILING: "error"},
            ["new === 1"],
            [js_failure("new === 1", "error", "returned false"), "Page error: boom"],
        ),
    ],
    ids=["lost-is-a-failure-worded-to-keep", "failing-before-is-excused", "new-check-fails"],
)
def test_guarded_results(js: dict[str, str], failed: list[str], lines: list[str]) -> None:
    guarded = earlier_checks.Guarded(
        Result(js, []), frozenset({LOST, KEPT, FAILING}), frozenset({LOST, KEPT})
    )
    assert guarded.failed_checks == failed
    assert guarded.failures == lines
    doc = guarded.to_dict()
    assert [r["check"] for r in doc["js"]] == ["new === 1"]  # this round's rows only
    assert {r["check"]: r["passed_before"] for r in doc["earlier"]} == {
        LOST: True,
        KEPT: True,
        FAILING: False,
    }


def test_summary_lists_kept_lost_and_unguarded() -> None:
    job = round_two([], [f"js: {LOST}", f"js: {KEPT}", f"js: {FAILING}", "Tidy page"])
    kept = earlier_checks.Guarded(
        Result({LOST: "error", KEPT: "pass", FAILING: "pass"}, []),
        frozenset({LOST, KEPT, FAILING}),
        frozenset({LOST, KEPT}),
    )
    report = earlier_checks.summary(job, kept, frozenset({LOST, KEPT}))
    assert (report.kept, report.lost) == ([KEPT], [LOST])
    assert report.unguarded == [FAILING, "Tidy page"]
    unverified = earlier_checks.summary(job, None, frozenset())
    assert unverified.kept == unverified.lost == [] and len(unverified.unguarded) == 4


# -- the generate step, with a verifier that reads markers ----------------------------------------


@pytest.fixture
def work(tmp_path: Path) -> Iterator[Path]:
    """A clone of a bare origin where round 1 left a page with the markers R1 and OLD."""
    bare, work = tmp_path / "origin.git", tmp_path / "work"
    git(tmp_path, "init", "--quiet", "--bare", "-b", "main", str(bare))
    git(tmp_path, "clone", "--quiet", str(bare), str(work))
    (work / "index.html").write_text("<title>Sales</title><p>R1 OLD</p>\n")
    (work / "README.md").write_text("# Sales\n\n## Summary\nRound one.\n")
    git(work, "add", "-A")
    git(work, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", "round 1")
    git(work, "push", "--quiet", "origin", "HEAD:main")
    yield work


class MarkerVerifier:
    """``has('X')`` passes when index.html contains X; records every job it was asked about."""

    def __init__(self) -> None:
        self.jobs: list[tuple[str, list[str]]] = []

    def _run(self, kind: str, root: Path, job: Job) -> Result:
        html = (root / "index.html").read_text() if (root / "index.html").exists() else ""
        sources = [str(c).removeprefix("js: ") for c in job.checks]
        self.jobs.append((kind, sources))
        marker = {s: s.split("'")[1] for s in sources}
        return Result({s: "pass" if marker[s] in html else "fail" for s in sources}, [])

    def __call__(self, root: Path, job: Job) -> Result:
        return self._run("verify", root, job)

    def baseline(self, root: Path, job: Job) -> Result:
        return self._run("baseline", root, job)


def settings_for(work: Path, job: Job, **extra: Any) -> ActionSettings:
    return ActionSettings(
        workspace=str(work),
        repository="Student/sales",
        payload=seal(job, KEY),
        payload_key=encode_key(KEY),
        **extra,
    )


def test_a_lost_check_goes_back_to_the_model_as_passed_before(work: Path) -> None:
    job = round_two(["js: has('R2')"], ["js: has('R1')", "js: has('OLD')", "js: has('NEVER')"])
    verifier = MarkerVerifier()
    # The revision drops R1 (lost) and OLD (lost); the repair restores R1 only.
    answers = [
        '<file path="index.html"><title>Sales</title><p>R2</p></file>',
        '<edit path="index.html"><search><p>R2</p></search><replace><p>R2 R1</p></replace></edit>',
        '<file path="index.html"><title>Sales</title><p>R2 R1</p></file>',
    ]
    with FakeLLM(answers, api_key=LLM_KEY) as llm, httpx.Client() as http:
        s = settings_for(
            work, job, llm_api_key=llm.api_key, llm_base_url=llm.base_url, repair_rounds=2
        )
        report = generate.run(s, http=http, verifier=verifier).to_json()
        asked = [r.json["messages"] for r in llm.requests]
    # The baseline ran the earlier checks on round 1's page, before anything was written.
    assert verifier.jobs[0] == ("baseline", ["has('R1')", "has('OLD')", "has('NEVER')"])
    assert verifier.jobs[1] == ("verify", ["has('R2')", "has('R1')", "has('OLD')", "has('NEVER')"])
    first_prompt = asked[0][-1]["content"]
    assert "Checks of the earlier rounds" in first_prompt and "has('NEVER')" in first_prompt
    repair_prompt = asked[1][-1]["content"]
    assert f"Earlier round's check ({earlier_checks.KEEP_IT}): JavaScript check `has('R1')`" in (
        repair_prompt
    )
    assert "has('NEVER')" not in repair_prompt  # it never passed: not this round's to fix
    assert report["earlier_checks"] == {
        "kept": ["has('R1')"],
        "lost": ["has('OLD')"],
        "unguarded": ["has('NEVER')"],
    }
    assert report["verdict"] == "fail" and report["failures"][0].startswith("Earlier round's")
    assert any("1 earlier-round check(s) passed before" in n for n in report["notes"])
    assert "baseline" in report["timings"]
    assert [r["failed"] for r in report["verification_rounds"]] == [2, 1, 1]


def test_offline_round_two_keeps_round_one_and_its_checks(work: Path) -> None:
    job = round_two(["js: has('Add a chart')"], ["js: has('R1')", "js: has('OLD')"])
    verifier = MarkerVerifier()
    report = generate.run(settings_for(work, job), http=httpx.Client(), verifier=verifier)
    doc = report.to_json()
    assert doc["generator"] == "offline"
    assert doc["earlier_checks"] == {
        "kept": ["has('R1')", "has('OLD')"],
        "lost": [],
        "unguarded": [],
    }
    page = (work / "index.html").read_text()
    assert page.startswith("<title>Sales</title><p>R1 OLD</p>") and "Add a chart." in page
    assert doc["verdict"] == "pass"


def test_without_a_verifier_the_earlier_checks_are_reported_unguarded(work: Path) -> None:
    job = round_two([], ["js: has('R1')"])
    report = generate.run(settings_for(work, job), http=httpx.Client()).to_json()
    assert report["earlier_checks"] == {"kept": [], "lost": [], "unguarded": ["has('R1')"]}
    assert "verdict" not in report


# -- with Chromium: one browser for the baseline and every version --------------------------------


@pytest.mark.browser
@needs_chromium
def test_real_browser_baseline_and_regression(
    work: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(verify, "SETTLE_MS", 500)
    job = round_two(["js: !!document.querySelector('#chart')"], ["js: document.title === 'Sales'"])
    renamed = '<file path="index.html"><title>Chart</title><div id="chart"></div></file>'
    fixed = '<file path="index.html"><title>Sales</title><div id="chart"></div></file>'
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    with (
        FakeLLM([renamed, fixed], api_key=LLM_KEY) as llm,
        httpx.Client() as http,
        verify.Session(artifacts=artifacts) as session,
    ):
        s = settings_for(work, job, llm_api_key=llm.api_key, llm_base_url=llm.base_url)
        report = generate.run(s, http=http, verifier=session).to_json()
        repair_prompt = json.dumps(llm.requests[1].json)
    assert earlier_checks.KEEP_IT in repair_prompt and "document.title === 'Sales'" in repair_prompt
    assert report["earlier_checks"]["kept"] == ["document.title === 'Sales'"]
    assert report["verdict"] == "pass" and report["kept_round"] == 1
    # The baseline takes no screenshot: the numbered ones are the verified versions.
    shots = sorted(p.name for p in artifacts.glob("*.png"))
    assert shots == ["screenshot-round-0.png", "screenshot-round-1.png"]
    assert session.calls == 2
