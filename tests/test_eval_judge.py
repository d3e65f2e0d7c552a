"""The LLM judge of ``llm-deploy eval``: verdicts parsed strictly, asked over HTTP of an
OpenAI-compatible server (the shared fake), and never scored without a key."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from receiver.evaluation.judge import (
    CODE_QUALITY,
    README_QUALITY,
    Judge,
    judge_round,
    parse_verdict,
)
from tests.apps.build import build_app
from tests.fakes.llm import FakeLLM, Reply

VERDICTS = [
    ("plain", '{"pass": true, "reason": "fine"}', (True, "fine")),
    (
        "fenced",
        'Sure:\n```json\n{"pass": false, "reason": "no usage section"}\n```',
        (False, "no usage section"),
    ),
    ("string-bool", '{"pass": "yes"}', None),
    ("prose", "It passes.", None),
    ("broken-json", '{"pass": true,', None),
]


@pytest.mark.parametrize(("name", "text", "verdict"), VERDICTS, ids=[v[0] for v in VERDICTS])
def test_a_verdict_is_a_json_object_with_a_boolean_pass(
    name: str, text: str, verdict: tuple[bool, str] | None
) -> None:
    assert parse_verdict(text) == verdict


def test_the_judge_grades_each_check_over_http_and_counts_its_cost(tmp_path: Path) -> None:
    build_app("captcha-solver-r1", tmp_path)
    script: list[str | Reply] = [
        '{"pass": true, "reason": "complete"}',
        '{"pass": false, "reason": "one long function"}',
        "I cannot tell.",
        Reply(500, {"error": {"message": "down"}}),
    ]
    with FakeLLM(script=script) as llm, httpx.Client(timeout=10) as http:
        judge = Judge(http, llm.base_url, llm.api_key, "gpt-4.1-nano")
        got = judge_round(
            judge,
            tmp_path,
            "Create a captcha solver.",
            ["Page displays the captcha", "Solves it within 15 seconds"],
        )
        sent = [r.json for r in llm.requests]
    assert [(o.name, o.passed) for o in got] == [
        (README_QUALITY, True),
        (CODE_QUALITY, False),
        ("Page displays the captcha", None),
        ("Solves it within 15 seconds", None),
    ]
    assert got[2].detail == "the judge's answer was not a verdict"
    assert got[3].detail.startswith("the judge failed")
    assert all(r.authorized for r in llm.requests) and sent[0]["model"] == "gpt-4.1-nano"
    user = sent[0]["messages"][1]["content"]
    assert "--- README.md ---" in user and "--- index.html ---" in user
    assert "Check: " + README_QUALITY in user
    assert judge.spent > 0


def test_without_a_judge_nothing_is_scored(tmp_path: Path) -> None:
    got = judge_round(None, tmp_path, "brief", ["a sentence"])
    assert [o.passed for o in got] == [None, None, None]
    assert all("--judge" in o.detail for o in got)
