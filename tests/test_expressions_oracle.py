"""The local runner's `${{ }}` evaluator against GitHub's own (npm @actions/expressions).

Both evaluate the same expressions over the same contexts in one batch (one Node process);
every answer must match in kind, value, rendered text and truthiness, and where GitHub
rejects an expression ours must raise ExpressionError. The sets: hand-picked edge cases, text
both must refuse, 1300 seeded random expressions over the whole grammar
(tests/expression_cases.py; EXPRESSIONS_SEED=<int> picks another seed), and grammar ours
deliberately does not support (it must refuse, not answer). Known disagreements go in BUGS as
strict xfails naming the bug, so fixing one turns it red until the mark is removed.
"""

from __future__ import annotations

import math
import os
from typing import Any

import pytest

from receiver.local.expression_parser import tokenize
from receiver.local.expression_values import NumberTextDiffers
from receiver.local.expressions import ExpressionError, evaluate, to_string, truthy
from tests.expression_cases import CONTEXTS, KNOWN_BUG_FEATURES, generate
from tests.oracles import require_oracle, run_harness

SEED = int(os.environ.get("EXPRESSIONS_SEED", "20261130"))
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
UNSUPPORTED = ["case(true, 1, 2)", "case(false, 1, true, 2, 3)"]

# Cases a Python evaluator easily gets wrong, each with what GitHub does.
SUBTLE = [
    ("2 == 2 < 3", "< <= > >= bind tighter than == !="),
    ("1 < 2 == 0 < 1", "< <= > >= bind tighter than == !="),
    ("format('{0}', github.event.list)", "an array reads 'Array'"),
    ("format('{0}', github.event.nested)", "an object reads 'Object'"),
    ("join(fromJSON('[[1], 2]'), ';')", "a nested array reads 'Array'"),
    ("join(github.event.nested, ',')", "joining an object gives ''"),
    ("join(github.event.list, github.event.list)", "a container separator falls back to ','"),
    ("startsWith(github.event.list, '')", "string functions answer false for containers"),
    ("endsWith(github.event.nested, '')", "string functions answer false for containers"),
    ("contains(github.event.nested, 'k')", "contains() does not search an object"),
    ("contains('abc', github.event.list)", "contains() does not look for a container"),
    ("toJSON(1)", "toJSON writes numbers without a .0"),
    ("toJSON(fromJSON('[1, 2.0, [], {}]'))", "toJSON writes numbers and empties"),
    ("toJSON('é\u0001')", "toJSON keeps non-ASCII, escapes control characters"),
    ("false && fromJSON('not json')", "&& skips its right side once false"),
    ("true || fromJSON('not json')", "|| skips its right side once true"),
    ("github.event.list[-1]", "a negative index is null"),
    ("github.event.list[null]", "null indexes as 0"),
    ("github.event.list.*", "the .* filter collects the items"),
    ("steps.*.outputs", "the .* filter collects the values"),
    ("steps.*.outputs.result", "a filtered array is indexed item by item"),
    ("fromJSON('[[1, 2], [3]]').*[1]", "a filtered array is indexed item by item"),
    ("(1).*", "a filter on a non-container is an empty array"),
    ("'a' < '_'", "strings order upper-cased"),
    ("'ı' < 'I'", "the dotless ı is not upper-cased"),
    ("github.event.list <= github.event.list", "<= is true for the same object"),
    ("4.35", "a number with 15 significant digits or fewer reads as written"),
    ("123456789012345", "a number with 15 significant digits or fewer reads as written"),
    ("0.0001", "a number with 15 significant digits or fewer reads as written"),
    ("1e400", "Infinity"),
    ("1.23456789012345678 == 1.2345678901234567", "numbers are doubles"),
    ("1e21 == '1e+21'", "a number too long to print still compares"),
    ("format('{0:x} {1}', 1, 2)", "format ignores what follows the index"),
    ("+1", "a signed number literal"),
    ("1.", "a number literal with a trailing point"),
    (".5", "a number literal with a leading point"),
    ("0b101 == '0o5'", "binary and octal as JavaScript reads them"),
    ("NaN == NaN", "NaN equals nothing"),
    ("inputs.true", "keywords after a dot are property names"),
]

# Numbers GitHub's runner (.NET "G15": 15 significant digits, 1E-05) and npm (JavaScript after
# rounding to 15 decimals: 0.00001) write differently: ours refuses to write them as text.
NUMBER_TEXT_DIFFERS = [
    "1.23456789012345678",
    "123456789012345678",
    "2.26797932753915e+17",
    "1e15",
    "1e21",
    "0.00001",
    "1e-7",
    "1e-16",
    "-0",
    "format('{0}', 1.5e300)",
    "join(fromJSON('[1, 2]'), 0.000001)",
    "toJSON(1.23456789012345678)",
    "toJSON(-0)",
    "toJSON(1e400)",
]

