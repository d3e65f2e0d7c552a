"""Deterministic checks of the built files that need neither a browser nor a model."""

from __future__ import annotations

import itertools
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

from action.checks import Check, CheckResult
from action.job import Attachment


def _words(text: str) -> list[str]:
    return text.split()


_EXTENSIONS = _words(
    "txt md json svg html htm css js mjs py csv tsv xlsx xls yml yaml png jpg jpeg gif webp ico "
    "pdf zip toml ini cfg sh xml ts ipynb sql"
)
_FILE_TOKEN = re.compile(
    r"(?<![\w/.:-])([\w.-]*[A-Za-z_][\w.-]*(?:/[\w.-]+)*\.(?:" + "|".join(_EXTENSIONS) + r"))\b"
)
# Library names a brief mentions as things to load, not files to commit.
_LIBRARIES = frozenset(
    _words(
        "highlight.js chart.js d3.js three.js p5.js vue.js react.js next.js node.js express.js "
        "moment.js anime.js pdf.js tesseract.js leaflet.js marked.js mathjax.js alpine.js "
        "socket.io.js bootstrap.js jquery.js"
    )
)
_NEGATIVE = re.compile(r"\b(?:do not|don't|must not|never|not be)\s+commit|\bnot committed\b", re.I)
_VERBATIM = re.compile(
    r"as-is|as is|verbatim|byte[- ]for[- ]byte|unchanged|matches the attach", re.I
)
_MODIFY = re.compile(r"\b(?:fix|fixing|modify|edit|update|correct|rewrite|convert)\w*", re.I)
_README_SECTIONS = {
    "summary": ("summary", "overview", "about", "introduction", "description"),
    "setup": ("setup", "set up", "installation", "install", "getting started"),
    "usage": ("usage", "how to use", "using"),
    "code explanation": ("code explanation", "how it works", "explanation", "architecture", "code"),
    "license": ("license", "licence"),
}
_SVG_NS = "http://www.w3.org/2000/svg"
_SKIP_DIRS = {".git", "node_modules", ".venv", "__pycache__"}
_FIRST_SCRIPT_CHECK = re.compile(r"querySelector\(\s*([\"'`])script\1\s*\)")


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+|\n+", text) if s.strip()]


def named_files(brief: str) -> tuple[list[str], list[str]]:
    """File names the brief mentions: (must exist, must not be committed)."""
    required: dict[str, None] = {}
    forbidden: dict[str, None] = {}
    for sentence in _sentences(brief):
        for token in _FILE_TOKEN.findall(sentence):
            name = token
            if name.lower() in _LIBRARIES or name.startswith("/"):
                continue
            (forbidden if _NEGATIVE.search(sentence) else required)[name] = None
    return [n for n in required if n not in forbidden], list(forbidden)


def _walk(root: Path, suffix: str) -> Iterator[Path]:
    for path in sorted(root.rglob(f"*{suffix}")):
        rel = path.relative_to(root)
        if path.is_file() and not _SKIP_DIRS.intersection(rel.parts):
            yield path


