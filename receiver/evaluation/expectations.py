"""What a request asks of the page and the repo, read from its brief and checks (pure).

The course's evaluator reads ``index.html`` statically (XPath on ids, ``<title>``), looks for
``fetch(`` in it, and for tasks that ask for their own CI, reads the workflow and the published
result. These parsers find, in one request, which of those static checks apply and with what
values; the scorer then applies them to the committed files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from receiver.evaluation.ports import Check, named_files, normalise

_TITLE_IN_CHECK = re.compile(r"document\.title\s*===?\s*([\"'`])(.+?)\1")
_TITLE_IN_BRIEF = re.compile(r"\btitle\b(?: is| to| of|:)\s*([\"'`])([^\"'`\n]+)\1", re.I)
_ID_IN_CHECK = re.compile(
    r"(?:querySelector(?:All)?\(\s*[\"'`]#|getElementById\(\s*[\"'`])([A-Za-z][\w-]*)"
)
_ID_IN_BRIEF = re.compile(r"\bid=[\"']([A-Za-z][\w-]*)[\"']|(?<![\w/&])#([A-Za-z][\w-]*)")
_HEX_COLOUR = re.compile(r"[0-9a-fA-F]{3}(?:[0-9a-fA-F]{3})?")  # "#fff" in a brief is a colour
_NUMERIC_READ = re.compile(
    r"(?:parseFloat|parseInt|Number|Math\.abs|\+)\s*\(?\s*[+]?\s*document\.querySelector\(\s*"
    r"[\"'`]#([A-Za-z][\w-]*)[\"'`]\s*\)\s*\.(?:textContent|innerText)"
)
_FETCH_WORD = re.compile(r"\bfetch\(\)|\buses? fetch\b", re.I)
_RUN_SCRIPT = re.compile(r"\bpython3?\s+([\w./-]+\.py)\b")
_PUBLISHED = re.compile(
    r"\b([\w.-]+\.(?:json|csv|txt|html))\b[^.\n]*?\b(?:via|on|to) GitHub Pages"
    r"|\bpublish(?:es|ed)?\s+([\w.-]+\.(?:json|csv|txt|html))\b",
    re.I,
)


@dataclass(frozen=True)
class CiExpectation:
    """A workflow the brief asks the app to carry, and what it must do."""

    path: str
    steps: tuple[tuple[str, str], ...]  # (label, regex the workflow text must match)
    published: tuple[str, ...]  # files CI must publish on Pages


@dataclass(frozen=True)
class Expectations:
    """The static checks a request implies."""

    checks: list[Check] = field(default_factory=list)
    title: str | None = None
    ids: tuple[str, ...] = ()
    numeric_ids: tuple[str, ...] = ()
    wants_fetch: bool = False
    ci: CiExpectation | None = None

    @property
    def js_sources(self) -> list[str]:
        return [c.source for c in self.checks if c.kind == "js"]

    @property
    def text_checks(self) -> list[str]:
        return [c.source for c in self.checks if c.kind == "text"]


def _unique(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(i for i in items if i))


def wanted_title(brief: str, checks: list[Check]) -> str | None:
    """The exact title a check or the brief asks for, if any."""
    for check in checks:
        found = _TITLE_IN_CHECK.search(check.source)
        if found:
            return found.group(2)
    found = _TITLE_IN_BRIEF.search(brief)
    return found.group(2).strip() if found else None


def wanted_ids(brief: str, checks: list[Check]) -> tuple[str, ...]:
    """Element ids the checks select (and the brief names) that the page must carry."""
    ids = [m for c in checks if c.kind == "js" for m in _ID_IN_CHECK.findall(c.source)]
    ids += [a or b for a, b in _ID_IN_BRIEF.findall(brief) if not _HEX_COLOUR.fullmatch(b)]
    return _unique(ids)


def numeric_ids(checks: list[Check]) -> tuple[str, ...]:
    """Ids whose text a check reads as a number (so it must be written plainly)."""
    return _unique([m for c in checks if c.kind == "js" for m in _NUMERIC_READ.findall(c.source)])


def wants_fetch(brief: str, checks: list[Check]) -> bool:
    """True when the brief or a sentence check says the page uses fetch()."""
    return bool(_FETCH_WORD.search(brief)) or any(
        c.kind == "text" and _FETCH_WORD.search(c.source) for c in checks
    )


def ci_expectation(brief: str, checks: list[Check]) -> CiExpectation | None:
    """The app workflow a brief asks for (``.github/workflows/…``), or None."""
    required, _ = named_files(brief)
    workflows = [n for n in required if n.startswith(".github/workflows/")]
    if not workflows:
        return None
    text = "\n".join([brief, *(c.source for c in checks if c.kind == "text")])
    steps: list[tuple[str, str]] = []
    if re.search(r"\bruff\b", text, re.I):
        steps.append(("ruff", r"\bruff\b"))
    for script in _unique(_RUN_SCRIPT.findall(brief)):
        steps.append((f"runs {script}", re.escape(script)))
    if re.search(r"github pages", text, re.I):
        steps.append(("Pages deploy", r"actions/deploy-pages@"))
    published = _unique([a or b for a, b in _PUBLISHED.findall(text)])
    return CiExpectation(workflows[0], tuple(steps), published)


def expectations_for(request: dict[str, Any]) -> Expectations:
    """Everything the static scorer needs from one request."""
    brief = str(request.get("brief", ""))
    checks = normalise(list(request.get("checks") or []))
    return Expectations(
        checks=checks,
        title=wanted_title(brief, checks),
        ids=wanted_ids(brief, checks),
        numeric_ids=numeric_ids(checks),
        wants_fetch=wants_fetch(brief, checks),
        ci=ci_expectation(brief, checks),
    )
