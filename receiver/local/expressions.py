"""A small, pure evaluator for GitHub Actions ``${{ }}`` expressions, used by the local runner.

Semantics follow GitHub's documentation: property access on a missing key yields null (rendered
as ""), ``&&``/``||`` return operand values, ``==``/``!=`` coerce mismatched types to numbers and
compare strings case-insensitively, and a step ``if:`` without a status function is implicitly
``success() && (…)``. Contexts are plain nested dicts; the job status lives at ``job.status``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any


class ExpressionError(ValueError):
    """An expression could not be parsed or evaluated."""


_TOKEN = re.compile(
    r"\s*(?:(?P<num>0x[0-9a-fA-F]+|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)"
    r"|(?P<str>'(?:[^']|'')*')"
    r"|(?P<op>==|!=|<=|>=|&&|\|\||[<>!().,\[\]*])"
    r"|(?P<ident>[A-Za-z_][A-Za-z0-9_-]*))"
)
_FENCE = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
_STATUS_FUNCS = re.compile(r"\b(always|success|failure|cancelled)\s*\(", re.IGNORECASE)


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ExpressionError(f"Unexpected character at {pos} in expression {text!r}.")
        kind = m.lastgroup or ""
        tokens.append((kind, m.group(kind)))
        pos = m.end()
    return tokens


def _to_number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        s = value.strip()
        if s == "":
            return 0.0
        try:
            return float(int(s, 16)) if s.lower().startswith("0x") else float(s)
        except ValueError:
            return math.nan
    return math.nan


def truthy(value: Any) -> bool:
    """GitHub's truthiness: false, 0, "", null and NaN are falsy; objects are truthy."""
    if isinstance(value, float) and math.isnan(value):
        return False
    return value not in (None, False, 0, "")


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.casefold() == b.casefold()
    if isinstance(a, dict | list) or isinstance(b, dict | list):
        return a is b
    if type(a) is type(b) and a is None:
        return True
    return _to_number(a) == _to_number(b)


def _compare(op: str, a: Any, b: Any) -> bool:
    if op == "==":
        return _equal(a, b)
    if op == "!=":
        return not _equal(a, b)
    if isinstance(a, str) and isinstance(b, str):
        x: Any = a.casefold()
        y: Any = b.casefold()
    else:
        x, y = _to_number(a), _to_number(b)
    return {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]


