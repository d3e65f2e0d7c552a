"""The ${{ }} evaluator behaves like GitHub Actions on the constructs our workflows use.

These run without Node; tests/test_expressions_oracle.py checks the same rules (and many
generated expressions) against GitHub's own evaluator.
"""

from __future__ import annotations

from typing import Any

import pytest

from receiver.local.expressions import ExpressionError, evaluate, evaluate_if, substitute

CTX: dict[str, Any] = {
    "inputs": {"round": "2", "deploy": "true", "payload-key": "k", "empty": ""},
    "secrets": {"LLM_API_KEY": "sk-1"},
    "steps": {"gen": {"outputs": {"commit-sha": "abc123", "n": "3"}}},
    "github": {"action_path": "/a", "repository": "local/app", "server_url": "file:///d"},
    "runner": {"temp": "/t"},
    "env": {"MODE": "Local"},
    "job": {"status": "success"},
}
FAILED = {**CTX, "job": {"status": "failure"}}


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("inputs.round", "2"),
        ("inputs.payload-key", "k"),
        ("secrets.llm_api_key", "sk-1"),
        ("steps.gen.outputs.commit-sha", "abc123"),
        ("steps['gen'].outputs['n']", "3"),
        ("steps.missing.outputs.x", None),
        ("github.nothing", None),
        ("'it''s'", "it's"),
        ("42", 42.0),
        ("0x10", 16.0),
        ("true", True),
        ("null", None),
        ("inputs.round == 2", True),
        ("inputs.round == '2'", True),
        ("env.MODE == 'LOCAL'", True),
        ("env.MODE != 'local'", False),
        ("inputs.empty == ''", True),
        ("steps.missing.outputs.x == ''", True),
        ("inputs.deploy == 'true' && inputs.round", "2"),
        ("inputs.empty || 'fallback'", "fallback"),
        ("inputs.empty && 'x'", ""),
        ("!inputs.empty", True),
        ("!(inputs.round == '2')", False),
        ("(inputs.round == '1') || (inputs.round == '2')", True),
        ("steps.gen.outputs.n > 2", True),
        ("contains('Hello', 'ELL')", True),
        ("startsWith(github.repository, 'local/')", True),
        ("format('{0}-{1}', 'a', 1)", "a-1"),
        ("fromJSON('[1,2]')[1]", 2),
        ("always()", True),
        ("success()", True),
        ("failure()", False),
        ("cancelled()", False),
        ("2 == 2 < 3", False),
        ("false && fromJSON('not json')", False),
        ("'' || inputs.round", "2"),
        ("fromJSON('[1,2]')[-1]", None),
        ("steps.*.outputs.n", ["3"]),
        ("fromJSON('[[1], [2, 3]]').*[1]", [3]),
        ("format('{0}|{1}', fromJSON('[1]'), steps)", "Array|Object"),
        ("format('{0} {1} {2}', 0.1, 123456789012345, 4.35)", "0.1 123456789012345 4.35"),
        ("format('{0} {1}', 0.0001, 1e400)", "0.0001 Infinity"),
        ("1.23456789012345678 == 1.2345678901234567", True),
        ("toJSON(fromJSON('[1, 2.5, 0]'))", "[\n  1,\n  2.5,\n  0\n]"),
        ("toJSON('é')", '"é"'),
        ("contains(steps.gen.outputs, 'n')", False),
        ("startsWith(fromJSON('[]'), '')", False),
        ("join(fromJSON('[[1], 2, null]'), '-')", "Array-2-"),
        ("'a' < '_'", True),
        ("fromJSON('[]') <= fromJSON('[]')", False),
        ("'a''b''c'", "a'b'c"),
        ("-Infinity < 0x10 && 0o10 == 8", True),
    ],
    ids=lambda v: str(v),
)
def test_evaluate(expr: str, expected: Any) -> None:
    assert evaluate(expr, CTX) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", "plain"),
        ("${{ inputs.round }}", "2"),
        ("r=${{inputs.round}} p=${{ github.action_path }}/x", "r=2 p=/a/x"),
        ("${{ steps.nope.outputs.x }}", ""),
        ("${{ inputs.deploy == 'true' }}", "true"),
        ("${{ 3 }}", "3"),
        ("${{ runner.temp }}/venv", "/t/venv"),
        ("${{ format('{{0}}') }}", "{0}"),
        ("a ${{ '}}' }} b ${{ 'it''s}}' }}", "a }} b it's}}"),
        ("${{ '{{ literal }}' }}", "{{ literal }}"),
        ("x}}${{ 1 }}}", "x}}1}"),
    ],
    ids=[
        "no-fence",
        "one",
        "two",
        "missing",
        "bool",
        "number",
        "runner-temp",
        "braces-in-string",
        "close-in-string",
        "literal-braces",
        "stray-braces",
    ],
)
def test_substitute(text: str, expected: str) -> None:
    assert substitute(text, CTX) == expected


