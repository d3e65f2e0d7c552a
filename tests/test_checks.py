"""Classifying request checks into browser JavaScript and judge sentences."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from action.checks import classify, js_sources, looks_like_js, normalise

TASKS = Path(__file__).resolve().parents[2] / "shared" / "tasks"

# Every check string in the shared corpus, with the kind it must get.
CORPUS_KINDS = {
    "Analyze-r1": ["text"] * 7,
    "LLMPages-r1": ["text"] * 11,
    "SumOfSales-r1": ["js", "js"],
    "captcha-solver-r1": ["text"] * 4,
    "github-user-created-9b2c4-r1": ["js"] * 3,
    "github-user-created-9b2c4-r2a": ["js"] * 2,
    "github-user-created-9b2c4-r2c": ["js"] * 2,
    "markdown-to-html-3f1a2-r1": ["js"] * 3,
    "markdown-to-html-3f1a2-r2a": ["js"] * 2,
    "markdown-to-html-3f1a2-r2b": ["js"] * 2,
    "sum-of-sales-601-r1": ["js"] * 3,
    "sum-of-sales-601-r2a": ["js"] * 2,
    "sum-of-sales-601-r2b": ["js"] * 2,
}


def test_table_covers_the_whole_corpus() -> None:
    assert sorted(CORPUS_KINDS) == sorted(p.stem for p in TASKS.glob("*.json"))


@pytest.mark.parametrize("stem", sorted(CORPUS_KINDS))
def test_corpus_checks_are_classified(stem: str) -> None:
    raw = json.loads((TASKS / f"{stem}.json").read_text("utf-8"))["checks"]
    checks = normalise(raw)
    assert [c.kind for c in checks] == CORPUS_KINDS[stem]
    for check, original in zip(checks, raw, strict=True):
        assert check.original == original
        if check.kind == "js":
            assert not check.source.startswith("js:")
            assert original.endswith(check.source) if isinstance(original, str) else True


@pytest.mark.parametrize(
    ("item", "kind", "source"),
    [
        ("js: document.title === 'A'", "js", "document.title === 'A'"),
        ("JS:document.title === 'A';", "js", "document.title === 'A'"),
        ({"js": "!!document.querySelector('h1')"}, "js", "!!document.querySelector('h1')"),
        ({"js": " "}, "text", ""),
        ({"check": "Page has a title"}, "text", "Page has a title"),
        ("document.title === 'A'", "js", "document.title === 'A'"),
        ("!!window.marked", "js", "!!window.marked"),
        ("(() => 1 + 1 === 2)()", "js", "(() => 1 + 1 === 2)()"),
        ("await fetch('x').then(r => r.ok)", "js", "await fetch('x').then(r => r.ok)"),
        (
            "Math.abs(+document.body.dataset.n - 3) < 0.1",
            "js",
            "Math.abs(+document.body.dataset.n - 3) < 0.1",
        ),
        (
            "The page shows the document.title in the header",
            "text",
            "The page shows the document.title in the header",
        ),
        (
            "document.title is the same as the brief asks",
            "text",
            "document.title is the same as the brief asks",
        ),
        (
            "Page displays captcha URL passed at ?url=...",
            "text",
            "Page displays captcha URL passed at ?url=...",
        ),
        ("", "text", ""),
    ],
    ids=[
        "js-prefix",
        "js-prefix-upper-semicolon",
        "js-object",
        "js-object-blank",
        "other-object",
        "bare-title",
        "bare-double-bang",
        "bare-arrow-iife",
        "bare-promise",
        "bare-math",
        "sentence-mentions-document",
        "sentence-starts-with-document",
        "sentence-with-query",
        "empty",
    ],
)
def test_classify(item: str | dict[str, str], kind: str, source: str) -> None:
    check = classify(item)
    assert (check.kind, check.source) == (kind, source)


def test_js_sources_keeps_order_and_drops_sentences() -> None:
    checks = normalise(["js: a === 1", "A sentence for the judge", {"js": "b === 2"}])
    assert js_sources(checks) == ["a === 1", "b === 2"]
    assert looks_like_js("querySelector('x') !== null")
