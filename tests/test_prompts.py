"""Prompt building over the request corpus: checks verbatim, attachments named, never inlined."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from action.job import Attachment, Job
from action.prompts import (
    correction_message,
    describe_check,
    generation_messages,
    repair_message,
    select_files,
    whole_file_request,
)
from tests.conftest import load_task, task_names

ROUND1_FILES = {
    "index.html": '<!doctype html>\n<html><head><title>Old</title><script>fetch("data.csv")'
    '</script></head><body><div id="total-sales"></div></body></html>\n',
    "README.md": "# Old app\n\n## Summary\nSums sales.\n",
    "LICENSE": "MIT License\n\nPermission is hereby granted…\n",
    "data.csv": "product,sales\nA,1\n",
    "logo.png": "\x89PNG\x00\x00",
}


def job_from(request: dict[str, Any]) -> Job:
    return Job(
        task=request["task"],
        round=request["round"],
        brief=request["brief"],
        checks=request["checks"],
        attachments=[
            Attachment(a["name"], base64.b64decode(a["url"].split(",", 1)[1]))
            for a in request["attachments"]
        ],
    )


def build(name: str) -> tuple[Job, list[dict[str, str]]]:
    job = job_from(load_task(name))
    current = ROUND1_FILES if job.round == 2 else None
    return job, generation_messages(job, attachment_notes=[], current_files=current)


@pytest.mark.parametrize("name", task_names())
def test_messages_carry_the_request(name: str) -> None:
    job, messages = build(name)
    assert [m["role"] for m in messages] == ["system", "user"]
    text = "\n".join(m["content"] for m in messages)
    assert job.brief.strip() in text
    for check in job.checks:
        assert (check["js"] if isinstance(check, dict) else check) in text
    for att in job.attachments:
        assert att.name in text
        encoded = base64.b64encode(att.data).decode()
        assert encoded[:40] not in text
    assert '<file path="relative/path">' in text and "</file>" in text
    assert "FIRST <script>" in text
    assert "README.md" in text and "do not write LICENSE" in text


@pytest.mark.parametrize("name", [n for n in task_names() if "-r2" in n])
def test_round2_sends_current_text_files_and_allows_edits(name: str) -> None:
    _, messages = build(name)
    user = messages[1]["content"]
    assert ROUND1_FILES["index.html"] in user
    assert ROUND1_FILES["README.md"] in user
    assert '<current-file path="index.html">' in user
    assert "Permission is hereby granted" not in user  # LICENSE listed, not sent
    assert "LICENSE" in user and "logo.png" in user
    assert "<edit path=" in user and "<search>" in user
    assert "update README.md" in user


@pytest.mark.parametrize("name", [n for n in task_names() if n.endswith("-r1")])
def test_round1_asks_for_the_whole_app_without_edits(name: str) -> None:
    _, messages = build(name)
    assert "Build the complete app" in messages[1]["content"]
    assert "<edit" not in "".join(m["content"] for m in messages)


@pytest.mark.parametrize(
    ("check", "browser", "shown"),
    [
        ("js: document.title === `X`", True, "js: document.title === `X`"),
        ('document.title === "Sales Summary 601"', True, 'document.title === "Sales Summary 601"'),
        ({"js": "!!document.querySelector('#a')"}, True, "!!document.querySelector('#a')"),
        ("README.md is professional", False, "README.md is professional"),
        ('execute.py does not contain the typo "revenew"', False, None),
    ],
    ids=["js-prefix", "bare-expression", "object", "sentence", "sentence-with-quotes"],
)
def test_checks_are_labelled(check: Any, browser: bool, shown: str | None) -> None:
    view = describe_check(check)
    assert view.browser is browser
    assert view.text == (shown if shown is not None else check)


@pytest.mark.parametrize(
    ("allow", "expected", "absent"),
    [
        (False, "they would be skipped", "ruff check ."),
        (True, "ruff check .", "they would be skipped"),
    ],
    ids=["workflows-refused", "workflows-allowed"],
)
def test_workflow_instructions(allow: bool, expected: str, absent: str) -> None:
    job = job_from(load_task("Analyze-r1"))
    user = generation_messages(job, attachment_notes=[], allow_workflows=allow)[1]["content"]
    assert expected in user and absent not in user


def test_attachment_notes_replace_the_default_line() -> None:
    job = job_from(load_task("sum-of-sales-601-r1"))
    note = "data.csv: CSV, 40 rows, columns product,region,sales"
    user = generation_messages(job, attachment_notes=[note])[1]["content"]
    assert f"- {note}" in user and "bytes)" not in user


def test_select_files_trims_to_budget_and_lists_the_rest() -> None:
    files = {
        "index.html": "<script>" + "a" * 5_000 + "</script>",
        "app.js": "b" * 3_000,
        "notes.txt": "c" * 3_000,
        "data.csv": "x,y\n",
        ".github/workflows/ci.yml": "on: push\n",
    }
    shown, listed = select_files(files, attachments={"data.csv"}, budget=8_000, limit=4_000)
    by_path = {f.path: f for f in shown}
    assert list(by_path) == ["index.html", "app.js"]
    index = by_path["index.html"]
    assert index.trimmed > 0 and index.content.startswith("<script>")
    assert index.content.endswith("</script>")
    assert by_path["app.js"].trimmed == 0
    assert set(listed) == {"notes.txt", "data.csv", ".github/workflows/ci.yml"}


def test_trimmed_files_must_be_edited_not_resent() -> None:
    job = job_from(load_task("sum-of-sales-601-r2a"))
    big = {"index.html": "<p>" + "word " * 30_000 + "</p>"}
    user = generation_messages(job, attachment_notes=[], current_files=big)[1]["content"]
    assert "with <edit> blocks only" in user
    assert len(user) < 40_000


def test_follow_up_messages() -> None:
    correction = correction_message("no <file> block found", round2=True)
    assert correction["role"] == "user"
    assert "no <file> block found" in correction["content"]
    assert '<file path="relative/path">' in correction["content"]
    assert "<edit" in correction["content"]
    assert "<edit" not in correction_message("x")["content"]

    failures = ['document.title === "X" was false', "#total-sales is missing"]
    repair = repair_message(failures)["content"]
    assert all(f"- {f}" in repair for f in failures)
    assert "Keep everything else" in repair

    whole = whole_file_request(["index.html", "app.js"])["content"]
    assert "index.html, app.js" in whole and "whole" in whole
    assert "this file:" in whole_file_request(["index.html"])["content"]