@pytest.mark.parametrize(
    ("expr", "ctx", "expected"),
    [
        (None, CTX, True),
        ("", FAILED, False),
        ("inputs.deploy == 'true'", CTX, True),
        ("${{ inputs.deploy == 'true' }}", CTX, True),
        ("inputs.deploy == 'true'", FAILED, False),
        ("always()", FAILED, True),
        ("${{ always() && inputs.round == '2' }}", FAILED, True),
        ("failure()", FAILED, True),
        ("failure()", CTX, False),
        ("success()", FAILED, False),
        ("inputs.deploy != 'true'", CTX, False),
        ("${{ inputs.round }} == 2", CTX, True),
        (True, FAILED, False),
    ],
    ids=[
        "default-ok",
        "default-failed",
        "bare",
        "fenced",
        "implicit-success-failed",
        "always",
        "always-and",
        "failure-when-failed",
        "failure-when-ok",
        "success-when-failed",
        "ne",
        "partly-fenced",
        "bool-failed",
    ],
)
def test_evaluate_if(expr: Any, ctx: dict[str, Any], expected: bool) -> None:
    assert evaluate_if(expr, ctx) is expected


@pytest.mark.parametrize(
    "expr",
    [
        "inputs.",
        "(1 == 1",
        "'unterminated",
        "nosuch(1)",
        "1 ==",
        "a $ b",
        "TRUE",
        "Null",
        "input.round",
        "false && nosuchcontext.x",
        "'abc'.length",
        "success(1)",
        "join()",
        "format('{', 1)",
        "format('{0}}', 1)",
        "format('{ 0}', 1)",
        "format('{1}', 1)",
        "format('x',)",
        "contains('a' 'b')",
        "fromJSON('NaN')",
        "case(true, 1, 2)",
        "(" * 60 + "1" + ")" * 60,
        "format('{0}', 1.23456789012345678)",
        "format('{0}', 0.00001)",
        "join(fromJSON('[1e21]'))",
        "toJSON(-0)",
        " == ".join(["1"] * 3000),
        "fromJSON('" + "[" * 3000 + "]" * 3000 + "')",
    ],
    ids=[
        "dangling-dot",
        "paren",
        "string",
        "unknown-func",
        "missing-operand",
        "bad-char",
        "upper-case-true",
        "capitalised-null",
        "unknown-context",
        "unknown-context-skipped",
        "property-of-literal",
        "status-with-argument",
        "too-few-arguments",
        "format-open-brace",
        "format-close-brace",
        "format-space",
        "format-missing-argument",
        "trailing-comma",
        "missing-comma",
        "json-nan",
        "case-unsupported",
        "too-deep",
        "number-16-digits",
        "number-1e-05",
        "number-1e21",
        "number-minus-zero",
        "too-long-to-evaluate",
        "json-too-deep",
    ],
)
def test_errors(expr: str) -> None:
    with pytest.raises(ExpressionError):
        evaluate(expr, CTX)


@pytest.mark.parametrize("text", ["${{ inputs.round", "a ${{ '}}' b", "${{ }}", "${{}}x"])
def test_an_unclosed_or_empty_expression_is_refused(text: str) -> None:
    with pytest.raises(ExpressionError):
        substitute(text, CTX)


def test_an_array_or_object_as_a_whole_value_is_refused_as_text() -> None:
    assert substitute("n=${{ steps.gen.outputs }}", CTX) == "n=Object"
    with pytest.raises(ExpressionError, match="toJSON"):
        substitute("${{ steps.gen.outputs }}", CTX)


def test_a_status_function_inside_a_string_is_not_a_status_check() -> None:
    assert evaluate_if("contains('always()', 'x')", CTX) is False
    assert evaluate_if("!contains('always()', 'x')", FAILED) is False
    assert evaluate_if("always() && !contains('always()', 'x')", FAILED) is True


def test_a_condition_too_long_to_evaluate_is_refused_not_crashed() -> None:
    with pytest.raises(ExpressionError, match="too long"):
        evaluate_if(" == ".join(["1"] * 3000), CTX)
