"""Aggregation and rendering of ``llm-deploy eval`` results (pure): pass rates, the Markdown and
JSON reports, and the self-contained HTML page with its SVG chart."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest

from receiver.evaluation.outcome import Outcome, RoundScore
from receiver.evaluation.render_html import chart, render_html
from receiver.evaluation.render_md import render_json, render_markdown
from receiver.evaluation.results import Tally, check_rows, per_model
from receiver.evaluation.runner import EvalResult


def _round(
    model: str,
    task: str,
    label: str,
    passes: list[bool | None],
    *,
    cost: float = 0.0,
    judged: bool | None = None,
    run: int = 1,
) -> RoundScore:
    outcomes = [
        Outcome("static", f"check {i}", p, "" if p else "why") for i, p in enumerate(passes)
    ]
    outcomes.append(Outcome("judge", "README.md is professional", judged, ""))
    return RoundScore(
        task,
        1 if label == "r1" else 2,
        f"{task} {label}",
        model,
        run,
        outcomes,
        tokens=1000,
        cost_usd=cost,
        seconds=10.0,
        generator="llm",
    )


def _result() -> EvalResult:
    rounds = [
        _round("m-cheap", "A", "r1", [True, False], cost=0.001),
        _round("m-cheap", "A", "r2a", [True, True], cost=0.002),
        _round("m-dear", "A", "r1", [True, True], cost=0.01, judged=True),
        _round("m-dear", "A", "r2a", [True, None], cost=0.02, judged=False),
    ]
    return EvalResult(
        ["m-cheap", "m-dear"],
        [{"name": "A", "origin": "gen:a@1"}],
        1,
        rounds,
        max_cost=1.0,
        spent=0.033,
        started=0.0,
        seconds=42.0,
    )


TALLIES = [
    ("none", [], "–"),
    ("unscored", [None], "not scored"),
    ("half", [True, False], "1/2 (50%)"),
    ("skips-unscored", [True, None, True], "2/2 (100%)"),
]


@pytest.mark.parametrize(("name", "passes", "shown"), TALLIES, ids=[t[0] for t in TALLIES])
def test_a_tally_counts_only_scored_attempts(
    name: str, passes: list[bool | None], shown: str
) -> None:
    tally = Tally()
    for p in passes:
        tally.add(Outcome("js", "x", p))
    assert tally.show() == shown


def test_per_model_totals_keep_judged_checks_apart() -> None:
    summaries = per_model(_result().rounds)
    cheap, dear = summaries["m-cheap"], summaries["m-dear"]
    assert (cheap.checks.passed, cheap.checks.scored, cheap.rounds_passed) == (3, 4, 1)
    assert (dear.checks.passed, dear.checks.scored, dear.rounds_passed) == (3, 3, 2)
    assert (dear.judged.passed, dear.judged.scored, cheap.judged.scored) == (1, 2, 0)
    assert cheap.cost_usd == pytest.approx(0.003) and dear.tokens == 2000


def test_check_rows_are_per_round_and_per_model() -> None:
    rows = check_rows(_result().rounds, "A")
    assert [(label, key) for label, key, _ in rows] == [
        ("r1", "static: check 0"),
        ("r1", "static: check 1"),
        ("r2a", "static: check 0"),
        ("r2a", "static: check 1"),
    ]
    assert rows[1][2]["m-cheap"].show() == "0/1 (0%)"
    assert rows[3][2]["m-dear"].show() == "not scored"


def test_the_markdown_report_has_the_model_table_each_task_and_the_reasons() -> None:
    md = render_markdown(_result())
    assert "| m-cheap | llm | 1/2 | 3/4 (75%) | not scored | 2000 | $0.0030 | 10.0 s |" in md
    assert "| m-dear | llm | 2/2 | 3/3 (100%) | 1/2 (50%) | 2000 | $0.0300 | 10.0 s |" in md
    assert "## A" in md and "`gen:a@1`" in md
    assert "| r1 | static: check 1 | 0/1 (0%) | 1/1 (100%) |" in md
    assert "LLM-judged, shown apart:" in md
    assert "- m-cheap A r1 run 1: static: check 1: why" in md
    assert "spent $0.0330 of at most $1.0000" in md


def test_a_stopped_evaluation_says_so_first() -> None:
    result = _result()
    result.stopped = "spent $1.0100 of the $1.0000 ceiling"
    assert "**Stopped early: spent $1.0100 of the $1.0000 ceiling**" in render_markdown(result)


def test_the_json_report_holds_every_outcome_and_the_totals() -> None:
    doc = json.loads(render_json(_result()))
    assert len(doc["rounds"]) == 4
    assert doc["rounds"][0]["outcomes"][1] == {
        "group": "static",
        "check": "check 1",
        "passed": False,
        "detail": "why",
    }
    assert doc["models_summary"]["m-dear"]["judged_scored"] == 2


def test_the_chart_places_each_model_by_cost_and_pass_rate() -> None:
    svg = ET.fromstring(chart(per_model(_result().rounds)))
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    ns = {"s": "http://www.w3.org/2000/svg"}
    points = {
        c.find("s:title", ns).text.split(":")[0]: (float(c.get("cx")), float(c.get("cy")))
        for c in svg.findall("s:circle", ns)
    }
    assert set(points) == {"m-cheap", "m-dear"}
    # Dearer is further right; a higher pass rate is higher up (smaller y).
    assert points["m-dear"][0] > points["m-cheap"][0]
    assert points["m-dear"][1] < points["m-cheap"][1]


def test_the_html_page_is_self_contained_and_escapes_what_it_shows() -> None:
    result = _result()
    result.rounds[0].outcomes[0] = Outcome("js", '<img src=x onerror="alert(1)">', False, "<b>")
    page = render_html(result)
    assert page.startswith("<!doctype html>") and "<svg" in page
    assert "<script" not in page and "<img" not in page
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page)
    assert "&lt;img src=x" in page
