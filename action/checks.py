"""Sort a request's checks into JavaScript to run in a browser and sentences for a judge."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

CheckKind = Literal["js", "text"]


@dataclass(frozen=True)
class Check:
    """One check as the verifier sees it: its kind, the text to run or read, and the original."""

    kind: CheckKind
    source: str
    original: str | dict[str, str]


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one deterministic (static) check."""

    name: str
    passed: bool
    detail: str = ""
    fixable: bool = True  # False: no answer of the model can fix it (so no repair is asked)


_JS_PREFIX = re.compile(r"^\s*(?:js|javascript)\s*:\s*", re.IGNORECASE)
# Tokens that only make sense as code; any one of them is a strong hint.
_JS_MARKERS = (
    "document.",
    "window.",
    "===",
    "!==",
    "!!",
    "=>",
    "Math.",
    "querySelector",
    "localStorage",
    "JSON.",
    "getElementById",
    "location.",
    "navigator.",
)
_STRING_LITERAL = re.compile(r"\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'|`(?:\\.|[^`\\])*`")
# Little words that fill English sentences but rarely stand alone in an expression.
_ENGLISH = frozenset(
    [
        "a",
        "an",
        "the",
        "is",
        "are",
        "be",
        "has",
        "have",
        "should",
        "must",
        "shows",
        "show",
        "displays",
        "display",
        "contains",
        "contain",
        "and",
        "or",
        "that",
        "this",
        "when",
        "with",
        "page",
        "file",
        "files",
        "exists",
        "exist",
        "uses",
        "use",
        "it",
        "its",
        "not",
    ]
)
_CODE_PUNCTUATION = re.compile(r"[()\[\]=<>!&|+]")


def _is_sentence(text: str) -> bool:
    """True when the text, string literals aside, reads as English rather than code."""
    bare = _STRING_LITERAL.sub(" ", text)
    words = re.findall(r"[A-Za-z]+", bare)
    filler = sum(1 for w in words if w in _ENGLISH)
    return filler >= 3 or not _CODE_PUNCTUATION.search(bare)


def looks_like_js(text: str) -> bool:
    """Heuristic: a bare check is JavaScript when it carries code markers and is not prose."""
    stripped = text.strip()
    if not stripped:
        return False
    marked = any(m in stripped for m in _JS_MARKERS) or stripped[0] in "(!"
    return marked and not _is_sentence(stripped)


def _clean_js(expr: str) -> str:
    # A trailing semicolon would break the `(EXPR)` wrapper the browser evaluates.
    return expr.strip().rstrip(";").strip()


def classify(item: str | dict[str, str]) -> Check:
    """Normalise one request check (`js: …`, `{"js": …}`, bare expression, or sentence)."""
    if isinstance(item, dict):
        js = item.get("js")
        if isinstance(js, str) and js.strip():
            return Check("js", _clean_js(js), item)
        text = next((v for v in item.values() if isinstance(v, str)), str(item))
        return Check("text", text.strip(), item)
    text = str(item)
    prefixed = _JS_PREFIX.match(text)
    if prefixed:
        return Check("js", _clean_js(text[prefixed.end() :]), item)
    if looks_like_js(text):
        return Check("js", _clean_js(text), item)
    return Check("text", text.strip(), item)


def normalise(items: list[str | dict[str, str]]) -> list[Check]:
    """Classify every check of a request, keeping their order."""
    return [classify(item) for item in items]


def js_sources(checks: list[Check]) -> list[str]:
    """The JavaScript expressions among normalised checks."""
    return [c.source for c in checks if c.kind == "js"]


def js_failure(source: str, status: str, detail: str) -> str:
    """The repair-prompt line for a JavaScript check's result; "" when it did not fail."""
    if status == "fail":
        return f"JavaScript check `{source}` was falsy: it {detail}."
    if status == "error":
        return f"JavaScript check `{source}` threw: {detail}"
    return ""
