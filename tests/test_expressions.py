"""The ${{ }} evaluator behaves like GitHub Actions on the constructs our workflows use."""

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
    ],
    ids=["no-fence", "one", "two", "missing", "bool", "number", "runner-temp"],
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
        "default-ok", "default-failed", "bare", "fenced", "implicit-success-failed",
        "always", "always-and", "failure-when-failed", "failure-when-ok", "success-when-failed",
        "ne", "partly-fenced", "bool-failed",
    ],
)
def test_evaluate_if(expr: Any, ctx: dict[str, Any], expected: bool) -> None:
    assert evaluate_if(expr, ctx) is expected


@pytest.mark.parametrize(
    "expr",
    ["inputs.", "(1 == 1", "'unterminated", "nosuch(1)", "1 ==", "a $ b"],
    ids=["dangling-dot", "paren", "string", "unknown-func", "missing-operand", "bad-char"],
)
def test_errors(expr: str) -> None:
    with pytest.raises(ExpressionError):
        evaluate(expr, CTX)
