"""The evaluation report as Markdown (and the JSON form beside it)."""

from __future__ import annotations

import json
import time
from typing import Any

from receiver.evaluation.results import (
    Summary,
    check_rows,
    models_of,
    per_model,
    per_task_model,
    tasks_of,
)
from receiver.evaluation.runner import EvalResult


def cell(value: Any) -> str:
    """A value safe inside a Markdown table cell."""
    return str(value).replace("|", "\\|").replace("\n", " ").replace("`", "'")


def money(value: float) -> str:
    return f"${value:.4f}"


def headline(result: EvalResult) -> str:
    """One sentence: what ran, when, what it cost, and whether it stopped early."""
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(result.started))
    text = (
        f"{len(result.tasks)} task(s) × {len(result.models)} model(s) × {result.runs} run(s), "
        f"{when}, {result.seconds:.0f} s, spent {money(result.spent)}"
    )
    if result.max_cost is not None:
        text += f" of at most {money(result.max_cost)}"
    if result.stopped:
        text += f". **Stopped early: {result.stopped}**; rounds not run are not in the tables"
    return text + "."


def model_rows(summaries: dict[str, Summary]) -> list[list[str]]:
    """The per-model summary rows: the figures the chart plots, and the totals."""
    rows = []
    for model, s in summaries.items():
        rows.append(
            [
                model,
                ", ".join(sorted(s.generators)) or "–",
                f"{s.rounds_passed}/{s.rounds}",
                s.checks.show(),
                s.judged.show(),
                str(s.tokens),
                money(s.cost_usd),
                f"{s.mean_seconds:.1f} s",
            ]
        )
    return rows


MODEL_HEAD = [
    "model",
    "generator",
    "rounds passing every check",
    "checks passed",
    "LLM-judged (apart)",
    "tokens",
    "cost",
    "mean time to notify",
]


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return lines


def render_markdown(result: EvalResult) -> str:
    """The whole report."""
    rounds = result.rounds
    models = models_of(rounds) or result.models
    lines = ["# llm-deploy eval", "", headline(result), ""]
    lines += [
        "Deterministic checks are the course evaluator's checks that need no model; "
        "LLM-judged checks are scored only with `--judge` and are never part of the "
        "pass rates.",
        "",
    ]
    lines += ["## Models", "", *_table(MODEL_HEAD, model_rows(per_model(rounds))), ""]
    origins = {t["name"]: t["origin"] for t in result.tasks}
    for task in tasks_of(rounds):
        lines += [f"## {task}", "", f"Source: `{origins.get(task, '')}`", ""]
        rows = [
            [label, key, *(t.show() if (t := tallies.get(m)) else "–" for m in models)]
            for label, key, tallies in check_rows(rounds, task)
        ]
        sums = per_task_model(rounds, task)
        rows.append(
            [
                "",
                "**tokens / cost / mean time**",
                *(
                    f"{sums[m].tokens} / {money(sums[m].cost_usd)} / {sums[m].mean_seconds:.1f} s"
                    for m in models
                ),
            ]
        )
        lines += [*_table(["round", "check", *models], rows), ""]
        judged = check_rows(rounds, task, judged=True)
        if judged:
            lines += ["LLM-judged, shown apart:", ""]
            lines += [
                *_table(
                    ["round", "check", *models],
                    [
                        [label, key, *(t.show() if (t := tallies.get(m)) else "–" for m in models)]
                        for label, key, tallies in judged
                    ],
                ),
                "",
            ]
    errors = [e for s in per_model(rounds).values() for e in s.errors]
    failures = [(r, o) for r in rounds for o in r.outcomes if o.passed is False and o.detail]
    if errors or failures:
        lines += ["## Why checks failed", ""]
        lines += [f"- {cell(e)}" for e in errors]
        lines += [
            f"- {cell(r.model)} {cell(r.label)} run {r.run}: {cell(o.key)}: {cell(o.detail[:200])}"
            for r, o in failures
        ]
        lines.append("")
    return "\n".join(lines)


def render_json(result: EvalResult) -> str:
    """The machine-readable report: every round and every outcome, plus per-model totals."""
    doc = result.to_dict()
    doc["models_summary"] = {
        m: {
            "rounds": s.rounds,
            "rounds_passed": s.rounds_passed,
            "checks_passed": s.checks.passed,
            "checks_scored": s.checks.scored,
            "judged_passed": s.judged.passed,
            "judged_scored": s.judged.scored,
            "tokens": s.tokens,
            "cost_usd": round(s.cost_usd, 6),
            "mean_seconds": round(s.mean_seconds, 2),
            "generators": sorted(s.generators),
        }
        for m, s in per_model(result.rounds).items()
    }
    return json.dumps(doc, indent=2)
