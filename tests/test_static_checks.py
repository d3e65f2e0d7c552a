"""Deterministic checks of built files: names, attachments, LICENSE, README, links, JSON, SVG."""

from __future__ import annotations

from pathlib import Path

import pytest

from action.checks import CheckResult, normalise
from action.job import Attachment
from action.static_checks import (
    check_attachments,
    check_first_script,
    check_index_links,
    check_json_files,
    check_license,
    check_readme,
    check_svg_files,
    named_files,
    run_static_checks,
)
from tests.apps.build import build_app, job_for, task_stems, wrong_spec

GOOD_README = (
    "# App\n## Overview\nx\n## Installation\nx\n## Usage\nx\n## How it works\nx\n## License\nMIT\n"
)


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, "utf-8")
    return root


def _failed(results: list[CheckResult]) -> list[str]:
    return [r.name for r in results if not r.passed]


@pytest.mark.parametrize(
    ("brief", "required", "forbidden"),
    [
        ("Publish ashravan.txt and uid.txt: upload as-is", ["ashravan.txt", "uid.txt"], []),
        ("Add a workflow at .github/workflows/ci.yml.", [".github/workflows/ci.yml"], []),
        (
            "Run python execute.py > result.json. Do not commit result.json; CI makes it.",
            ["execute.py"],
            ["result.json"],
        ),
        ("Loads highlight.js and Chart.js for charts from input.md", ["input.md"], []),
        ("Handle ?url=https://.../image.png and data at https://x.org/a.csv", [], []),
        ("Ensure it runs on Pandas 2.3, e.g. on 3.11", [], []),
    ],
    ids=["plain", "dot-dir", "negative", "libraries", "urls", "versions"],
)
def test_named_files(brief: str, required: list[str], forbidden: list[str]) -> None:
    assert named_files(brief) == (required, forbidden)


def test_license_and_readme(tmp_path: Path) -> None:
    assert not check_license(tmp_path).passed
    assert "missing" in check_readme(tmp_path).detail
    _write(tmp_path, {"LICENSE": "Apache License 2.0", "README.md": "# App\n## Usage\nrun it\n"})
    assert not check_license(tmp_path).passed
    readme = check_readme(tmp_path)
    assert readme.detail == "missing sections: summary, setup, code explanation, license"
    _write(
        tmp_path, {"LICENSE": "MIT\nPermission is hereby granted, free", "README.md": GOOD_README}
    )
    assert check_license(tmp_path).passed and check_readme(tmp_path).passed


def test_readme_accepts_setext_headings(tmp_path: Path) -> None:
    text = "Summary\n=======\nSetup\n-----\nUsage\n-----\nCode explanation\n---\nLicense\n---\n"
    _write(tmp_path, {"README.md": text})
    assert check_readme(tmp_path).passed


def test_index_links(tmp_path: Path) -> None:
    assert check_index_links(tmp_path) is None
    html = (
        '<link href="style.css"><a href="https://x.org/a">x</a><a href="#top">t</a>'
        '<img src="img/logo%20big.png"><a href="docs/">d</a><script src="app.js?v=2"></script>'
        '<a href="mailto:a@b.c">m</a><img src="data:image/png;base64,AA==">'
    )
    _write(
        tmp_path,
        {"index.html": html, "style.css": "", "img/logo big.png": "", "docs/index.html": ""},
    )
    result = check_index_links(tmp_path)
    assert result is not None and not result.passed
    assert result.detail == "broken: app.js?v=2"
    _write(tmp_path, {"app.js": ""})
    assert check_index_links(tmp_path) == CheckResult("index.html links resolve", True, "")


def test_json_and_svg(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "ok.json": '{"a": 1}',
            "bad.json": "{a: 1}",
            "node_modules/x.json": "{",
            "good.svg": '<svg xmlns="http://www.w3.org/2000/svg"/>',
            "plain.svg": "<svg></svg>",
            "broken.svg": "<svg xmlns='http://www.w3.org/2000/svg'>",
        },
    )
    assert _failed(check_json_files(tmp_path)) == ["bad.json parses"]
    assert _failed(check_svg_files(tmp_path)) == [
        "broken.svg is SVG with xmlns",
        "plain.svg is SVG with xmlns",
    ]


@pytest.mark.parametrize(
    ("html", "passed"),
    [
        ("<script>fetch('x')</script><script src='https://cdn/marked.js'></script>", True),
        ("<script src='https://cdn/marked.js'></script><script>fetch('x')</script>", False),
        ("<p>no script</p>", False),
    ],
    ids=["inline-first", "cdn-first", "none"],
)
def test_first_script(tmp_path: Path, html: str, passed: bool) -> None:
    _write(tmp_path, {"index.html": html})
    checks = normalise(["js: !!document.querySelector('script').textContent.includes('fetch(')"])
    result = check_first_script(tmp_path, checks)
    assert result is not None and result.passed is passed
    if not passed and "cdn" in html:
        assert "https://cdn/marked.js" in result.detail
    assert check_first_script(tmp_path, normalise(["js: !!document.querySelector('h1')"])) is None


def test_attachments(tmp_path: Path) -> None:
    atts = [
        Attachment("uid.txt", b"123\n"),
        Attachment("execute.py", b"bug"),
        Attachment("data.csv", b"a,b\n"),
        Attachment("extra.bin", b"\0"),
    ]
    brief = "Upload uid.txt as-is. Commit execute.py after fixing the error."
    assert _failed(check_attachments(tmp_path, brief, atts)) == ["uid.txt matches the attachment"]
    (tmp_path / "uid.txt").write_bytes(b"123")
    (tmp_path / "execute.py").write_text("fixed")
    (tmp_path / "data.csv").write_bytes(b"a,b\r\n")
    failed = _failed(check_attachments(tmp_path, brief, atts))
    assert failed == ["uid.txt matches the attachment", "data.csv matches the attachment"]
    (tmp_path / "uid.txt").write_bytes(b"123\n")
    (tmp_path / "data.csv").write_bytes(b"a,b\n")
    assert _failed(check_attachments(tmp_path, brief, atts)) == []


@pytest.mark.parametrize("stem", task_stems())
def test_corpus_correct_apps_pass_every_static_check(tmp_path: Path, stem: str) -> None:
    job = build_app(stem, tmp_path)
    results = run_static_checks(tmp_path, job.brief, normalise(job.checks), job.attachments)
    assert _failed(results) == []
    assert any(r.name == "LICENSE is MIT" for r in results)


STATIC_WRONG = [
    s
    for s in task_stems()
    if any("first <script>" in f or " is " in f for f in wrong_spec(s)["fails"])
]


@pytest.mark.parametrize("stem", STATIC_WRONG)
def test_corpus_wrong_apps_fail_the_right_static_check(tmp_path: Path, stem: str) -> None:
    job = build_app(stem, tmp_path, wrong=True)
    failed = _failed(run_static_checks(tmp_path, job.brief, normalise(job.checks), job.attachments))
    expected = [f for f in wrong_spec(stem)["fails"] if "first <script>" in f or " is " in f]
    assert failed and all(any(e in name for name in failed) for e in expected), failed


def test_job_for_reads_attachments() -> None:
    job = job_for("LLMPages-r1")
    assert [a.name for a in job.attachments] == ["uid.txt"]
    assert job.attachments[0].data.startswith(b"8172805693")
