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
from dataclasses import dataclass, field

from action import attachments, formats
from action.errors import AttachmentError
from action.job import Attachment, Job

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


@dataclass
class AttachmentPlan:
    """What a job's attachments become: files to commit, what the model may not alter, notes."""

    committed: list[Attachment] = field(default_factory=list)
    protected: dict[str, bytes] = field(default_factory=dict)
    model_notes: list[str] = field(default_factory=list)  # one description per file, no base64
    report_notes: list[str] = field(default_factory=list)


def plan_attachments(job: Job) -> AttachmentPlan:
    """Apply the brief's rules to the job's attachments, deriving the conversions it asks for."""
    names = [attachments.safe_name(a.name) for a in job.attachments]
    skip, editable = attachment_policy(job.brief, names)
    plan = AttachmentPlan(
        committed=[
            Attachment(n, a.data)
            for a, n in zip(job.attachments, names, strict=True)
            if n not in skip
        ],
        model_notes=[attachments.describe(a) for a in job.attachments],
    )
    by_name = {a.name: a.data for a in plan.committed}
    for target, source in conversions(job.brief, names).items():
        try:
            derived = formats.xlsx_to_csv(by_name[source]).encode()
        except (AttachmentError, KeyError) as exc:
            plan.report_notes.append(f"{target} was not derived from {source}: {exc}.")
            continue
        plan.committed.append(Attachment(target, derived))
        plan.model_notes.append(
            f"`{target}` is already written at the repo root: {source} converted to CSV (first "
            "sheet), as the brief asks. It is committed as is; do not write it."
        )
    if skip:
        plan.report_notes.append(f"Not committed, as the brief asks: {sorted(skip)}.")
    plan.protected = {a.name: a.data for a in plan.committed if a.name not in editable}
    return plan
