"""Print the size of the first prompt the Action sends per corpus task, beside a naive prompt.

    python bench/prompt_size.py [--tasks DIR]

For every request in ../shared/tasks/*.json this builds the messages of the real round, as
``action.generate.Run`` does: the Job from the request (``action.attachments.from_request``), the
attachment notes from ``Run._attachments`` itself (one ``action.attachments.describe`` note per
attachment, plus a note for each file the Action derives, such as an XLSX converted to CSV), and
``action.prompts.generation_messages(..., allow_workflows=False)``. A round 2 sees the files
``Worktree.context()`` reads from a git working copy holding the hand-written round-1 app of
``tests/apps/<task>-r1`` with its attachments, committed as round 1 would have left it.

A round 2 also carries round 1's checks as ``previous_checks`` (what the receiver's journal adds)
and lists those it does not repeat, as ``Run._generate`` does.

The naive prompt is the same system and user text with one line per attachment carrying its whole
``data:`` URI from the request instead of the notes (round 2: the same current files).

Image attachments (PNG/JPEG/GIF/WebP within ``action.image_inputs``'s caps) are also sent as image
parts when the provider accepts them, so each row shows both variants: ``ours`` is the request
with descriptions only (what a provider that refuses images gets), ``+img chars`` what the image
parts add to the request body (their data URIs and the line that introduces them), and ``img
~tok`` what OpenAI bills for them by its documented tile rule (high detail: fit in 2048x2048, then
the short side to 768, 170 tokens per 512-pixel tile plus 85), since image parts are billed by
pixels, not characters.

Sizes are the characters of all message contents; tokens are estimated as characters / 4,
rounded up (the rule tests/fakes/llm.py uses; no tokenizer is installed). Base64 usually costs
more tokens per character than prose, so the naive column's token estimate is a lower bound.
No target is set: the script prints figures, not a verdict.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from action import earlier_checks, gitops, image_inputs, prompts
from action.attachments import from_request
from action.formats import image_size
from action.generate import Run
from action.payload import Job
from action.settings import ActionSettings
from tests.apps.build import TASKS, build_app

CHARS_PER_TOKEN = 4


def tokens(chars: int) -> int:
    """The estimate printed beside each size."""
    return math.ceil(chars / CHARS_PER_TOKEN)


def size(messages: list[dict[str, str]]) -> int:
    return sum(len(m["content"]) for m in messages)


def job_for(request: dict[str, Any], previous: list[Any] | None = None) -> Job:
    """The Job the Action decodes from this request's payload (``previous``: round 1's checks)."""
    return Job(
        task=request["task"],
        round=int(request["round"]),
        brief=request["brief"],
        nonce=request.get("nonce", ""),
        checks=list(request.get("checks", [])),
        attachments=from_request(request.get("attachments", [])),
        previous_checks=list(previous or []),
    )


def image_tokens(width: int, height: int) -> int:
    """OpenAI's documented price of one high-detail image part, in tokens."""
    scale = min(1.0, 2048 / max(width, height))
    width, height = width * scale, height * scale
    scale = min(1.0, 768 / min(width, height))
    width, height = width * scale, height * scale
    return 85 + 170 * math.ceil(width / 512) * math.ceil(height / 512)


def round_one_repo(stem: str, root: Path) -> None:
    """A working copy as round 1 leaves it: the corpus round-1 app and attachments, committed."""
    subprocess.run(["git", "init", "--quiet", "--initial-branch=main", str(root)], check=True)
    base = stem.rsplit("-", 1)[0]
    build_app(f"{base}-r1", root)
    gitops.commit_all(root, gitops.commit_message(base, 1))


@dataclass
class Sizes:
    ours: int  # characters, descriptions only
    naive: int  # characters, attachments inlined as data URIs
    images: int  # image parts sent when the provider accepts them
    image_chars: int  # characters the image parts add (data URIs and their note)
    image_tokens: int  # what OpenAI bills for them


