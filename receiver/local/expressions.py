"""A small, pure evaluator for GitHub Actions ``${{ }}`` expressions, used by the local runner.

It follows GitHub's own evaluator (npm ``@actions/expressions``, checked against it in
tests/test_expressions_oracle.py): the syntax is in expression_parser.py, what values mean
(coercion, text, comparison, indexing) in expression_values.py; here are the functions, the
evaluation (``&&``/``||`` short-circuit and return an operand) and the runner's entry points.
A step ``if:`` without a status function is implicitly ``success() && (…)``. Contexts are plain
nested dicts; their keys are the names an expression may use, and the job status lives at
``job.status``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from receiver.local import expression_parser as ast
from receiver.local.expression_parser import ExpressionError
from receiver.local.expression_values import (
    COMPARE,
    JS_SPACE,
    equal,
    get_key,
    index,
    is_primitive,
    kind_of,
    to_json,
    to_string,
    truthy,
    upper,
)

__all__ = ["ExpressionError", "evaluate", "evaluate_if", "substitute", "to_string", "truthy"]


def _format(fmt: Any, *args: Any) -> str:
    """GitHub's format(): {N} is argument N, {{ and }} are braces, anything else is an error."""
    text, out, i = to_string(fmt), [], 0
    invalid = ExpressionError(f"The format string {text!r} is invalid.")
    while i < len(text):
        left, right = text.find("{", i), text.find("}", i)
        if left >= 0 and (right < 0 or right > left):
            if text[left + 1 : left + 2] == "{":
                out.append(text[i : left + 1])
                i = left + 2
                continue
            digits = re.match(r"[0-9]*", text[left + 1 :])
            if right <= left + 1 or not digits or not digits.group():
                raise invalid
            n = int(digits.group())
            if n >= len(args):
                raise ExpressionError(f"The format string {text!r} needs more arguments.")
            out += [text[i:left], to_string(args[n])]
            i = right + 1
        elif right >= 0:
            if text[right + 1 : right + 2] != "}":
                raise invalid
            out.append(text[i : right + 1])
            i = right + 2
        else:
            out.append(text[i:])
            break
    return "".join(out)


def _contains(hay: Any, needle: Any) -> bool:
    if isinstance(hay, list):
        return any(equal(needle, item) for item in hay)
    if is_primitive(hay) and is_primitive(needle):
        return to_string(needle).lower() in to_string(hay).lower()
    return False


def _affix(test: Callable[[str, str], bool]) -> Callable[[Any, Any], bool]:
    def check(text: Any, affix: Any) -> bool:
        if not (is_primitive(text) and is_primitive(affix)):
            return False
        return test(upper(to_string(text)), upper(to_string(affix)))

    return check


def _join(items: Any, separator: Any = ",") -> str:
    if is_primitive(items):
        return to_string(items)
    if isinstance(items, list):
        sep = to_string(separator) if is_primitive(separator) else ","
        return sep.join(to_string(item) for item in items)
    return ""


def _from_json(text: Any) -> Any:
    source = to_string(text)
    if not source.strip(JS_SPACE):
        raise ExpressionError("fromJSON() was given empty input.")

    def reject(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")

    try:
        return json.loads(source, parse_constant=reject)
    except (ValueError, RecursionError) as exc:
        raise ExpressionError(f"fromJSON() could not parse {source[:80]!r}: {exc}") from None


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "contains": _contains,
    "startswith": _affix(lambda text, affix: text.startswith(affix)),
    "endswith": _affix(lambda text, affix: text.endswith(affix)),
    "format": _format,
    "join": _join,
    "tojson": to_json,
    "fromjson": _from_json,
}


def _status(ctx: Mapping[str, Any]) -> str:
    job = ctx.get("job")
    status = job.get("status") if isinstance(job, Mapping) else None
    return str(status or "success").lower()


