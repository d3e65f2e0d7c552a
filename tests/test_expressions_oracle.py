"""The local runner's `${{ }}` evaluator against GitHub's own (npm @actions/expressions).

Both evaluate the same expressions over the same contexts in one batch (one Node process);
every answer must match in kind, value, rendered text and truthiness, and where GitHub
rejects an expression ours must raise ExpressionError. Three sets: a table of hand-picked
edge cases, several hundred seeded random expressions in the grammar the runner supports
(tests/expression_cases.py), and grammar ours deliberately does not support (it must refuse,
not answer). Known disagreements are strict xfails naming the bug, so fixing one turns it red
until the mark is removed.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from receiver.expressions import ExpressionError, evaluate, to_string, truthy
from tests.expression_cases import CONTEXTS, KNOWN_BUG_FEATURES, generate
from tests.oracles import require_oracle, run_harness

SEED = 20261130
FAILED_JOB = {**CONTEXTS, "job": {"status": "failure"}}

AGREE = [
    "contains(github.event.list, 'TWO')",
    "contains(github.event.list, 1)",
    "contains(fromJSON('[1, 2]'), '1')",
    "contains('abc', null)",
    "contains(null, '')",
    "startsWith('abc', 'AB')",
    "join('abc', '-')",
    "join(github.event.list)",
    "github.event.list[1.5]",
    "github.event.list['1']",
    "'B' > 'a'",
    "'ß' == 'SS'",
    "'ı' == 'I'",
    "0.1",
    "-0",
    "123456789012345678",
    "1e400 == 1e400",
    "'0x1F' == 31",
    "'0X1F' == 31",
    "' 2 ' == 2",
    "'1e3' == 1000",
    "'Infinity' == 1e400",
    "'' == 0",
    "'abc' == 0",
    "null == 0",
    "null == false",
    "null == ''",
    "true == '1'",
    "true == 'true'",
    "inputs.flag == 1",
    "inputs == inputs",
    "fromJSON('{}') == fromJSON('{}')",
    "toJSON(2.5)",
    "toJSON(inputs.count)",
    "toJSON(null)",
    "toJSON(inputs)",
    "toJSON(github.event.list[1])",
    "format('{0}', 0.1)",
    "format('{0} {1}', 1)",
    "format('{{0}}', 1)",
    "format('{0}', null)",
    "fromJSON('{\"a\": 1}').a",
    "fromJSON('\"x\"')",
    "fromJSON(1)",
    "fromJSON('')",
    "inputs.missing.deeper",
    "INPUTS.Brief",
    "steps.verify.outcome == 'FAILURE' && always()",
    "inputs.brief-x",
    # Syntax errors: both must refuse.
    "0x",
    "1_000",
    "'unterminated",
    "inputs..brief",
    "inputs.",
    "(1",
    "1 2",
    "!",
    "== 1",
    "inputs['brief'",
    "nosuchfunction(1)",
]

# Grammar GitHub accepts that ours does not claim: it must refuse with ExpressionError.
UNSUPPORTED = ["+1", "1.", ".5", "case(true, 1, 2)"]

PRECEDENCE = "GitHub ranks < <= > >= above == != ; ours evaluates them left to right on one level"
UPPERCASE = "GitHub's true/false/null are lower case only; ours accepts any case"
CONTAINER_TEXT = "GitHub renders an array/object argument as 'Array'/'Object'; ours as JSON"
CONTAINER_SEARCH = (
    "GitHub answers false for an array/object in a string search; ours searches its JSON"
)
TOJSON_NUMBER = "toJSON of a number: GitHub writes JS numbers (1, 0, null for Infinity); ours 1.0"
SHORT_CIRCUIT = (
    "GitHub skips the right operand of && / || once decided; ours evaluates it and fails"
)
NUMBER_TEXT = (
    "GitHub renders numbers as JS does (15 significant digits, 1e-7, 1e+21); ours Python repr"
)
FORMAT_INVALID = "GitHub rejects an unbalanced or non-numeric {…} in format(); ours leaves it"
STAR_FILTER = "the .* object filter: GitHub collects values; ours answers null instead of refusing"

BUGS = [
    ("2 == 2 < 3", PRECEDENCE),
    ("TRUE", UPPERCASE),
    ("NULL", UPPERCASE),
    ("format('{0}', github.event.list)", CONTAINER_TEXT),
    ("format('{0}', github.event.nested)", CONTAINER_TEXT),
    ("join(fromJSON('[[1], 2]'), ';')", CONTAINER_TEXT),
    ("join(github.event.nested, ',')", "GitHub joins an object to ''; ours to its JSON"),
    ("startsWith(github.event.list, '')", CONTAINER_SEARCH),
    ("endsWith(github.event.nested, '')", CONTAINER_SEARCH),
    ("contains(github.event.nested, 'k')", CONTAINER_SEARCH),
    ("toJSON(1)", TOJSON_NUMBER),
    ("toJSON(fromJSON('[1, 2.0]'))", TOJSON_NUMBER),
    ("toJSON(-0)", TOJSON_NUMBER),
    ("toJSON(1e400)", TOJSON_NUMBER),
    ("toJSON('é')", "GitHub keeps non-ASCII in toJSON; ours escapes it as \\u00e9"),
    ("false && fromJSON('not json')", SHORT_CIRCUIT),
    ("true || fromJSON('not json')", SHORT_CIRCUIT),
    ("github.event.list[-1]", "a negative index is null on GitHub; ours counts from the end"),
    ("github.event.list.*", STAR_FILTER),
    ("steps.*.outputs", STAR_FILTER),
    (
        "'a' < '_'",
        "GitHub orders strings upper-cased; ours case-folds to lower ('_' sorts between)",
    ),
    ("github.event.list <= github.event.list", "GitHub's <= is true for the same object"),
    ("1.23456789012345678", NUMBER_TEXT),
    ("1e400", NUMBER_TEXT),
    ("0.000001", NUMBER_TEXT),
    ("1e-7", NUMBER_TEXT),
    ("1e21", NUMBER_TEXT),
    ("format('{0}', 1.5e300)", NUMBER_TEXT),
    ("format('{', 1)", FORMAT_INVALID),
    ("format('{0}}', 1)", FORMAT_INVALID),
    ("format('{ 0}', 1)", FORMAT_INVALID),
    ("success(1)", "status functions take no arguments on GitHub; ours ignores them"),
    ("always(1, 2)", "status functions take no arguments on GitHub; ours ignores them"),
    (
        "nosuchcontext.x",
        "GitHub refuses an unknown context (a typo like input.x); ours answers null",
    ),
    ("'abc'.length", "GitHub refuses a property of a literal; ours answers null"),
]

CORE = generate(SEED, 800, KNOWN_BUG_FEATURES)
CORE_FAILED_JOB = generate(SEED + 1, 300, KNOWN_BUG_FEATURES)
FULL = generate(SEED + 2, 400)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _plain(value: Any) -> Any:
    """Our value in the harness's JSON shape (non-finite numbers as their JS names)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def ours(expression: str, contexts: dict[str, Any]) -> dict[str, Any]:
    """Our evaluator's answer in the same shape the Node harness gives GitHub's."""
    try:
        value = evaluate(expression, contexts)
    except ExpressionError as exc:
        return {"ok": False, "error": str(exc)}
    kind = _kind(value)
    return {
        "ok": True,
        "value": _plain(value),
        "kind": kind,
        "text": None if kind in ("array", "object") else to_string(value),
        "truthy": truthy(value),
    }


