"""Repo names and descriptions follow GitHub's rules."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receiver.naming import MAX_DESCRIPTION, base_name, candidate, description, loggable, task_tag

VALID = re.compile(r"^[A-Za-z0-9._-]{1,100}$")


@pytest.mark.parametrize(
    ("task", "expected"),
    [
        ("sum-of-sales-601", "sum-of-sales-601"),
        ("SumOfSales", "SumOfSales"),
        ("my task / v2!", "my-task-v2"),
        ("  --weird..  ", "weird"),
        ("café au lait", "caf-au-lait"),
        ("app.git", "app"),
        ("x.git.git", "x"),
        ("日本語", "app"),
        ("", "app"),
        ("a" * 150, "a" * 100),
        ("a" * 99 + "-b", "a" * 99),
    ],
    ids=[
        "plain",
        "camel",
        "punctuation",
        "trim-dots-dashes",
        "non-ascii",
        "dot-git",
        "double-dot-git",
        "all-invalid",
        "empty",
        "too-long",
        "cut-at-dash",
    ],
)
def test_base_name(task: str, expected: str) -> None:
    assert base_name(task) == expected


@given(st.text(max_size=300))
def test_base_name_always_valid(task: str) -> None:
    name = base_name(task)
    assert VALID.match(name) and not name.endswith(".git") and name[0] not in "-."


@pytest.mark.parametrize(
    ("base", "n", "expected"),
    [
        ("app", 1, "app"),
        ("app", 2, "app-2"),
        ("app", 13, "app-13"),
        ("a" * 100, 2, "a" * 98 + "-2"),
    ],
    ids=["first", "second", "double-digit", "keeps-100"],
)
def test_candidate(base: str, n: int, expected: str) -> None:
    assert candidate(base, n) == expected
    assert len(candidate(base, n)) <= 100


@pytest.mark.parametrize(
    "task", ["sum-of-sales", "line\nbreak\ttab\x00nul", "x" * 500], ids=["plain", "control", "long"]
)
def test_description_is_short_and_clean(task: str) -> None:
    text = description(task, 2)
    assert len(text) <= MAX_DESCRIPTION and text.endswith("(round 2)")
    assert not re.search(r"[\x00-\x1f\x7f]", text)
    assert task_tag(task) in text  # the exact task id survives trimming and cleaning


@pytest.mark.parametrize(
    ("a", "b"),
    [("a/b/c", "a b c"), ("demo", "Demo"), ("x\ny", "x y"), ("x" * 500, "x" * 499 + "y")],
    ids=["slash-vs-space", "case", "control", "long-tail"],
)
def test_tasks_sharing_a_base_name_never_share_a_tag(a: str, b: str) -> None:
    assert base_name(a).lower() == base_name(b).lower() or len(a) > 100
    assert task_tag(a) != task_tag(b)
    assert task_tag(a) not in description(b, 1) and task_tag(b) not in description(a, 1)


@pytest.mark.parametrize(
    ("task", "expected"),
    [
        ("plain", "plain"),
        ("x\nINFO forged line", "x\\nINFO forged line"),
        ("a\rb\x00c\x1b[31m", "a\\rb\\x00c\\x1b[31m"),
    ],
    ids=["plain", "newline", "cr-nul-escape"],
)
def test_loggable_keeps_a_task_id_on_one_line(task: str, expected: str) -> None:
    assert loggable(task) == expected
    assert "\n" not in loggable(task) and "\r" not in loggable(task)