def to_string(value: Any) -> str:
    """How a value appears when substituted into text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dict | list):
        return json.dumps(value, indent=2)
    return str(value)


def _lookup(obj: Any, key: Any) -> Any:
    if isinstance(obj, Mapping):
        if key in obj:
            return obj[key]
        # GitHub's context keys are case-insensitive.
        folded = str(key).casefold()
        for k, v in obj.items():
            if str(k).casefold() == folded:
                return v
        return None
    if isinstance(obj, list):
        try:
            return obj[int(_to_number(key))]
        except (IndexError, ValueError, OverflowError):
            return None
    return None


def _status(ctx: Mapping[str, Any]) -> str:
    job = ctx.get("job")
    status = job.get("status") if isinstance(job, Mapping) else None
    return str(status or "success").lower()


def _format(fmt: Any, *args: Any) -> str:
    text = to_string(fmt).replace("{{", "\x00").replace("}}", "\x01")
    text = re.sub(r"\{(\d+)\}", lambda m: to_string(args[int(m.group(1))]), text)
    return text.replace("\x00", "{").replace("\x01", "}")


def _contains(hay: Any, needle: Any) -> bool:
    if isinstance(hay, list):
        return any(_equal(item, needle) for item in hay)
    return to_string(needle).casefold() in to_string(hay).casefold()


_FUNCS: dict[str, Callable[..., Any]] = {
    "contains": _contains,
    "startswith": lambda a, b: to_string(a).casefold().startswith(to_string(b).casefold()),
    "endswith": lambda a, b: to_string(a).casefold().endswith(to_string(b).casefold()),
    "format": _format,
    "join": lambda a, sep=",": (
        to_string(sep).join(to_string(x) for x in a) if isinstance(a, list) else to_string(a)
    ),
    "tojson": lambda a: json.dumps(a, indent=2),
    "fromjson": lambda a: json.loads(to_string(a)),
}


class _Parser:
    def __init__(self, text: str, ctx: Mapping[str, Any]) -> None:
        self.tokens = _tokenize(text)
        self.pos = 0
        self.ctx = ctx
        self.text = text

    def _peek(self) -> str | None:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else None

    def _take(self, expected: str | None = None) -> tuple[str, str]:
        if self.pos >= len(self.tokens):
            raise ExpressionError(f"Unexpected end of expression {self.text!r}.")
        tok = self.tokens[self.pos]
        if expected is not None and tok[1] != expected:
            raise ExpressionError(f"Expected {expected!r}, found {tok[1]!r} in {self.text!r}.")
        self.pos += 1
        return tok

    def parse(self) -> Any:
        value = self._or()
        if self.pos != len(self.tokens):
            raise ExpressionError(f"Unexpected {self._peek()!r} in expression {self.text!r}.")
        return value

    def _or(self) -> Any:
        value = self._and()
        while self._peek() == "||":
            self._take()
            right = self._and()
            value = value if truthy(value) else right
        return value

    def _and(self) -> Any:
        value = self._cmp()
        while self._peek() == "&&":
            self._take()
            right = self._cmp()
            value = right if truthy(value) else value
        return value

    def _cmp(self) -> Any:
        value = self._unary()
        while self._peek() in ("==", "!=", "<", "<=", ">", ">="):
            op = self._take()[1]
            value = _compare(op, value, self._unary())
        return value

    def _unary(self) -> Any:
        if self._peek() == "!":
            self._take()
            return not truthy(self._unary())
        return self._postfix(self._primary())

    def _postfix(self, value: Any) -> Any:
        while self._peek() in (".", "["):
            if self._take()[1] == ".":
                kind, name = self._take()
                if kind != "ident" and name != "*":
                    raise ExpressionError(f"Expected a property name after '.' in {self.text!r}.")
                value = _lookup(value, name)
            else:
                key = self._or()
                self._take("]")
                value = _lookup(value, key)
        return value

    def _primary(self) -> Any:
        kind, tok = self._take()
        if kind == "num":
            return _to_number(tok)
        if kind == "str":
            return tok[1:-1].replace("''", "'")
        if tok == "(":
            value = self._or()
            self._take(")")
            return value
        if kind != "ident":
            raise ExpressionError(f"Unexpected {tok!r} in expression {self.text!r}.")
        low = tok.lower()
        if low in ("true", "false"):
            return low == "true"
        if low == "null":
            return None
        if self._peek() == "(":
            return self._call(low)
        return _lookup(self.ctx, tok)

    def _call(self, name: str) -> Any:
        self._take("(")
        args: list[Any] = []
        while self._peek() != ")":
            args.append(self._or())
            if self._peek() == ",":
                self._take()
        self._take(")")
        status = _status(self.ctx)
        if name == "always":
            return True
        if name == "success":
            return status == "success"
        if name == "failure":
            return status == "failure"
        if name == "cancelled":
            return status == "cancelled"
        if name not in _FUNCS:
            raise ExpressionError(f"Unknown function {name}() in expression {self.text!r}.")
        try:
            return _FUNCS[name](*args)
        except (TypeError, IndexError, ValueError) as exc:
            raise ExpressionError(f"{name}() failed in {self.text!r}: {exc}") from None


def evaluate(expr: str, ctx: Mapping[str, Any]) -> Any:
    """Evaluate one expression (without the ``${{ }}`` fence) against the contexts."""
    return _Parser(expr, ctx).parse()


def substitute(text: str, ctx: Mapping[str, Any]) -> str:
    """Replace every ``${{ … }}`` in text with its value rendered as a string."""
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
    if not _STATUS_FUNCS.search(text):
        text = f"success() && ({text})"
    return truthy(evaluate(text, ctx))