# Text GitHub refuses; ours must refuse it too, not answer.
REFUSED = [
    "TRUE",
    "NULL",
    "False",
    "nosuchcontext.x",
    "input.brief",
    "false && nosuchcontext.x",
    "'abc'.length",
    "1[0]",
    "format('{', 1)",
    "format('{0}}', 1)",
    "format('{ 0}', 1)",
    "format('{1}', 1)",
    "success(1)",
    "always(1, 2)",
    "join()",
    "contains('a' 'b')",
    "fromJSON('not json')",
    "fromJSON('NaN')",
    "fromJSON(' ')",
]

# Where GitHub's two evaluators differ, ours follows the one that runs workflows (the C# runner,
# actions/runner src/Sdk/DTExpressions2), not npm's: (expression, npm's answer, the runner's
# answer or None where it refuses, why).
RUNNER_NOT_NPM = [
    ("'a''b''c'", "a'b''c", "a'b'c", "npm unescapes only the first '' (String.replace)"),
    ("format('x',)", "x", None, "npm allows a trailing comma; the runner's lexer refuses it"),
]

# Known disagreements: (expression, what GitHub does and ours does not), as strict xfails.
BUGS: list[tuple[str, str]] = []

GENERATED = generate(SEED, 1000, KNOWN_BUG_FEATURES)
GENERATED_FAILED_JOB = generate(SEED + 1, 300, KNOWN_BUG_FEATURES)


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
        kind = _kind(value)
        text = None if kind in ("array", "object") else to_string(value)
    except NumberTextDiffers as exc:
        return {"ok": False, "error": str(exc), "number_text_differs": True}
    except ExpressionError as exc:
        return {"ok": False, "error": str(exc)}
    return {
        "ok": True,
        "value": _plain(value),
        "kind": kind,
        "text": text,
        "truthy": truthy(value),
    }