def prompts_for(
    request: dict[str, Any], root: Path, http: httpx.Client, previous: list[Any] | None = None
) -> Sizes:
    """Both variants of our messages, and the naive ones, for one request."""
    job = job_for(request, previous)
    settings = ActionSettings(workspace=str(root), repository=f"bench/{job.task}")
    run = Run(settings, http=http, log=lambda _line: None)
    # The real step: commit the attachments, then read the notes and (round 2) the current files.
    notes, _protected = run._attachments(job)
    current = run.tree.context() if job.round > 1 else None
    earlier = earlier_checks.earlier_only(job)
    ours = prompts.generation_messages(
        job, attachment_notes=notes, current_files=current, allow_workflows=False, earlier=earlier
    )
    plan = image_inputs.plan_images(job.attachments)
    with_images = image_inputs.with_images(ours, plan)
    note = sum(
        len(p["text"])
        for m in with_images
        if isinstance(m["content"], list)
        for p in m["content"]
        if p.get("type") == "text"
    ) - sum(len(m["content"]) for m in ours if m["role"] == "user")
    sizes = [image_size(a.data) for a in job.attachments if a.name in plan.names]
    # Each line names the attachment, so generation_messages adds no "name (N bytes)" line.
    inlined = [
        f"Attachment `{att.name}`: {item['url']}"
        for att, item in zip(job.attachments, request.get("attachments", []), strict=True)
    ]
    naive = prompts.generation_messages(
        job, attachment_notes=inlined, current_files=current, allow_workflows=False, earlier=earlier
    )
    return Sizes(
        size(ours),
        size(naive),
        len(plan.names),
        image_inputs.image_chars(with_images) + max(note, 0),
        sum(image_tokens(*wh) for wh in sizes if wh),
    )


def main(argv: list[str] | None = None) -> int:
    """Print one row per request and a total; always 0 (no target to miss)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=Path, default=TASKS, help="folder of request JSON files")
    args = parser.parse_args(argv)
    paths = sorted(args.tasks.glob("*.json"))
    if not paths:
        print(f"no request files in {args.tasks}", file=sys.stderr)
        return 2
    print(f"tokens ≈ characters / {CHARS_PER_TOKEN}, rounded up; ratio = naive / ours")
    print(
        f"{'task':34} {'rnd':>3} {'att':>3} {'att bytes':>9} {'ours chars':>10} {'~tok':>6}"
        f" {'naive chars':>11} {'~tok':>6} {'ratio':>6} {'img':>3} {'+img chars':>10}"
        f" {'img ~tok':>8}"
    )
    total_ours = total_naive = total_bytes = total_image_chars = total_image_tokens = 0
    with tempfile.TemporaryDirectory() as tmp, httpx.Client() as http:
        for path in paths:
            request = json.loads(path.read_text("utf-8"))
            root = Path(tmp) / path.stem
            previous: list[Any] = []
            if int(request["round"]) > 1:
                round_one_repo(path.stem, root)
                first = args.tasks / f"{path.stem.rsplit('-', 1)[0]}-r1.json"
                if first.is_file():  # the journal's round-1 checks
                    previous = json.loads(first.read_text("utf-8")).get("checks", [])
            else:
                root.mkdir()
            got = prompts_for(request, root, http, previous)
            ours, naive = got.ours, got.naive
            total_image_chars += got.image_chars
            total_image_tokens += got.image_tokens
            att_bytes = sum(len(a.data) for a in job_for(request).attachments)
            total_ours, total_naive = total_ours + ours, total_naive + naive
            total_bytes += att_bytes
            print(
                f"{path.stem:34} {request['round']:>3} {len(request.get('attachments', [])):>3}"
                f" {att_bytes:>9} {ours:>10} {tokens(ours):>6} {naive:>11} {tokens(naive):>6}"
                f" {naive / ours:>6.2f} {got.images:>3} {got.image_chars:>10}"
                f" {got.image_tokens:>8}"
            )
    print(
        f"{f'total ({len(paths)} requests)':34} {'':>3} {'':>3} {total_bytes:>9} {total_ours:>10}"
        f" {tokens(total_ours):>6} {total_naive:>11} {tokens(total_naive):>6}"
        f" {total_naive / total_ours:>6.2f} {'':>3} {total_image_chars:>10}"
        f" {total_image_tokens:>8}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
