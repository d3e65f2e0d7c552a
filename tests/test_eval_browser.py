"""The evaluation's ``js:`` checks in Debian's Chromium against a page served over HTTP: a good
app passes them all, a known-bad one fails exactly the checks its defect breaks."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from action.browser import Browser, launch, serve
from receiver.evaluation.browser_checks import run_js_checks
from receiver.evaluation.expectations import expectations_for
from tests.apps.build import build_app, load_request

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not shutil.which("chromium"), reason="needs Debian's chromium"),
]
Mutation = Callable[[Path], None]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = launch("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    try:
        yield chromium
    finally:
        chromium.__exit__(None, None, None)


def _replace(path: str, search: str, replace: str) -> Mutation:
    def mutate(root: Path) -> None:
        text = (root / path).read_text()
        assert text.count(search) == 1
        (root / path).write_text(text.replace(search, replace))

    return mutate


def _external_script(root: Path) -> None:
    html = (root / "index.html").read_text()
    found = re.search(r"<script>(.*?)</script>", html, re.S)
    assert found is not None
    (root / "script.js").write_text(found.group(1))
    (root / "index.html").write_text(
        html.replace(found.group(0), '<script src="script.js"></script>')
    )


CASES = [
    (
        "thousands-separators",
        "SumOfSales-r1",
        _replace("index.html", "total.toFixed(2);", 'total.toLocaleString("en-US");'),
        {"Math.abs(+document.querySelector('#total-sales').textContent - 603492.11) < 0.01"},
    ),
    (
        "suffixed-title",
        "sum-of-sales-601-r1",
        _replace(
            "index.html",
            "<title>Sales Summary 601</title>",
            "<title>Sales Summary 601 — Dashboard</title>",
        ),
        {"document.title === `Sales Summary 601`"},
    ),
    (
        "external-script-js",
        "github-user-created-9b2c4-r1",
        _external_script,
        {
            '!!document.querySelector("script").textContent.includes("https://api.github.com/users/")'
        },
    ),
]


@pytest.mark.parametrize(
    ("stem", "mutate", "lost"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_js_checks_on_the_served_page_lose_exactly_what_the_defect_breaks(
    browser: Browser, tmp_path: Path, stem: str, mutate: Mutation, lost: set[str]
) -> None:
    request = load_request(stem)
    sources = expectations_for(request).js_sources
    for variant, expected in (("good", set()), ("bad", lost)):
        root = tmp_path / variant
        build_app(stem, root)
        if variant == "bad":
            mutate(root)
        with serve(root) as base:
            got = run_js_checks(
                browser, base + "index.html", sources, request=request, offline=True
            )
        assert {o.name for o in got} == set(sources)
        assert all(o.passed is not None for o in got)
        assert {o.name for o in got if not o.passed} == expected, variant


def test_without_a_page_every_js_check_fails_and_without_a_browser_none_is_scored(
    browser: Browser,
) -> None:
    sources = ["document.title === 'x'"]
    assert [o.passed for o in run_js_checks(browser, None, sources)] == [False]
    unscored = run_js_checks(None, "http://127.0.0.1:9/", sources, skipped_because="no browser")
    assert [(o.passed, o.detail) for o in unscored] == [(None, "no browser")]