def _as_floats(value: Any) -> Any:
    """Numbers as floats: JSON carries 2.5e17 from Node as the int 250000000000000000."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, list):
        return [_as_floats(item) for item in value]
    if isinstance(value, dict):
        return {key: _as_floats(item) for key, item in value.items()}
    return value


def agrees(mine: dict[str, Any], github: dict[str, Any]) -> bool:
    """Same answer; when GitHub refuses, ours must refuse too (the messages may differ)."""
    if not github["ok"]:
        return not mine["ok"]
    return bool(_as_floats(mine) == _as_floats(github))


def _number_literals(expression: str) -> set[str]:
    try:
        return {token.text for token in tokenize(expression) if token.kind == "num"}
    except ExpressionError:
        return set()


def _literal_value(literal: str) -> float:
    if literal.lower().lstrip("+-").startswith(("0x", "0o", "0b")):
        return float(int(literal, 0))
    return float(literal)


def _dotnet_g15(x: float) -> str:
    """.NET's ``x.ToString("G15", InvariantCulture)`` (how the runner prints numbers), from its
    documented rules: 15 significant digits, scientific when the exponent is < -4 or > 14."""
    if not math.isfinite(x):
        return "NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity")
    sign = "-" if math.copysign(1, x) < 0 else ""
    if x == 0:
        return sign + "0"
    mantissa, exponent = f"{abs(x):.14e}".split("e")
    digits, e = mantissa.replace(".", "").rstrip("0"), int(exponent)
    if -5 < e < 15:
        whole = digits[: e + 1].ljust(e + 1, "0") if e >= 0 else "0"
        fraction = digits[e + 1 :] if e >= 0 else "0" * (-e - 1) + digits
        return sign + whole + ("." + fraction if fraction else "")
    point = "." + digits[1:] if len(digits) > 1 else ""
    return f"{sign}{digits[0]}{point}E{'+' if e >= 0 else '-'}{abs(e):02d}"


def _printed_by_npm(literal: str) -> list[str]:
    return [f"format('{{0}}', {literal})", f"toJSON({literal})"]


def excused(expression: str, mine: dict[str, Any], github: dict[Any, Any]) -> bool:
    """Ours refused a number GitHub's two evaluators print differently, and one in the
    expression really is: npm's text (format and toJSON) differs from the runner's G15."""
    if not mine.get("number_text_differs"):
        return False
    for literal in _number_literals(expression):
        runner = _dotnet_g15(_literal_value(literal))
        npm = [github[("success", e)].get("value") for e in _printed_by_npm(literal)]
        if any(text != runner for text in npm):
            return True
    return False


@pytest.fixture(scope="module")
def github() -> dict[tuple[str, str], dict[str, Any]]:
    """GitHub's answers keyed by (job status, expression), from one Node process."""
    require_oracle("@actions/expressions")
    table = AGREE + [e for e, _ in SUBTLE] + NUMBER_TEXT_DIFFERS + REFUSED + UNSUPPORTED
    table += [e for e, _ in BUGS]
    table += [expr for expr, *_ in RUNNER_NOT_NPM]
    literals = {lit for expr in table + GENERATED for lit in _number_literals(expr)}
    table += [e for lit in sorted(literals) for e in _printed_by_npm(lit) if e not in table]
    batches = [
        ("success", CONTEXTS, table + GENERATED),
        ("failure", FAILED_JOB, GENERATED_FAILED_JOB),
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
        if not agrees(mine, theirs) and not excused(expr, mine, github):
            found.append(f"{expr!r}\n    ours:   {mine}\n    GitHub: {theirs}")
    return found


@pytest.mark.parametrize(
    "expression",
    AGREE
    + [pytest.param(expr, id=f"{expr} ({why})") for expr, why in SUBTLE]
    + [
        pytest.param(expr, marks=pytest.mark.xfail(strict=True, reason=reason), id=expr)
        for expr, reason in BUGS
    ],
)
def test_expression_agrees_with_github(expression: str, github: dict[Any, Any]) -> None:
    mine, theirs = ours(expression, CONTEXTS), github[("success", expression)]
    assert agrees(mine, theirs) or excused(expression, mine, github), f"ours: {mine}\nnpm: {theirs}"


@pytest.mark.parametrize("expression", NUMBER_TEXT_DIFFERS)
def test_a_number_githubs_evaluators_write_differently_is_not_written(
    expression: str, github: dict[Any, Any]
) -> None:
    mine = ours(expression, CONTEXTS)
    assert mine.get("number_text_differs"), mine
    assert excused(expression, mine, github), "npm and the runner's G15 agree on this number"


def test_dotnet_g15_follows_the_documented_examples() -> None:
    cases = {1.0: "1", 0.1: "0.1", 1e15: "1E+15", 1e-5: "1E-05", 1e-4: "0.0001", -0.0: "-0"}
    cases |= {1.23456789012345678: "1.23456789012346", 123456789012345.0: "123456789012345"}
    assert {x: _dotnet_g15(x) for x in cases} == cases


@pytest.mark.parametrize("expression", REFUSED)
def test_text_github_refuses_is_refused(expression: str, github: dict[Any, Any]) -> None:
    assert not github[("success", expression)]["ok"], "GitHub accepts this now"
    with pytest.raises(ExpressionError):
        evaluate(expression, CONTEXTS)


@pytest.mark.parametrize(
    ("expression", "npm_value", "runner_value", "why"),
    RUNNER_NOT_NPM,
    ids=[expr for expr, *_ in RUNNER_NOT_NPM],
)
def test_where_npm_and_the_runner_differ_ours_follows_the_runner(
    expression: str, npm_value: str, runner_value: str | None, why: str, github: dict[Any, Any]
) -> None:
    assert github[("success", expression)].get("value") == npm_value, f"npm changed: {why}"
    if runner_value is None:
        with pytest.raises(ExpressionError):
            evaluate(expression, CONTEXTS)
    else:
        assert evaluate(expression, CONTEXTS) == runner_value


@pytest.mark.parametrize("expression", UNSUPPORTED)
def test_unsupported_grammar_is_refused_not_misread(
    expression: str, github: dict[Any, Any]
) -> None:
    assert github[("success", expression)]["ok"], "GitHub accepts this; the case documents a gap"
    with pytest.raises(ExpressionError):
        evaluate(expression, CONTEXTS)


@pytest.mark.parametrize(
    ("status", "contexts", "expressions"),
    [("success", CONTEXTS, GENERATED), ("failure", FAILED_JOB, GENERATED_FAILED_JOB)],
    ids=["job-succeeding", "job-failed"],
)
def test_generated_expressions_agree_with_github(
    status: str, contexts: dict[str, Any], expressions: list[str], github: dict[Any, Any]
) -> None:
    found = _disagreements(github, status, contexts, expressions)
    assert not found, f"{len(found)} of {len(expressions)} disagree:\n" + "\n".join(found[:15])


def test_generated_cases_exercise_every_kind_of_answer(github: dict[Any, Any]) -> None:
    """A generator whose expressions all fail or all answer `false` would prove nothing."""
    answers = [github[("success", expr)] for expr in GENERATED]
    kinds = {answer.get("kind") for answer in answers if answer["ok"]}
    assert kinds == {"boolean", "string", "number", "null", "array", "object"}
    assert {a["value"] for a in answers if a.get("kind") == "boolean"} == {True, False}
    refused = sum(not answer["ok"] for answer in answers)
    assert len(answers) // 10 < refused < len(answers) // 2
    unwritten = sum(bool(ours(expr, CONTEXTS).get("number_text_differs")) for expr in GENERATED)
    assert unwritten < len(GENERATED) // 20, "too many numbers refused for their text"


def test_comparison_notices_a_wrong_answer() -> None:
    right = ours("inputs.count == 3", CONTEXTS)
    assert right["value"] is True
    wrong = {**right, "value": False, "truthy": False, "text": "false"}
    assert not agrees(wrong, right)
    assert not agrees({"ok": False, "error": "refused"}, right)
    assert not agrees(right, {"ok": False, "error": "refused"})
    assert agrees({"ok": False, "error": "ours"}, {"ok": False, "error": "theirs"})
