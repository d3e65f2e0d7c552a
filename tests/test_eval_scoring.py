"""The evaluation's deterministic scorer on the hand-written apps: every good app passes every
check, and each known-bad variant loses exactly the checks the course's evaluator would take."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from receiver.evaluation.expectations import expectations_for
from receiver.evaluation.observed import Evidence
from receiver.evaluation.page_checks import static_outcomes
from receiver.evaluation.scoring import score_evidence
from tests.apps.build import _earlier_rounds, build_app, job_for, load_request, task_stems

Mutation = Callable[[Path], None]


def evidence_for(stem: str, root: Path, mutate: Mutation | None = None) -> Evidence:
    """Build the app, apply a defect, and observe it as the evaluator would (Pages = the tree)."""
    build_app(stem, root)
    if mutate is not None:
        mutate(root)
    request = load_request(stem)
    attachments = [a for earlier in _earlier_rounds(stem) for a in job_for(earlier).attachments]
    note = {k: request[k] for k in ("email", "task", "round", "nonce")}
    note |= {"repo_url": "file:///repo.git", "commit_sha": "a" * 40, "pages_url": "http://x/"}
    served: dict[str, bytes | None] = {
        str(p.relative_to(root)): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and ".github" not in p.parts
    }
    # CI publishes result.json only when the workflow exists (the real run is not simulated).
    published: dict[str, bytes | None] = {
        "result.json": b"[]" if (root / ".github/workflows/ci.yml").is_file() else None
    }
    return Evidence(
        request, attachments, note, root, served=served, page_status=200, published=published
    )


def failed(evidence: Evidence) -> set[str]:
    return {o.key for o in score_evidence(evidence) if o.passed is False}


@pytest.mark.parametrize("stem", [s for s in task_stems() if s.endswith("-r1")])
def test_every_good_app_passes_every_deterministic_check(stem: str, tmp_path: Path) -> None:
    outcomes = score_evidence(evidence_for(stem, tmp_path / stem))
    assert len(outcomes) >= 8
    assert [o for o in outcomes if not o.passed] == []


def _thousands(root: Path) -> None:
    html = root / "index.html"
    html.write_text(
        html.read_text().replace(
            "total.toFixed(2);", 'total.toLocaleString("en-US", { minimumFractionDigits: 2 });'
        )
    )


def _external_script(root: Path) -> None:
    html = (root / "index.html").read_text()
    script = re.search(r"<script>(.*?)</script>", html, re.S)
    assert script is not None
    (root / "script.js").write_text(script.group(1))
    (root / "index.html").write_text(
        html.replace(script.group(0), '<script src="script.js"></script>')
    )


def _suffixed_title(root: Path) -> None:
    html = root / "index.html"
    html.write_text(
        html.read_text().replace(
            "<title>Sales Summary 601</title>", "<title>Sales Summary 601 — Dashboard</title>"
        )
    )


def _no_uid(root: Path) -> None:
    (root / "uid.txt").unlink()


def _no_workflow(root: Path) -> None:
    (root / ".github/workflows/ci.yml").unlink()


def _apache(root: Path) -> None:
    (root / "LICENSE").write_text("Apache License\nVersion 2.0, January 2004\n")


def _thin_readme(root: Path) -> None:
    (root / "README.md").write_text("# App\n\nIt works.\n")


def _svg_without_ns(root: Path) -> None:
    svg = root / "pelican.svg"
    svg.write_text(svg.read_text().replace('xmlns="http://www.w3.org/2000/svg" ', ""))


def _cdn_first(root: Path) -> None:
    html = root / "index.html"
    html.write_text(
        html.read_text().replace(
            '<body class="container py-4">\n',
            '<body class="container py-4">\n  <script src='
            '"https://cdn.jsdelivr.net/npm/bootstrap@5.3.3/dist/js/bootstrap.bundle.min.js">'
            "</script>\n",
        )
    )


def _result_committed(root: Path) -> None:
    (root / "result.json").write_text("[]\n")


BAD = [
    (
        "thousands-separators",
        "SumOfSales-r1",
        _thousands,
        {"static: #total-sales holds a plain number"},
    ),
    (
        "external-script-js",
        "SumOfSales-r1",
        _external_script,
        {"static: index.html itself calls fetch("},
    ),
    (
        "suffixed-title",
        "sum-of-sales-601-r1",
        _suffixed_title,
        {"static: <title> is exactly 'Sales Summary 601'"},
    ),
    (
        "missing-attachment",
        "LLMPages-r1",
        _no_uid,
        {"repo: uid.txt matches the attachment", "repo: files the brief names exist"},
    ),
    (
        "workflow-less-analyze",
        "Analyze-r1",
        _no_workflow,
        {
            "repo: files the brief names exist",
            "ci: .github/workflows/ci.yml has a step: ruff",
            "ci: .github/workflows/ci.yml has a step: runs execute.py",
            "ci: .github/workflows/ci.yml has a step: Pages deploy",
            "ci: result.json is published on Pages",
        },
    ),
    (
        "result-json-committed",
        "Analyze-r1",
        _result_committed,
        {"repo: result.json is not committed"},
    ),
    ("apache-license", "captcha-solver-r1", _apache, {"repo: LICENSE is MIT"}),
    (
        "readme-without-sections",
        "captcha-solver-r1",
        _thin_readme,
        {"repo: README.md has its sections"},
    ),
    (
        "svg-without-namespace",
        "LLMPages-r1",
        _svg_without_ns,
        {"repo: pelican.svg is SVG with xmlns"},
    ),
    (
        "cdn-script-first",
        "github-user-created-9b2c4-r1",
        _cdn_first,
        {"static: first <script> in index.html is inline"},
    ),
]


@pytest.mark.parametrize(("stem", "mutate", "lost"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_a_bad_app_loses_exactly_the_evaluators_checks(
    stem: str, mutate: Mutation, lost: set[str], tmp_path: Path
) -> None:
    assert failed(evidence_for(stem, tmp_path / "good")) == set()
    assert failed(evidence_for(stem, tmp_path / "bad", mutate)) == lost


def test_no_notification_fails_the_notification_and_scores_nothing_else() -> None:
    request = load_request("sum-of-sales-601-r1")
    outcomes = score_evidence(Evidence(request, [], None, None, checkout_error="no repo"))
    assert {(o.key, o.passed) for o in outcomes} == {
        ("notify: notification arrived", False),
        ("repo: commit_sha checks out", False),
    }


def test_a_notification_with_the_wrong_nonce_fails_the_echo(tmp_path: Path) -> None:
    ev = evidence_for("sum-of-sales-601-r1", tmp_path / "app")
    assert ev.note is not None
    ev.note["nonce"] = "stale"
    assert failed(ev) == {"notify: notification echoes email, task, round, nonce"}


def test_pages_serving_an_older_file_fails_the_pages_check(tmp_path: Path) -> None:
    ev = evidence_for("sum-of-sales-601-r1", tmp_path / "app")
    ev.served["index.html"] = b"<html>older</html>"
    ev.served["data.csv"] = None
    outcome = next(o for o in score_evidence(ev) if o.name == "Pages serves the committed files")
    assert outcome.passed is False
    assert "not served: data.csv" in outcome.detail and "differently: index.html" in outcome.detail


ROUND2 = [
    ("same-repo", True, b"old readme", set()),
    (
        "new-repo",
        False,
        b"old readme",
        {"repo: round 2 is in round 1's repo", "repo: round 2 commit descends from round 1's"},
    ),
]


@pytest.mark.parametrize(("name", "same", "readme", "lost"), ROUND2, ids=[r[0] for r in ROUND2])
def test_round_two_must_revise_round_ones_repo(
    name: str, same: bool, readme: bytes, lost: set[str], tmp_path: Path
) -> None:
    ev = evidence_for("sum-of-sales-601-r2a", tmp_path / "app")
    assert ev.note is not None
    ev.previous_note = {**ev.note, "repo_url": ev.note["repo_url"] if same else "file:///b.git"}
    ev.descends_from_previous = same
    ev.previous_readme = readme
    assert failed(ev) == lost
    ev.previous_readme = (tmp_path / "app" / "README.md").read_bytes()
    assert "repo: README.md updated in round 2" in failed(ev)


EXPECT = [
    ("SumOfSales-r1", "Sales Summary 601", ("total-sales",), True),
    ("sum-of-sales-601-r1", "Sales Summary 601", ("total-sales",), False),
    ("github-user-created-9b2c4-r1", None, (), False),
    ("markdown-to-html-3f1a2-r1", None, (), False),
]


@pytest.mark.parametrize(("stem", "title", "numeric", "fetch"), EXPECT, ids=[e[0] for e in EXPECT])
def test_expectations_read_the_request(
    stem: str, title: str | None, numeric: tuple[str, ...], fetch: bool
) -> None:
    exp = expectations_for(load_request(stem))
    assert (exp.title, exp.numeric_ids, exp.wants_fetch) == (title, numeric, fetch)


PAGES = [
    ("void-elements", '<input id="q"><p id="total-sales">1,234.50</p>', "total-sales", False),
    ("placeholder", '<span id="total-sales">loading…</span>', "total-sales", True),
    ("plain", '<span id="total-sales">1234.50</span>', "total-sales", True),
    ("nested-text", '<div id="total-sales"><b>12,000</b></div>', "total-sales", False),
]


@pytest.mark.parametrize(("name", "body", "ident", "plain"), PAGES, ids=[p[0] for p in PAGES])
def test_static_numbers_are_read_from_the_element_with_the_id(
    name: str, body: str, ident: str, plain: bool, tmp_path: Path
) -> None:
    (tmp_path / "index.html").write_text(f"<!doctype html><title>T</title><body>{body}</body>")
    request = {
        "brief": "Show it.",
        "checks": [
            f"js: Math.abs(parseFloat(document.querySelector('#{ident}').textContent) - 1) < 1"
        ],
    }
    ev = Evidence(request, [], None, tmp_path)
    got = {o.name: o.passed for o in static_outcomes(ev, expectations_for(request))}
    assert got[f"#{ident} holds a plain number"] is plain


def test_a_colour_in_the_brief_is_not_an_id() -> None:
    exp = expectations_for(
        {"brief": "Use #fff text on #1e1e1e and show it in #result.", "checks": []}
    )
    assert exp.ids == ("result",)


TIMING = [
    ("in-time-new-repo", 42.0, 1_000_010, set()),
    ("late", 601.0, 1_000_010, {"notify: notified within 10 minutes"}),
    ("old-repo", 42.0, 999_000, {"repo: round 1 repo created after the request"}),
    ("same-second", 42.0, 999_999, set()),
]


@pytest.mark.parametrize(
    ("name", "seconds", "first_commit", "lost"), TIMING, ids=[t[0] for t in TIMING]
)
def test_the_deadline_and_a_fresh_round_one_repo(
    name: str, seconds: float, first_commit: int, lost: set[str], tmp_path: Path
) -> None:
    ev = evidence_for("sum-of-sales-601-r1", tmp_path / "app")
    ev.requested_at, ev.seconds_to_notify, ev.first_commit_at = 1_000_000.5, seconds, first_commit
    keys = {o.key for o in score_evidence(ev)}
    assert {
        "notify: notified within 10 minutes",
        "repo: round 1 repo created after the request",
    } <= keys
    assert failed(ev) == lost
