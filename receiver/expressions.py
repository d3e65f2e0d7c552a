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

from receiver import expression_parser as ast
from receiver.expression_parser import ExpressionError
from receiver.expression_values import (
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

_FENCE = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)


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


def substitute(text: str, ctx: Mapping[str, Any]) -> str:
    """Replace every ``${{ … }}`` in text with its value rendered as a string.

    Text around an expression makes GitHub render it with format(), where an array reads
    ``Array`` and an object ``Object``; an array or object as the whole value is refused, as
    GitHub refuses one where text is expected (toJSON() turns it into text).
    """
    whole = _FENCE.fullmatch(text)
    if whole and not is_primitive(value := evaluate(whole.group(1), ctx)):
        raise ExpressionError(
            f"{text!r} is an {kind_of(value)}, not text; write ${{{{ toJSON(…) }}}} to pass it on."
        )
    return _FENCE.sub(lambda m: to_string(evaluate(m.group(1), ctx)), text)


def evaluate_if(expr: str | bool | None, ctx: Mapping[str, Any]) -> bool:
    """Decide a step ``if:``; empty means success(), no status function means success() && …."""
    if expr is None or (isinstance(expr, str) and not expr.strip()):
        return _status(ctx) == "success"
    if isinstance(expr, bool):
        return expr and _status(ctx) == "success"
    text = str(expr).strip()
    fenced = _FENCE.fullmatch(text)
    if fenced:
        text = fenced.group(1).strip()
    elif "${{" in text:
        # Partly fenced text like "${{ a }} == b" is first rendered, then evaluated as a string.
        text = substitute(text, ctx)
        return truthy(text) and _status(ctx) == "success"
    node = ast.parse(text, list(ctx))
    if not ast.calls_status_function(node):
        node = ast.Logical("&&", (ast.Call("success", ()), node))
    return truthy(_checked(node, ctx, text))
