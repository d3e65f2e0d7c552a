"""The evaluator's checks of the page itself and of an app's own CI (pure): ``index.html`` of
the commit read as text (title, ids, plain numbers, ``fetch(``, the first ``<script>``), and the
workflow a brief asks for with what it must publish."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from receiver.evaluation.expectations import Expectations
from receiver.evaluation.observed import Evidence
from receiver.evaluation.outcome import Outcome
from receiver.evaluation.ports import check_first_script

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
        out.append(Outcome("static", first.name, first.passed, first.detail))
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
