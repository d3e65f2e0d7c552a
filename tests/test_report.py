"""Report: $GITHUB_OUTPUT forms, the summary table, masks, redaction, the JSON report."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from action.check_report import (
    CheckRow,
    EarlierChecks,
    LiveChecks,
    Repair,
    Verification,
    VerifiedRound,
)
from action.report import (
    finish,
    mask,
    redact,
    save_report,
    step_summary,
    write_outputs,
)
from action.run_report import ImageInputs, LlmUsage, NotifyReport, RunReport
from action.settings import ActionSettings
from receiver.local.run_model import parse_env_file

REPORT = {
    "task": "Analyze",
    "round": 1,
    "generator": "llm",
    "models": ["gpt-4.1-mini"],
    "tokens": {"prompt": 1200, "completion": 800},
    "cost_usd": 0.00176,
    "files_written": ["index.html", "execute.py"],
    "files_refused": [[".github/workflows/ci.yml", "needs a push token with workflow permission"]],
    "notes": ["Workflow files were skipped: no push token."],
    "checks": [{"kind": "js", "check": "document.title === 'x'", "result": "pass"}],
    "timings": {"generate": 12.345, "commit": 0.5},
    "page_url": "https://o.github.io/r/",
    "commit_sha": "abc123",
}


@pytest.mark.parametrize(
    "outputs",
    [
        {"commit-sha": "abc"},
        {"report": '{"a": 1}', "multi": "line one\nline two"},
        {"empty": ""},
    ],
    ids=["single", "multiline", "empty"],
)
def test_outputs_round_trip(tmp_path: Path, outputs: dict[str, str]) -> None:
    path = tmp_path / "out"
    path.write_text("earlier=1\n")
    write_outputs(path, outputs)
    assert parse_env_file(path.read_text()) == {"earlier": "1", **outputs}
    if "multi" in outputs:
        assert "multi<<ghadelimiter_" in path.read_text()


def test_summary_table_holds_the_run_at_a_glance() -> None:
    text = step_summary(RunReport.from_json(REPORT))
    for expected in (
        "| Task | Analyze |",
        "| Round | 1 |",
        "gpt-4.1-mini",
        "1200 / 800",
        "$0.0018",
        "`index.html`",
        "| `.github/workflows/ci.yml` | needs a push token with workflow permission |",
        "Workflow files were skipped",
        "| js | document.title === 'x' | pass |",
        "| generate | 12.3 |",
        "[https://o.github.io/r/](https://o.github.io/r/)",
    ):
        assert expected in text


def test_summary_escapes_table_breakers() -> None:
    text = step_summary(
        RunReport.from_json(
            {**REPORT, "checks": [{"kind": "js", "check": "a | b\nc", "result": "fail"}]}
        )
    )
    assert "| js | a \\| b c | fail |" in text


def test_mask_writes_one_line_per_value_line() -> None:
    out = io.StringIO()
    mask("secret-one\n\nsecret-two", out)
    assert out.getvalue() == "::add-mask::secret-one\n::add-mask::secret-two\n"


@pytest.mark.parametrize(
    ("text", "secrets", "expected"),
    [
        ("token abc123 here", ["abc123"], "token *** here"),
        ("abcdef and abc", ["abc", "abcdef"], "*** and ***"),
        ("nothing", ["", "zzz"], "nothing"),
    ],
    ids=["simple", "longest-first", "empty-secret"],
)
def test_redact(text: str, secrets: list[str], expected: str) -> None:
    assert redact(text, secrets) == expected


def test_save_report_in_runner_temp(tmp_path: Path) -> None:
    path = save_report(REPORT, tmp_path / "temp")
    assert path == tmp_path / "temp" / "llm-deploy" / "report.json"
    assert json.loads(path.read_text())["commit_sha"] == "abc123"


def test_finish_never_leaks_secrets(tmp_path: Path) -> None:
    brief = 'Build "Secret Plan" app\nwith two lines'
    secrets = ["s@example.com", "https://eval.example/notify", brief, "sk-llm-key"]
    leaky = {
        **REPORT,
        "error": "failed for s@example.com at https://eval.example/notify",
        "notes": [f"echo: {brief}", "key sk-llm-key"],
    }
    settings = ActionSettings(
        output_path=str(tmp_path / "out"),
        summary_path=str(tmp_path / "summary"),
        runner_temp=str(tmp_path / "temp"),
    )
    finish(settings, RunReport.from_json(leaky), secrets)
    outputs = parse_env_file((tmp_path / "out").read_text())
    assert outputs["commit-sha"] == "abc123" and outputs["page-url"] == "https://o.github.io/r/"
    written = [
        (tmp_path / "out").read_text(),
        (tmp_path / "summary").read_text(),
        (tmp_path / "temp" / "llm-deploy" / "report.json").read_text(),
    ]
    for text in written:
        for secret in (*secrets, "Secret Plan"):
            assert secret not in text
        assert "***" in text


def _round(n: int, title: str, license_: str = "pass") -> dict[str, object]:
    return {
        "round": n,
        "failed": [title, license_].count("fail"),
        "checks": [
            {"kind": "static", "check": "LICENSE is MIT", "result": license_, "detail": ""},
            {"kind": "js", "check": "document.title === 'x'", "result": title, "detail": ""},
        ],
    }


REPAIRED = {
    **REPORT,
    "verdict": "pass",
    "kept_round": 1,
    "verification_rounds": [_round(0, "fail"), _round(1, "pass")],
    "repairs": [
        {
            "round": 1,
            "failures_sent": ["JavaScript check `document.title === 'x'` was falsy"],
            "files_changed": ["index.html"],
            "tokens": 321,
            "error": "",
        }
    ],
    "repair_tokens": 321,
    "repair_token_budget": 60000,
    "repair_stopped": "no check fails",
}


@pytest.mark.parametrize(
    ("report", "expected", "absent"),
    [
        (
            REPAIRED,
            [
                "All checks pass.",
                "| kind | check | round 0 | round 1 (kept) |",
                "| js | document.title === 'x' | fail | pass |",
                "| static | LICENSE is MIT | pass | pass |",
                "| 1 | JavaScript check `document.title === 'x'` was falsy | index.html | 321 |",
                "Stopped: no check fails. Repair tokens: 321 of 60000.",
            ],
            ["still fail"],
        ),
        (
            {
                **REPAIRED,
                "verdict": "fail",
                "kept_round": 0,
                "verification_rounds": [_round(0, "fail"), _round(1, "fail", "fail")],
                "repair_stopped": "reached the bound of 1 repair round(s)",
            },
            [
                "Some checks still fail; the app was committed and deployed anyway.",
                "| kind | check | round 0 (kept) | round 1 |",
                "| static | LICENSE is MIT | pass | fail |",
                "Stopped: reached the bound of 1 repair round(s).",
            ],
            ["All checks pass."],
        ),
        (
            {
                **REPORT,
                "live_checks": {
                    "url": "https://o.github.io/r/",
                    "checks": [{"check": "1 === 2", "result": "fail", "detail": "returned false"}],
                },
            },
            [
                "### Checks on the deployed page (https://o.github.io/r/)",
                "| 1 === 2 | fail | returned false |",
            ],
            ["### Repairs"],
        ),
        (
            {**REPORT, "earlier_checks": {"kept": ["1 === 1"], "lost": ["2 === 2"]}},
            [
                "### Earlier rounds' checks",
                "| 1 === 1 | kept |",
                "| 2 === 2 | **lost** (passed before this round) |",
            ],
            ["not guarded"],
        ),
    ],
    ids=["repaired", "never-fixed", "live", "earlier"],
)
def test_summary_shows_rounds_repairs_and_live_checks(
    report: dict[str, object], expected: list[str], absent: list[str]
) -> None:
    text = step_summary(RunReport.from_json(report))
    for line in expected:
        assert line in text
    for line in absent:
        assert line not in text


FULL = RunReport(
    task="Analyze",
    round=2,
    generator="llm",
    model="gpt-4.1-mini",
    offline_reason="not really offline",
    files_written=["index.html"],
    files_refused=[(".github/workflows/ci.yml", "needs a push token")],
    notes=["a note"],
    attachments=["data.csv"],
    timings={"generate": 1.5},
    usage=LlmUsage(["gpt-4.1-mini"], 100, 50, 0.0012, 2),
    verification=Verification(
        verdict="fail",
        kept_round=1,
        checks=[CheckRow("js", "1 === 2", "fail", "returned false")],
        rounds=[
            VerifiedRound(0, 1, [CheckRow("js", "1 === 2", "fail", "returned false")]),
            VerifiedRound(1, 1, [CheckRow("js", "1 === 2", "fail", "returned false")]),
        ],
        repairs=[Repair(1, ["1 === 2 was falsy"], ["index.html"], 321, "")],
        repair_token_budget=60000,
        stopped="reached the bound of 1 repair round(s)",
        failures=["1 === 2 was falsy"],
        detail={"passed": False, "skipped": ""},
    ),
    commit_sha="abc123",
    page_url="https://o.github.io/r/",
    pages_by=[".github/workflows/pages.yml"],
    error="it broke",
    live_checks=LiveChecks(
        "https://o.github.io/r/",
        "pass",
        [CheckRow("js", "1 === 1", "pass", "returned true")],
        "",
        ["TypeError: x"],
        1.25,
    ),
    # Only what the notify step writes into report.json (task, round, commit are the report's).
    notify=NotifyReport(
        page_url="https://o.github.io/r/",
        page_served=True,
        page_wait_s=2.5,
        notified="HTTP 200 after 1 attempt(s)",
        status=200,
        accepted_at=1_700_000_000.5,
        deployment="succeed",
        error="late",
    ),
    earlier_checks=EarlierChecks(["1 === 1"], ["2 === 2"], ["The page is tidy"]),
    image_inputs=ImageInputs([], "descriptions", "HTTP 400: no images", ["big.png (3 MB): cap"]),
    dispatch="d-123",
    outcome="reused",
    waited_s=12.5,
    waited_for=[41, 42],
)


def test_a_full_report_survives_json_both_ways() -> None:
    """A field forgotten in to_json or from_json fails here."""
    doc = json.loads(json.dumps(FULL.to_json()))
    assert RunReport.from_json(doc) == FULL
    assert RunReport.from_json(doc).to_json() == doc
    assert doc["repair_rounds"] == 1 and doc["repair_tokens"] == 321
    assert doc["checks"] == [
        {"kind": "js", "check": "1 === 2", "result": "fail", "detail": "returned false", "round": 1}
    ]


def _documented_keys() -> dict[str, bool]:
    """The report's keys in docs/interfaces.md, each with whether it is marked optional (*)."""
    doc = (Path(__file__).resolve().parent.parent / "docs" / "interfaces.md").read_text()
    section = doc.split("## The report", 1)[1].split("\n## ", 1)[0]
    keys = re.findall(r"^\| `(\w+)`(\*?) \|", section, re.MULTILINE)
    return {name: star == "*" for name, star in keys}


def test_the_documented_shape_is_the_written_shape() -> None:
    documented = _documented_keys()
    assert set(FULL.to_json()) == set(documented)
    minimal = RunReport(task="t", round=1).to_json()
    assert set(minimal) == {k for k, optional in documented.items() if not optional}
