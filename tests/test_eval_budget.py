"""The spend guard of ``llm-deploy eval``: estimates from the real prompt, ``--dry-run``, and a
clean stop when ``--max-cost`` would be passed."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from receiver.evaluation.budget import ANSWER_TOKENS, Budget, estimate_round
from receiver.evaluation.cli import base_settings
from receiver.evaluation.runner import Evaluation, Options
from receiver.evaluation.sources import resolve
from tests.conftest import load_task
from tests.e2e_support import ROOT, TOOL_CACHE, corpus_answer, prebuild_action_venv
from tests.fakes.llm import FakeLLM


def test_the_estimate_grows_with_the_prompt_and_prices_by_model() -> None:
    small = estimate_round(load_task("SumOfSales-r1"), "gpt-4.1-mini")
    big = estimate_round(load_task("LLMPages-r1"), "gpt-4.1-mini")
    round2 = estimate_round(load_task("sum-of-sales-601-r2a"), "gpt-4.1-mini")
    nano = estimate_round(load_task("SumOfSales-r1"), "gpt-5-nano")
    assert 500 < small.prompt_tokens < big.prompt_tokens < round2.prompt_tokens
    assert small.answer_tokens == ANSWER_TOKENS
    assert small.cost_one_call == pytest.approx(
        (small.prompt_tokens * 0.40 + ANSWER_TOKENS * 1.60) / 1e6
    )
    assert small.cost_worst is not None and small.cost_one_call < small.cost_worst
    assert nano.cost_one_call is not None and nano.cost_one_call < small.cost_one_call


def test_an_unpriced_model_has_no_estimate() -> None:
    est = estimate_round(load_task("SumOfSales-r1"), "some-local-model")
    assert (est.cost_one_call, est.cost_worst) == (None, None)


GUARD = [
    ("no-ceiling", None, 5.0, 1.0, True),
    ("fits", 1.0, 0.5, 0.4, True),
    ("would-pass", 1.0, 0.5, 0.6, False),
    ("spent", 1.0, 1.0, None, False),
    ("unpriced-fits", 1.0, 0.5, None, True),
]


@pytest.mark.parametrize(
    ("name", "ceiling", "spent", "next_cost", "allowed"), GUARD, ids=[g[0] for g in GUARD]
)
def test_the_budget_allows_a_round_only_when_its_worst_case_fits(
    name: str, ceiling: float | None, spent: float, next_cost: float | None, allowed: bool
) -> None:
    budget = Budget(ceiling)
    budget.add(spent)
    assert budget.allows(next_cost) is allowed
    assert bool(budget.stopped) is not allowed


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("LLM_API_KEY", "AIPIPE_TOKEN")}
    return subprocess.run(
        [sys.executable, "-m", "receiver.cli", "eval", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_dry_run_prints_each_planned_round_and_the_estimated_total() -> None:
    proc = _cli(
        "SumOfSales",
        "sum-of-sales-601",
        "--model",
        "gpt-5-nano",
        "--model",
        "gpt-4.1-mini",
        "--runs",
        "2",
        "--dry-run",
        "--max-cost",
        "0.5",
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    # 2 models x 2 runs x (1 + 2 rounds); run 2 takes the next round-2 variant.
    assert len(lines) == 13
    assert "gpt-5-nano run 2 sum-of-sales-601 r2b: ~" in proc.stdout
    assert lines[-1].startswith("12 round(s); estimated $") and "(ceiling $0.5000)" in lines[-1]


def test_dry_run_with_unknown_task_exits_2_with_the_choices() -> None:
    proc = _cli("nope", "--dry-run")
    assert proc.returncode == 2 and "gen:<template>" in proc.stderr and proc.stdout == ""


@pytest.mark.e2e
def test_the_evaluation_stops_cleanly_before_passing_the_ceiling(tmp_path: Path) -> None:
    prebuild_action_venv()
    (task,) = resolve(["sum-of-sales-601"])
    first = estimate_round(task.round1, "gpt-4.1-mini").cost_worst
    assert first is not None
    budget = Budget(first * 1.01)  # room for round 1's worst case, not for round 2's as well
    lines: list[str] = []
    with FakeLLM(default=corpus_answer) as llm, httpx.Client(timeout=30) as http:
        base = dataclasses.replace(
            base_settings(), llm_api_key=llm.api_key, llm_base_url=llm.base_url
        )
        options = Options(tmp_path, round_timeout=180, tool_cache=TOOL_CACHE)
        result = Evaluation(
            [task],
            ["gpt-4.1-mini"],
            base,
            options,
            browser=None,
            judge=None,
            budget=budget,
            http=http,
            say=lines.append,
        ).run()
    assert [r.label for r in result.rounds] == ["sum-of-sales-601 r1"]
    assert 0 < result.spent <= first * 1.01
    assert "the next round could cost up to" in result.stopped
    assert any(line.startswith("stopping: ") for line in lines)
    # Without a browser the js checks are listed, not scored (neither passed nor failed).
    js = [o for o in result.rounds[0].outcomes if o.group == "js"]
    assert js and all(o.passed is None and o.detail == "no browser" for o in js)