def agrees(mine: dict[str, Any], github: dict[str, Any]) -> bool:
    """Same answer; when GitHub refuses, ours must refuse too (the messages may differ)."""
    if not github["ok"]:
        return not mine["ok"]
    return mine == github


@pytest.fixture(scope="module")
def github() -> dict[tuple[str, str], dict[str, Any]]:
    """GitHub's answers keyed by (job status, expression), from one Node process."""
    require_oracle("@actions/expressions")
    table = AGREE + UNSUPPORTED + [expr for expr, _ in BUGS]
    batches = [
        ("success", CONTEXTS, table + CORE + FULL),
        ("failure", FAILED_JOB, CORE_FAILED_JOB),
    ]
    answers = run_harness(
        "expressions.mjs", [{"contexts": c, "expressions": e} for _, c, e in batches]
    )
    return {
        (status, expr): answer
        for (status, _, exprs), batch in zip(batches, answers, strict=True)
        for expr, answer in zip(exprs, batch, strict=True)
    }


def _disagreements(
    github: dict[tuple[str, str], dict[str, Any]],
    status: str,
    contexts: dict[str, Any],
    expressions: list[str],
) -> list[str]:
    found = []
    for expr in expressions:
        mine, theirs = ours(expr, contexts), github[(status, expr)]
        if not agrees(mine, theirs):
            found.append(f"{expr!r}\n    ours:   {mine}\n    GitHub: {theirs}")
    return found