def _eval(node: ast.Node, ctx: Mapping[str, Any]) -> Any:
    match node:
        case ast.Literal(value):
            return value
        case ast.Context(name):
            return get_key(ctx, name)
        case ast.Index(obj, key):
            key_value = None if key is None else _eval(key, ctx)
            return index(_eval(obj, ctx), key_value, star=key is None)
        case ast.Not(operand):
            return not truthy(_eval(operand, ctx))
        case ast.Compare(op, left, right):
            return COMPARE[op](_eval(left, ctx), _eval(right, ctx))
        case ast.Logical(op, args):
            for arg in args:
                value = _eval(arg, ctx)
                if truthy(value) == (op == "||"):
                    break
            return value
        case ast.Call(name, args):
            values = [_eval(arg, ctx) for arg in args]
            if name in ast.STATUS_FUNCTIONS:
                return name == "always" or _status(ctx) == name
            return _FUNCTIONS[name](*values)
    raise AssertionError(f"unknown expression node {node!r}")


def _checked(node: ast.Node, ctx: Mapping[str, Any], text: str) -> Any:
    try:
        return _eval(node, ctx)
    except RecursionError:  # e.g. thousands of chained == that GitHub's depth limit lets through
        raise ExpressionError(f"The expression {text[:80]!r}… is too long to evaluate.") from None


def evaluate(expr: str, ctx: Mapping[str, Any]) -> Any:
    """Evaluate one expression (without the ``${{ }}`` fence) against the contexts."""
    return _checked(ast.parse(expr, list(ctx)), ctx, expr)


def _segments(text: str) -> list[tuple[bool, str]]:
    """Text as (is_expression, content) pieces, cut as GitHub's template reader cuts it: an
    expression runs from ``${{`` to the first ``}}`` outside a single-quoted string."""
    pieces: list[tuple[bool, str]] = []
    done = 0
    while (start := text.find("${{", done)) >= 0:
        if start > done:
            pieces.append((False, text[done:start]))
        in_string, end = False, -1
        for i in range(start + 3, len(text)):
            if text[i] == "'":
                in_string = not in_string
            elif not in_string and text[i] == "}" and text[i - 1] == "}":
                end = i
                break
        if end < 0:
            raise ExpressionError(f"An expression in {text[:80]!r} is not closed with '}}}}'.")
        if not text[start + 3 : end - 1].strip():
            raise ExpressionError(f"An empty ${{{{ }}}} in {text[:80]!r}.")
        pieces.append((True, text[start + 3 : end - 1]))
        done = end + 1
    if done < len(text):
        pieces.append((False, text[done:]))
    return pieces


def substitute(text: str, ctx: Mapping[str, Any]) -> str:
    """Replace every ``${{ … }}`` in text with its value rendered as a string.

    Text around an expression makes GitHub render it with format(), where an array reads
    ``Array`` and an object ``Object``; an array or object as the whole value is refused, as
    GitHub refuses one where text is expected (toJSON() turns it into text).
    """
    pieces = _segments(text)
    if len(pieces) == 1 and pieces[0][0]:
        value = evaluate(pieces[0][1], ctx)
        if not is_primitive(value):
            raise ExpressionError(
                f"{text!r} is an {kind_of(value)}, not text; write ${{{{ toJSON(…) }}}} instead."
            )
        return to_string(value)
    return "".join(to_string(evaluate(part, ctx)) if is_expr else part for is_expr, part in pieces)


def evaluate_if(expr: str | bool | None, ctx: Mapping[str, Any]) -> bool:
    """Decide a step ``if:``; empty means success(), no status function means success() && …."""
    if expr is None or (isinstance(expr, str) and not expr.strip()):
        return _status(ctx) == "success"
    if isinstance(expr, bool):
        return expr and _status(ctx) == "success"
    text = str(expr).strip()
    pieces = _segments(text)
    if len(pieces) == 1 and pieces[0][0]:
        text = pieces[0][1].strip()
    elif len(pieces) > 1:
        # Partly fenced text like "${{ a }} == b" is first rendered, then evaluated as a string.
        text = substitute(text, ctx)
        return truthy(text) and _status(ctx) == "success"
    node = ast.parse(text, list(ctx))
    if not ast.calls_status_function(node):
        node = ast.Logical("&&", (ast.Call("success", ()), node))
    return truthy(_checked(node, ctx, text))
