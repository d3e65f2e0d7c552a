"""The course evaluator's deterministic checks of one round, applied to gathered evidence (pure).

Input is :class:`Evidence`: the request, the notification, a checkout of exactly ``commit_sha``
(made with real git by ``evidence``) and the bytes Pages served for each committed file. Output
is a list of :class:`Outcome`, one per check, grouped as the report shows them. The ``js:``
checks (Chromium) and the LLM-judged ones are scored elsewhere and appended by the runner.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from receiver.evaluation.expectations import Expectations, expectations_for
from receiver.evaluation.outcome import Group, Outcome
from receiver.evaluation.ports import (
    Attachment,
    CheckResult,
    check_attachments,
    check_first_script,
    check_json_files,
    check_license,
    check_named_files,
    check_readme,
    check_svg_files,
)

NOTE_FIELDS = ("email", "task", "round", "nonce", "repo_url", "commit_sha", "pages_url")
_SEPARATED_NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?")
# Formatting that inserts thousands separators: "25,000,000" does not parse as a number.
_GROUPING = re.compile(r"\.toLocaleString\(|Intl\.NumberFormat\(")
_NO_GROUPING = re.compile(r"useGrouping\s*:\s*false")
_VOID = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "source",
        "track",
        "wbr",
    ]
)


@dataclass
class Evidence:
    """What one round left behind, as the evaluator can observe it."""

    request: dict[str, Any]
    attachments: list[Attachment]  # this round's and earlier rounds' attachments, decoded
    note: dict[str, Any] | None  # the notification; None when none arrived
    root: Path | None = None  # a checkout of commit_sha; None when it could not be made
    checkout_error: str = ""
    served: dict[str, bytes | None] = field(default_factory=dict)  # committed path -> Pages bytes
    page_status: int | None = None  # GET pages_url
    published: dict[str, bytes | None] = field(default_factory=dict)  # CI outputs on Pages
    # Round 2: round 1's notification and whether its commit is an ancestor of this one.
    previous_note: dict[str, Any] | None = None
    descends_from_previous: bool | None = None
    previous_readme: bytes | None = None


class _Page(HTMLParser):
    """The parts of index.html the evaluator reads: title, ids and their direct text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title: str | None = None
        self.ids: dict[str, str] = {}
        self._open: list[tuple[str, str | None]] = []
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs).get("id")
        if found:
            self.ids.setdefault(found, "")
        if tag not in _VOID:  # a void element has no end tag and holds no text
            self._open.append((tag, found))
        if tag == "title" and self.title is None:
            self._in_title, self.title = True, ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        while self._open:
            if self._open.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        if self._in_title and self.title is not None:
            self.title += data
        for _, ident in self._open:
            if ident:
                self.ids[ident] += data


def _from(group: Group, result: CheckResult) -> Outcome:
    return Outcome(group, result.name, result.passed, result.detail)


def notify_outcomes(ev: Evidence) -> list[Outcome]:
    """The notification arrived, carries every field, and echoes the request's."""
    if ev.note is None:
        return [Outcome("notify", "notification arrived", False, "no notification")]
    out = [Outcome("notify", "notification arrived", True)]
    missing = [k for k in NOTE_FIELDS if not ev.note.get(k)]
    out.append(
        Outcome(
            "notify",
            "notification has all fields",
            not missing,
            f"missing: {', '.join(missing)}" if missing else "",
        )
    )
    wrong = [
        k
        for k in ("email", "task", "round", "nonce")
        if str(ev.note.get(k)) != str(ev.request.get(k))
    ]
    out.append(
        Outcome(
            "notify",
            "notification echoes email, task, round, nonce",
            not wrong,
            f"differs: {', '.join(wrong)}" if wrong else "",
        )
    )
    return out


def repo_outcomes(ev: Evidence, exp: Expectations) -> list[Outcome]:
    """Files at the root of commit_sha: LICENSE, README, attachments, named files, formats."""
    if ev.root is None:
        return [Outcome("repo", "commit_sha checks out", False, ev.checkout_error or "no repo")]
    root, brief = ev.root, str(ev.request.get("brief", ""))
    out = [Outcome("repo", "commit_sha checks out", True)]
    results = [check_license(root), check_readme(root)]
    results += check_attachments(root, brief, ev.attachments)
    results += check_named_files(root, brief)
    results += check_json_files(root) + check_svg_files(root)
    out += [_from("repo", r) for r in results]
    return out