@pytest.mark.parametrize(
    "expression",
    AGREE
    + [
        pytest.param(expr, marks=pytest.mark.xfail(strict=True, reason=reason), id=expr)
        for expr, reason in BUGS
    ],
)
def test_expression_agrees_with_github(expression: str, github: dict[Any, Any]) -> None:
    mine, theirs = ours(expression, CONTEXTS), github[("success", expression)]
    assert agrees(mine, theirs), f"ours: {mine}\nGitHub: {theirs}"


@pytest.mark.parametrize("expression", UNSUPPORTED)
def test_unsupported_grammar_is_refused_not_misread(
    expression: str, github: dict[Any, Any]
) -> None:
    assert github[("success", expression)]["ok"], "GitHub accepts this; the case documents a gap"
    with pytest.raises(ExpressionError):
        evaluate(expression, CONTEXTS)


@pytest.mark.parametrize(
    ("status", "contexts", "expressions"),
    [("success", CONTEXTS, CORE), ("failure", FAILED_JOB, CORE_FAILED_JOB)],
    ids=["job-succeeding", "job-failed"],
)
def test_generated_expressions_agree_with_github(
    status: str, contexts: dict[str, Any], expressions: list[str], github: dict[Any, Any]
) -> None:
    found = _disagreements(github, status, contexts, expressions)
    assert not found, f"{len(found)} of {len(expressions)} disagree:\n" + "\n".join(found[:15])


@pytest.mark.xfail(
    strict=True, reason=f"known bugs left out of the core grammar: {sorted(KNOWN_BUG_FEATURES)}"
)
def test_generated_full_grammar_agrees_with_github(github: dict[Any, Any]) -> None:
    found = _disagreements(github, "success", CONTEXTS, FULL)
    assert not found, f"{len(found)} of {len(FULL)} disagree:\n" + "\n".join(found[:15])


def test_generated_cases_exercise_every_kind_of_answer(github: dict[Any, Any]) -> None:
    """A generator whose expressions all fail or all answer `false` would prove nothing."""
    answers = [github[("success", expr)] for expr in CORE]
    kinds = {answer.get("kind") for answer in answers if answer["ok"]}
    assert kinds >= {"boolean", "string", "number", "null"}
    assert {a["value"] for a in answers if a.get("kind") == "boolean"} == {True, False}
    assert sum(answer["ok"] for answer in answers) > len(answers) // 2


def test_comparison_notices_a_wrong_answer() -> None:
    right = ours("inputs.count == 3", CONTEXTS)
    assert right["value"] is True
    wrong = {**right, "value": False, "truthy": False, "text": "false"}
    assert not agrees(wrong, right)
    assert not agrees({"ok": False, "error": "refused"}, right)
    assert not agrees(right, {"ok": False, "error": "refused"})
    assert agrees({"ok": False, "error": "ours"}, {"ok": False, "error": "theirs"})
