"""Which attachments the brief keeps out of the commit, and which the model may rewrite.

Heuristic, per sentence of the brief: one that names an attachment (or says "attachments")
together with "do not commit / don't include / …" keeps it out of the commit; one that names it
with "fix / edit / update / …" lets the model rewrite it (Analyze's "Commit execute.py after
fixing the error"). Every other attachment is committed byte for byte and protected from the model.
A sentence such as "Convert data.xlsx to data.csv" asks for a derived file the Action writes itself
(see ``conversions``), so its content is exact rather than retyped by the model.
"""

from __future__ import annotations

import re

_DONT_COMMIT = re.compile(
    r"\b(?:do not|don't|never|must not|should not|shouldn't)\s+(?:commit|include|push|upload|add)",
    re.IGNORECASE,
)
_EDIT = re.compile(
    r"\b(?:fix|fixing|fixed|correct|correcting|modify|modifying|edit|editing|update|updating|"
    r"patch|patching|repair|repairing|rewrite|rewriting)\b",
    re.IGNORECASE,
)


def attachment_policy(brief: str, names: list[str]) -> tuple[set[str], set[str]]:
    """(attachments to leave out of the commit, attachments the model may rewrite)."""
    skip: set[str] = set()
    editable: set[str] = set()
    for sentence in re.split(r"(?<=[.!?;])\s+|\n+", brief):
        lowered = sentence.lower()
        for name in names:
            named = name.lower() in lowered
            if _DONT_COMMIT.search(sentence) and (named or re.search(r"\battachments\b", lowered)):
                skip.add(name)
            elif named and _EDIT.search(sentence):
                editable.add(name)
    return skip, editable - skip


_CONVERT = re.compile(
    r"\bconvert(?:s|ed|ing)?\s+[`'\"]?(?P<src>[\w.-]+\.xlsx)[`'\"]?\s+(?:in)?to\s+"
    r"[`'\"]?(?P<dst>[\w.-]+\.csv)\b",
    re.IGNORECASE,
)


def conversions(brief: str, names: list[str]) -> dict[str, str]:
    """{CSV file to write: the XLSX attachment it is converted from}, as the brief asks."""
    by_lower = {name.lower(): name for name in names}
    return {
        m["dst"]: by_lower[m["src"].lower()]
        for m in _CONVERT.finditer(brief)
        if m["src"].lower() in by_lower and m["dst"].lower() not in by_lower
    }
