"""Every `${{ }}` expression and `if:` the shipped files contain, against GitHub's evaluator.

The random expressions in test_expressions_oracle.py cover the grammar; this covers the exact
expressions that run: those in action.yml (executed by the local runner), the workflow template
and the committed workflows, each evaluated in every combination of the inputs and step outputs
it branches on, with the job succeeding and failing. Step conditions go through the runner's
`evaluate_if`, whose implicit `success() && (…)` is GitHub's documented rule, so GitHub's side
evaluates that wrapped form.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from receiver.local.expressions import evaluate_if
from receiver.workflow import render_workflow
from tests.oracles import ROOT, require_oracle, run_harness
from tests.test_expressions_oracle import agrees, ours

FENCE = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
STATUS_FUNCTION = re.compile(r"\b(always|success|failure|cancelled)\s*\(", re.IGNORECASE)


def _documents() -> dict[str, Any]:
    paths = [ROOT / "action.yml", ROOT / "workflow-templates" / "reuse-example.yml"]
    paths += sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
    docs = {str(p.relative_to(ROOT)): yaml.safe_load(p.read_text()) for p in paths}
    template = render_workflow("llm-deploy/llm-deploy@v1", "https://x.test/v1", "m", "f")
    docs["llm-deploy.yml.j2"] = yaml.safe_load(template)
    return docs


def _walk(node: Any, key: str = "") -> Iterator[tuple[str, str]]:
    """(kind, expression) for every fenced expression, and every `if:` as a condition."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _walk(v, str(k))
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item, key)
    elif isinstance(node, str):
        whole = FENCE.fullmatch(node.strip())
        if key == "if":
            yield "condition", whole.group(1).strip() if whole else node.strip()
        else:
            for match in FENCE.finditer(node):
                yield "value", match.group(1).strip()


def _expressions() -> list[tuple[str, str]]:
    found = {item for doc in _documents().values() for item in _walk(doc)}
    return sorted(found)


EXPRESSIONS = _expressions()


def _scenarios() -> list[dict[str, Any]]:
    """Contexts covering each branch the shipped conditions and fallbacks take."""
    action_inputs = yaml.safe_load((ROOT / "action.yml").read_text())["inputs"]
    defaults = {name: str(spec.get("default", "")) for name, spec in action_inputs.items()}
    scenarios = []
    for deploy, verify, generated, dispatch, page, status in itertools.product(
        ["true", "false"],
        ["true", "false"],
        ["true", "false", None],
        ["", "d-123"],
        ["", "https://o.github.io/app/"],
        ["success", "failure"],
    ):
        generate_outputs = {
            "page-url": "https://o.github.io/app/",
            "commit-sha": "abc",
            "report": "{}",
        }
        if generated is not None:
            generate_outputs["deploy"] = generated
        inputs = {**defaults, "deploy": deploy, "verify": verify, "dispatch-id": dispatch}
        inputs.update(brief="Build it", task="t-1", round="2", payload="", email="a@b.c")
        scenarios.append(
            {
                "inputs": inputs,
                "steps": {
                    "generate": {"outputs": generate_outputs},
                    "deploy": {"outputs": {"page_url": page} if page else {}},
                    "venv": {"outputs": {"python": "/tmp/venv/bin/python"}},
                    "app": {"outputs": {"page-url": page, "commit-sha": "abc"}},
                    "self-test": {"outputs": {"page-url": page, "commit-sha": "abc"}},
                    "llm-deploy": {"outputs": {"page-url": page}},
                    "python": {"outputs": {"python-path": "/usr/bin/python3"}},
                },
                "github": {
                    "token": "ghs_x",
                    "job": "build",
                    "event_name": "workflow_dispatch",
                    "action_path": "/a",
                },
                "runner": {"temp": "/tmp/r", "tool_cache": "/opt/tc"},
                "secrets": {"LLM_API_KEY": "k"},
                "env": {},
                "job": {"status": status},
            }
        )
    return scenarios


SCENARIOS = _scenarios()


def _github_form(kind: str, expression: str) -> str:
    if kind == "condition" and not STATUS_FUNCTION.search(expression):
        return f"success() && ({expression})"
    return expression


@pytest.fixture(scope="module")
def github_answers() -> list[list[dict[str, Any]]]:
    require_oracle("@actions/expressions")
    texts = [_github_form(kind, expr) for kind, expr in EXPRESSIONS]
    return run_harness(
        "expressions.mjs", [{"contexts": ctx, "expressions": texts} for ctx in SCENARIOS]
    )


def test_shipped_files_have_expressions_and_conditions() -> None:
    kinds = {kind for kind, _ in EXPRESSIONS}
    assert kinds == {"value", "condition"}
    assert ("condition", "always()") in EXPRESSIONS
    assert len(EXPRESSIONS) > 30


@pytest.mark.parametrize(
    ("index", "kind", "expression"),
    [(i, kind, expr) for i, (kind, expr) in enumerate(EXPRESSIONS)],
    ids=[f"{kind}:{expr}" for kind, expr in EXPRESSIONS],
)
def test_shipped_expression_agrees_with_github(
    index: int, kind: str, expression: str, github_answers: list[list[dict[str, Any]]]
) -> None:
    for ctx, answers in zip(SCENARIOS, github_answers, strict=True):
        theirs = answers[index]
        assert theirs["ok"], f"GitHub refuses {expression!r}: {theirs['error']}"
        if kind == "condition":
            assert evaluate_if(expression, ctx) is theirs["truthy"], (expression, ctx["inputs"])
        else:
            mine = ours(expression, ctx)
            assert agrees(mine, theirs), f"ours: {mine}\nGitHub: {theirs}"


def test_conditions_take_both_branches(github_answers: list[list[dict[str, Any]]]) -> None:
    """Scenarios that never flip a condition would compare one branch only."""
    for index, (kind, expression) in enumerate(EXPRESSIONS):
        if kind == "condition":
            outcomes = {answers[index]["truthy"] for answers in github_answers}
            if expression != "always()":
                assert outcomes == {True, False}, expression
