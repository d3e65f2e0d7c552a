"""Assemble the hand-written corpus apps (correct or subtly wrong) for tests and the bench."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes

from action.job import Attachment, Job

APPS = Path(__file__).resolve().parent
TASKS = APPS.parents[2] / "shared" / "tasks"


def task_stems() -> list[str]:
    """Every request file in the shared corpus, e.g. "sum-of-sales-601-r2a"."""
    return sorted(p.stem for p in TASKS.glob("*.json"))


def load_request(stem: str) -> dict[str, Any]:
    return json.loads((TASKS / f"{stem}.json").read_text("utf-8"))


def _decode(url: str) -> bytes:
    head, _, body = url.partition(",")
    return base64.b64decode(body) if head.endswith(";base64") else unquote_to_bytes(body)


def job_for(stem: str) -> Job:
    """The Job the Action would see for this request."""
    req = load_request(stem)
    return Job(
        task=req["task"],
        round=int(req["round"]),
        brief=req["brief"],
        nonce=req["nonce"],
        checks=list(req["checks"]),
        attachments=[Attachment(a["name"], _decode(a["url"])) for a in req.get("attachments", [])],
    )


def _earlier_rounds(stem: str) -> list[str]:
    # A round-2 repo still holds round 1's attachments.
    base, _, variant = stem.rpartition("-")
    return [f"{base}-r1", stem] if variant.startswith("r2") else [stem]


def wrong_spec(stem: str) -> dict[str, Any]:
    return json.loads((APPS / stem / "wrong.json").read_text("utf-8"))


def build_app(stem: str, dest: Path, *, wrong: bool = False) -> Job:
    """Write the app for `stem` into `dest` and return its Job."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(APPS / "_common", dest, dirs_exist_ok=True)
    for earlier in _earlier_rounds(stem):
        for att in job_for(earlier).attachments:
            (dest / att.name).write_bytes(att.data)
    shutil.copytree(
        APPS / stem, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns("wrong.json")
    )
    if wrong:
        spec = wrong_spec(stem)
        for path, search, replace in spec.get("edit", []):
            text = (dest / path).read_text("utf-8")
            assert text.count(search) == 1, f"{stem}: {search!r} must occur once in {path}"
            (dest / path).write_text(text.replace(search, replace), "utf-8")
        for path, content in spec.get("write", {}).items():
            (dest / path).write_text(content, "utf-8")
    return job_for(stem)
