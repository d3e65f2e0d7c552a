"""The model's answer envelope: ``<file path>`` blocks with whole files, ``<edit path>`` blocks
with search/replace pairs, parsed leniently; and applying those edits tolerantly of whitespace."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from action.errors import ProtocolError


@dataclass(frozen=True)
class FileBlock:
    path: str
    content: str


@dataclass(frozen=True)
class EditBlock:
    path: str
    search: str
    replace: str


Block = FileBlock | EditBlock


@dataclass(frozen=True)
class ParseResult:
    blocks: list[Block] = field(default_factory=list)
    truncated: list[str] = field(default_factory=list)  # paths of blocks that never closed


_OPEN = re.compile(
    r"""<(file|edit)\s+path\s*=\s*(?:"([^"\n]*)"|'([^'\n]*)'|([^\s"'>]+))\s*>""", re.IGNORECASE
)
_PAIR = re.compile(r"<search>(.*?)</search>\s*<replace>(.*?)</replace>", re.IGNORECASE | re.DOTALL)
_FENCE_OPEN = re.compile(r"^[ \t]*(`{3,}|~{3,})[\w+.#-]*[ \t]*$")

FORMAT_HELP = (
    'Answer with one <file path="relative/path">…</file> block per file, holding the whole '
    "file content with no escaping and no code fences, or with "
    '<edit path="…"><search>exact old text</search><replace>new text</replace></edit> blocks. '
    "Text outside the blocks is ignored."
)


def parse_report(answer: str) -> ParseResult:
    """All complete blocks in the answer, plus the paths of blocks cut off before their close."""
    opens = list(_OPEN.finditer(answer))
    blocks: list[Block] = []
    truncated: list[str] = []
    for index, match in enumerate(opens):
        kind = match.group(1).lower()
        path = _clean_path(next(g for g in match.group(2, 3, 4) if g is not None))
        end = opens[index + 1].start() if index + 1 < len(opens) else len(answer)
        segment = answer[match.end() : end]
        # The LAST close tag before the next block wins, so content may itself hold "</file>".
        close = segment.lower().rfind(f"</{kind}>")
        if close < 0:
            truncated.append(path)
            continue
        body = segment[:close]
        if kind == "file":
            blocks.append(FileBlock(path, _unfence(_trim(body))))
        else:
            for search, replace in _PAIR.findall(body):
                blocks.append(EditBlock(path, _trim(search), _trim(replace)))
    return ParseResult(blocks, truncated)


def parse(answer: str) -> list[Block]:
    """The answer's blocks; ProtocolError (worded as a corrective prompt) when none is usable."""
    result = parse_report(answer)
    if result.blocks:
        return result.blocks
    if result.truncated:
        names = ", ".join(result.truncated)
        raise ProtocolError(
            f"Your answer was truncated: the block for {names} never reached its closing tag. "
            "Answer again, more concisely, with every block complete. " + FORMAT_HELP
        )
    raise ProtocolError("Your answer contained no file or edit blocks. " + FORMAT_HELP)


def _clean_path(path: str) -> str:
    path = path.strip()
    while path.startswith("./"):
        path = path[2:]
    return path


def _trim(text: str) -> str:
    """Drop exactly one newline after the open tag and one before the close tag."""
    if text.startswith("\r\n"):
        text = text[2:]
    elif text.startswith("\n"):
        text = text[1:]
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n"):
        text = text[:-1]
    return text


def _unfence(content: str) -> str:
    """Strip a markdown code fence that wraps the whole content (models add them despite asks)."""
    lines = content.strip("\n").split("\n")
    if len(lines) < 2:
        return content
    opener = _FENCE_OPEN.match(lines[0])
    if not opener or lines[-1].strip() != opener.group(1):
        return content
    return "\n".join(lines[1:-1])


def apply_edits(files: dict[str, str], edits: list[EditBlock]) -> tuple[dict[str, str], list[str]]:
    """Apply edits to a copy of files; also return the paths whose search text was not found."""
    updated = dict(files)
    missed: list[str] = []
    for edit in edits:
        current = updated.get(edit.path)
        if current is None:
            if edit.search.strip():
                _note(missed, edit.path)
            else:
                updated[edit.path] = edit.replace  # empty search on a new path creates the file
            continue
        result = _replace(current, edit.search, edit.replace) if edit.search.strip() else None
        if result is None:
            _note(missed, edit.path)
        else:
            updated[edit.path] = result
    return updated, missed


def _note(missed: list[str], path: str) -> None:
    if path not in missed:
        missed.append(path)


def _replace(text: str, search: str, replace: str) -> str | None:
    at = text.find(search)
    if at >= 0:
        return text[:at] + replace + text[at + len(search) :]
    return _replace_lines(text, search, replace) or _replace_collapsed(text, search, replace)


def _replace_lines(text: str, search: str, replace: str) -> str | None:
    """Match whole lines ignoring indentation and trailing whitespace; re-indent the replacement."""
    lines = text.splitlines(keepends=True)
    wanted = search.strip("\r\n").splitlines()
    while wanted and not wanted[0].strip():
        wanted.pop(0)
    while wanted and not wanted[-1].strip():
        wanted.pop()
    keys = [w.strip() for w in wanted]
    n = len(keys)
    for i in range(len(lines) - n + 1):
        if [ln.strip() for ln in lines[i : i + n]] != keys:
            continue
        first = next(k for k, key in enumerate(keys) if key)
        have, had = _indent(lines[i + first]), _indent(wanted[first])
        new = [_reindent(r, had, have) for r in replace.strip("\r\n").splitlines()]
        last = lines[i + n - 1]
        ending = last[len(last.rstrip("\r\n")) :]
        block = "\n".join(new) + ending if new else ""
        return "".join(lines[:i]) + block + "".join(lines[i + n :])
    return None


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _reindent(line: str, had: str, have: str) -> str:
    if not line.strip():
        return line
    if have.startswith(had):
        return have[len(had) :] + line
    if had.startswith(have) and line.startswith(had[len(have) :]):
        return line[len(had) - len(have) :]
    return line


def _replace_collapsed(text: str, search: str, replace: str) -> str | None:
    """Match with every run of whitespace collapsed to one space (also across line breaks)."""
    norm, where = [], []
    previous_space = False
    for index, ch in enumerate(text):
        if ch.isspace():
            if previous_space:
                continue
            norm.append(" ")
            previous_space = True
        else:
            norm.append(ch)
            previous_space = False
        where.append(index)
    needle = " ".join(search.split())
    at = "".join(norm).find(needle)
    if not needle or at < 0:
        return None
    start, end = where[at], where[at + len(needle) - 1] + 1
    return text[:start] + replace.strip() + text[end:]