class _Refs(HTMLParser):
    """Collects href/src references and the first <script>'s attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.first_script: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script" and self.first_script is None:
            self.first_script = found
        for key in ("href", "src"):
            value = found.get(key)
            if value:
                self.refs.append(value.strip())


def _is_local(ref: str) -> bool:
    parts = urlsplit(ref)
    return not (parts.scheme or parts.netloc or ref.startswith("#")) and bool(parts.path)


def check_named_files(
    root: Path, brief: str, unwritable: tuple[str, ...] = ()
) -> list[CheckResult]:
    """Every file the brief names exists at the root; files it forbids committing are absent.

    Missing files under an `unwritable` prefix (workflows without a push token) fail apart,
    as not fixable: no repair can write them.
    """
    required, forbidden = named_files(brief)
    results = []
    blocked = [n for n in required if n.startswith(unwritable) and not (root / n).is_file()]
    if unwritable and blocked:
        required = [n for n in required if n not in blocked]
        detail = f"{', '.join(blocked)}: workflow files need the push-token input"
        results.append(CheckResult("files the brief names can be written", False, detail, False))
    if required:
        missing = [n for n in required if not (root / n).is_file()]
        detail = f"missing: {', '.join(missing)}" if missing else ", ".join(required)
        results.append(CheckResult("files the brief names exist", not missing, detail))
    for name in forbidden:
        present = (root / name).exists()
        detail = f"{name} is committed but the brief says not to" if present else ""
        results.append(CheckResult(f"{name} is not committed", not present, detail))
    return results


def check_attachments(root: Path, brief: str, attachments: list[Attachment]) -> list[CheckResult]:
    """Attachments are byte-identical at the root unless the brief asks to change them."""
    results = []
    for att in attachments:
        mentions = [s for s in _sentences(brief) if att.name in s]
        verbatim = any(_VERBATIM.search(s) for s in mentions)
        changed = any(_MODIFY.search(s) for s in mentions) and not verbatim
        path = root / att.name
        if changed or not (path.is_file() or verbatim):
            continue
        if not path.is_file():
            results.append(CheckResult(f"{att.name} matches the attachment", False, "missing"))
            continue
        same = path.read_bytes() == att.data
        detail = "" if same else f"{att.name} differs from the attachment; write it byte for byte"
        results.append(CheckResult(f"{att.name} matches the attachment", same, detail))
    return results


def check_license(root: Path) -> CheckResult:
    """LICENSE exists and carries the MIT grant the evaluator looks for."""
    path = root / "LICENSE"
    if not path.is_file():
        return CheckResult("LICENSE is MIT", False, "LICENSE is missing")
    text = path.read_text("utf-8", errors="replace")
    ok = "is hereby granted" in text.lower()
    return CheckResult("LICENSE is MIT", ok, "" if ok else "no 'is hereby granted' MIT text")


def check_readme(root: Path) -> CheckResult:
    """README.md has headings for summary, setup, usage, code explanation and license."""
    path = root / "README.md"
    if not path.is_file():
        return CheckResult("README.md has its sections", False, "README.md is missing")
    lines = path.read_text("utf-8", errors="replace").splitlines()
    headings = [ln.lstrip("#").strip().lower() for ln in lines if ln.startswith("#")]
    headings += [
        a.strip().lower()
        for a, b in itertools.pairwise(lines)
        if re.fullmatch(r"(=+|-+)\s*", b) and a.strip()
    ]
    missing = [
        section
        for section, words in _README_SECTIONS.items()
        if not any(w in h for h in headings for w in words)
    ]
    detail = f"missing sections: {', '.join(missing)}" if missing else ""
    return CheckResult("README.md has its sections", not missing, detail)


def _index_refs(root: Path) -> _Refs | None:
    index = root / "index.html"
    if not index.is_file():
        return None
    parser = _Refs()
    parser.feed(index.read_text("utf-8", errors="replace"))
    return parser


def check_index_links(root: Path) -> CheckResult | None:
    """Relative links and assets in index.html resolve to files."""
    parser = _index_refs(root)
    if parser is None:
        return None
    broken = []
    for ref in parser.refs:
        if not _is_local(ref):
            continue
        target = root / unquote(urlsplit(ref).path).lstrip("/")
        if not (target.is_file() or (target / "index.html").is_file()):
            broken.append(ref)
    detail = f"broken: {', '.join(broken)}" if broken else ""
    return CheckResult("index.html links resolve", not broken, detail)


def check_json_files(root: Path) -> list[CheckResult]:
    """Every committed *.json parses."""
    results = []
    for path in _walk(root, ".json"):
        try:
            json.loads(path.read_text("utf-8"))
            results.append(CheckResult(f"{path.relative_to(root)} parses", True))
        except (ValueError, UnicodeDecodeError) as exc:
            results.append(CheckResult(f"{path.relative_to(root)} parses", False, str(exc)))
    return results


def check_svg_files(root: Path) -> list[CheckResult]:
    """Every committed *.svg is XML whose root is an <svg> in the SVG namespace."""
    results = []
    for path in _walk(root, ".svg"):
        name = f"{path.relative_to(root)} is SVG with xmlns"
        try:
            tag = ET.fromstring(path.read_bytes()).tag
        except ET.ParseError as exc:
            results.append(CheckResult(name, False, f"not well-formed XML: {exc}"))
            continue
        ok = tag == f"{{{_SVG_NS}}}svg"
        detail = "" if ok else f'root is {tag!r}; it needs xmlns="{_SVG_NS}"'
        results.append(CheckResult(name, ok, detail))
    return results


def check_first_script(root: Path, checks: list[Check]) -> CheckResult | None:
    """When a check reads querySelector("script"), the first <script> must be the inline one."""
    if not any(c.kind == "js" and _FIRST_SCRIPT_CHECK.search(c.source) for c in checks):
        return None
    parser = _index_refs(root)
    first = parser.first_script if parser else None
    name = "first <script> in index.html is inline"
    if first is None:
        return CheckResult(name, False, "index.html has no <script>")
    src = first.get("src")
    detail = f"the first <script> loads {src}; put the inline script before it" if src else ""
    return CheckResult(name, not src, detail)


def run_static_checks(
    root: Path,
    brief: str,
    checks: list[Check],
    attachments: list[Attachment],
    unwritable: tuple[str, ...] = (),
) -> list[CheckResult]:
    """All deterministic checks of the app at `root`."""
    results = check_named_files(root, brief, unwritable)
    results += check_attachments(root, brief, attachments)
    results += [check_license(root), check_readme(root)]
    optional = [check_index_links(root), check_first_script(root, checks)]
    results += [r for r in optional if r is not None]
    results += check_json_files(root) + check_svg_files(root)
    return results