def pages_outcomes(ev: Evidence) -> list[Outcome]:
    """Pages answers 200 and serves every committed file byte for byte at the same path."""
    if ev.note is None or ev.root is None:
        return []
    ok = ev.page_status == 200
    out = [Outcome("pages", "pages_url answers 200", ok, "" if ok else f"HTTP {ev.page_status}")]
    differ = sorted(p for p, body in ev.served.items() if body is None)
    changed = sorted(
        p
        for p, body in ev.served.items()
        if body is not None and body != (ev.root / p).read_bytes()
    )
    bad = differ + changed
    detail = "; ".join(
        filter(
            None,
            [
                f"not served: {', '.join(differ[:5])}" if differ else "",
                f"served differently: {', '.join(changed[:5])}" if changed else "",
            ],
        )
    )
    out.append(Outcome("pages", "Pages serves the committed files", not bad, detail))
    return out


def static_outcomes(ev: Evidence, exp: Expectations) -> list[Outcome]:
    """index.html read as text: exact title, the ids, plain numbers, fetch(, first <script>."""
    if ev.root is None or not (ev.root / "index.html").is_file():
        return []
    html = (ev.root / "index.html").read_text("utf-8", errors="replace")
    page = _Page()
    page.feed(html)
    out: list[Outcome] = []
    if exp.title is not None:
        got = (page.title or "").strip()
        out.append(
            Outcome(
                "static",
                f"<title> is exactly {exp.title!r}",
                got == exp.title,
                "" if got == exp.title else f"title is {got!r}",
            )
        )
    for ident in exp.ids:
        present = ident in page.ids
        out.append(
            Outcome(
                "static",
                f"index.html has id={ident!r}",
                present,
                "" if present else "no element with this id in index.html",
            )
        )
    for ident in exp.numeric_ids:
        out.append(_plain_number(ident, page, html))
    if exp.wants_fetch:
        found = "fetch(" in html
        out.append(
            Outcome(
                "static",
                "index.html itself calls fetch(",
                found,
                "" if found else "no fetch( in index.html (an external script?)",
            )
        )
    first = check_first_script(ev.root, exp.checks)
    if first is not None:
        out.append(_from("static", first))
    return out


def _plain_number(ident: str, page: _Page, html: str) -> Outcome:
    name = f"#{ident} holds a plain number"
    text = page.ids.get(ident, "").strip()
    # A placeholder ("loading…") is fine; a number written with separators does not parse.
    if _SEPARATED_NUMBER.search(text):
        return Outcome("static", name, False, f"static text {text[:40]!r} has separators")
    if _GROUPING.search(html) and not _NO_GROUPING.search(html):
        return Outcome(
            "static",
            name,
            False,
            "index.html formats numbers with thousands separators (toLocaleString)",
        )
    return Outcome("static", name, True)


def ci_outcomes(ev: Evidence, exp: Expectations) -> list[Outcome]:
    """The app workflow the brief asks for: present, doing each step, publishing its result."""
    if exp.ci is None or ev.root is None:
        return []
    path = ev.root / exp.ci.path
    text = path.read_text("utf-8", errors="replace") if path.is_file() else ""
    out = []
    for label, pattern in exp.ci.steps:
        found = bool(re.search(pattern, text))
        detail = "" if found else (f"{exp.ci.path} is missing" if not text else "not found")
        out.append(Outcome("ci", f"{exp.ci.path} has a step: {label}", found, detail))
    for name in exp.ci.published:
        body = ev.published.get(name)
        ok = body is not None
        out.append(
            Outcome(
                "ci", f"{name} is published on Pages", ok, "" if ok else "Pages does not serve it"
            )
        )
    return out


def round2_outcomes(ev: Evidence) -> list[Outcome]:
    """Round 2 revises round 1's repo: same repo, built on round 1's commit, README updated."""
    if int(ev.request.get("round", 1)) < 2 or ev.previous_note is None or ev.note is None:
        return []
    same = ev.note.get("repo_url") == ev.previous_note.get("repo_url")
    out = [
        Outcome(
            "repo",
            "round 2 is in round 1's repo",
            same,
            "" if same else f"round 1: {ev.previous_note.get('repo_url')}",
        )
    ]
    desc = bool(ev.descends_from_previous)
    out.append(
        Outcome(
            "repo",
            "round 2 commit descends from round 1's",
            desc,
            "" if desc else "round 1's commit is not an ancestor",
        )
    )
    if ev.root is not None and ev.previous_readme is not None:
        readme = ev.root / "README.md"
        now = readme.read_bytes() if readme.is_file() else b""
        changed = bool(now) and now != ev.previous_readme
        out.append(
            Outcome(
                "repo",
                "README.md updated in round 2",
                changed,
                "" if changed else "README.md is unchanged since round 1",
            )
        )
    return out


def score_evidence(ev: Evidence) -> list[Outcome]:
    """Every deterministic check of one round except the browser's."""
    exp = expectations_for(ev.request)
    return [
        *notify_outcomes(ev),
        *repo_outcomes(ev, exp),
        *round2_outcomes(ev),
        *pages_outcomes(ev),
        *static_outcomes(ev, exp),
        *ci_outcomes(ev, exp),
    ]
