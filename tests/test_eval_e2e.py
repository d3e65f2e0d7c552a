"""``llm-deploy eval`` end to end with scripted models, all on 127.0.0.1.

One evaluation through the real command (in-process ``receiver.cli.main``): three tasks' rounds
through the real local pipeline for three "models" that a fake OpenAI-compatible server tells
apart by name: ``scripted-good`` answers the hand-written good apps, ``scripted-bad`` answers
known-bad variants, and ``offline`` (``--floor``) is the Action's offline generator. The report
must give the good model every deterministic check, take from the bad model exactly the checks
the course's evaluator would take, and show the offline generator as the floor.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from receiver import cli
from tests.e2e_support import TOOL_CACHE, app_files, prebuild_action_venv, request_stem
from tests.fakes.llm import FakeLLM

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.browser,
    pytest.mark.skipif(not shutil.which("chromium"), reason="needs Debian's chromium"),
]
TASKS = ["SumOfSales", "sum-of-sales-601"]

# stem -> (search, replace) in index.html: the defect the bad model ships.
DEFECTS = {
    "SumOfSales-r1": (
        "total.toFixed(2);",
        'total.toLocaleString("en-US", { minimumFractionDigits: 2 });',
    ),
    "sum-of-sales-601-r1": (
        "<title>Sales Summary 601</title>",
        "<title>Sales Summary 601 — Dashboard</title>",
    ),
}
# What the course's evaluator would take away for each defect, and nothing else.
LOST = {
    "SumOfSales r1": {
        "static: #total-sales holds a plain number",
        "js: Math.abs(+document.querySelector('#total-sales').textContent - 603492.11) < 0.01",
    },
    "sum-of-sales-601 r1": {
        "static: <title> is exactly 'Sales Summary 601'",
        "js: document.title === `Sales Summary 601`",
    },
    "sum-of-sales-601 r2a": set(),
}


def scripted(request: dict[str, Any]) -> str:
    """The fake model: the corpus app for the prompt's task, defective for scripted-bad."""
    prompt = "\n".join(str(m.get("content", "")) for m in request.get("messages", []))
    stem = request_stem(prompt)
    if stem is None:
        return "I do not know this task."
    files = app_files(stem)
    if request.get("model") == "scripted-bad" and stem in DEFECTS:
        search, replace = DEFECTS[stem]
        assert files["index.html"].count(search) == 1
        files["index.html"] = files["index.html"].replace(search, replace)
    return "".join(f'<file path="{p}">\n{text}</file>\n' for p, text in files.items())


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    prebuild_action_venv()
    work = tmp_path_factory.mktemp("eval")
    (work / "data").mkdir()
    (work / "data" / "tool-cache").symlink_to(TOOL_CACHE, target_is_directory=True)
    with FakeLLM(default=scripted) as llm, pytest.MonkeyPatch.context() as env:
        for name in ("GITHUB_TOKEN", "AIPIPE_TOKEN", "LLM_DEPLOY_DATA", "LLM_MODEL"):
            env.delenv(name, raising=False)
        env.setenv("LLM_API_KEY", llm.api_key)
        env.setenv("LLM_BASE_URL", llm.base_url)
        status = cli.main(
            [
                "eval",
                *TASKS,
                "--model",
                "scripted-good",
                "--model",
                "scripted-bad",
                "--floor",
                "--offline-browser",
                "--data",
                str(work / "data"),
                "--out",
                str(work / "out"),
                "--json",
                str(work / "out" / "eval.json"),
                "--round-timeout",
                "240",
            ]
        )
    assert status == 0
    doc: dict[str, Any] = json.loads((work / "out" / "eval.json").read_text("utf-8"))
    doc["_out"] = str(work / "out")
    return doc


def _rounds(doc: dict[str, Any], model: str) -> dict[str, dict[str, Any]]:
    return {r["label"]: r for r in doc["rounds"] if r["model"] == model}


def _failed(r: dict[str, Any]) -> set[str]:
    return {
        f"{o['group']}: {o['check']}"
        for o in r["outcomes"]
        if o["group"] != "judge" and o["passed"] is False
    }


def test_every_round_of_every_model_was_run_and_scored(report: dict[str, Any]) -> None:
    assert report["models"] == ["scripted-good", "scripted-bad", "offline"]
    for model in report["models"]:
        assert sorted(_rounds(report, model)) == sorted(LOST), model
    assert report["stopped"] == ""


def test_the_good_model_scores_every_deterministic_check(report: dict[str, Any]) -> None:
    for label, r in _rounds(report, "scripted-good").items():
        scored = [o for o in r["outcomes"] if o["group"] != "judge"]
        assert len(scored) >= 14, label
        assert [o for o in scored if o["passed"] is not True] == [], label
        assert r["generator"] == "llm" and r["tokens"] > 0
    summary = report["models_summary"]["scripted-good"]
    assert summary["checks_passed"] == summary["checks_scored"]
    assert summary["rounds_passed"] == summary["rounds"] == 3


def test_the_bad_model_loses_exactly_the_evaluators_checks(report: dict[str, Any]) -> None:
    for label, r in _rounds(report, "scripted-bad").items():
        assert _failed(r) == LOST[label], label
        assert all(o["passed"] is not None for o in r["outcomes"] if o["group"] != "judge")


def test_the_offline_generator_is_the_floor(report: dict[str, Any]) -> None:
    floor = report["models_summary"]["offline"]
    good = report["models_summary"]["scripted-good"]
    assert floor["generators"] == ["offline"]
    assert floor["tokens"] == 0 and floor["cost_usd"] == 0
    assert floor["checks_passed"] < good["checks_passed"]
    # The repo-level checks are the pipeline's, not the model's: the floor still passes them.
    for label, r in _rounds(report, "offline").items():
        repo = {o["check"]: o["passed"] for o in r["outcomes"] if o["group"] == "repo"}
        assert repo["LICENSE is MIT"] and repo["commit_sha checks out"], label


def test_llm_judged_checks_are_shown_apart_and_not_scored_without_judge(
    report: dict[str, Any],
) -> None:
    judged = [o for r in report["rounds"] for o in r["outcomes"] if o["group"] == "judge"]
    assert judged and all(o["passed"] is None for o in judged)
    assert report["models_summary"]["scripted-good"]["judged_scored"] == 0


def test_the_reports_are_written_as_markdown_and_self_contained_html(
    report: dict[str, Any],
) -> None:
    out = Path(report["_out"])
    md = (out / "eval.md").read_text("utf-8")
    assert "| scripted-good | llm | 3/3 |" in md
    assert "## SumOfSales" in md and "## sum-of-sales-601" in md
    page = (out / "eval.html").read_text("utf-8")
    assert page.count("<circle") == 3 and "<svg" in page
    assert not re.search(r"""(?:src|href)\s*=\s*["']?https?:""", page)
    assert "<script" not in page
