"""Print the size of the first prompt the Action sends per corpus task, beside a naive prompt.

    python bench/prompt_size.py [--tasks DIR]

For every request in ../shared/tasks/*.json this builds the messages of the real round, as
``action.generate.Run`` does: the Job from the request (``action.attachments.from_request``), the
attachment notes from ``Run._attachments`` itself (one ``action.attachments.describe`` note per
attachment, plus a note for each file the Action derives, such as an XLSX converted to CSV), and
``action.prompts.generation_messages(..., allow_workflows=False)``. A round 2 sees the files
``Worktree.context()`` reads from a git working copy holding the hand-written round-1 app of
``tests/apps/<task>-r1`` with its attachments, committed as round 1 would have left it.

The naive prompt is the same system and user text with one line per attachment carrying its whole
``data:`` URI from the request instead of the notes (round 2: the same current files).

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
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from action import gitops, prompts
from action.attachments import from_request
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


def job_for(request: dict[str, Any]) -> Job:
    """The Job the Action decodes from this request's payload."""
    return Job(
        task=request["task"],
        round=int(request["round"]),
        brief=request["brief"],
        nonce=request.get("nonce", ""),
        checks=list(request.get("checks", [])),
        attachments=from_request(request.get("attachments", [])),
    )


def round_one_repo(stem: str, root: Path) -> None:
    """A working copy as round 1 leaves it: the corpus round-1 app and attachments, committed."""
    subprocess.run(["git", "init", "--quiet", "--initial-branch=main", str(root)], check=True)
    base = stem.rsplit("-", 1)[0]
    build_app(f"{base}-r1", root)
    gitops.commit_all(root, gitops.commit_message(base, 1))


def prompts_for(request: dict[str, Any], root: Path, http: httpx.Client) -> tuple[int, int]:
    """(characters of our messages, characters of the naive messages) for one request."""
    job = job_for(request)
    settings = ActionSettings(workspace=str(root), repository=f"bench/{job.task}")
    run = Run(settings, http=http, log=lambda _line: None)
    # The real step: commit the attachments, then read the notes and (round 2) the current files.
    notes, _protected = run._attachments(job)
    current = run.tree.context() if job.round > 1 else None
    ours = prompts.generation_messages(
        job, attachment_notes=notes, current_files=current, allow_workflows=False
    )
    # Each line names the attachment, so generation_messages adds no "name (N bytes)" line.
    inlined = [
        f"Attachment `{att.name}`: {item['url']}"
        for att, item in zip(job.attachments, request.get("attachments", []), strict=True)
    ]
    naive = prompts.generation_messages(
        job, attachment_notes=inlined, current_files=current, allow_workflows=False
    )
    return size(ours), size(naive)


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
        f" {'naive chars':>11} {'~tok':>6} {'ratio':>6}"
    )
    total_ours = total_naive = total_bytes = 0
    with tempfile.TemporaryDirectory() as tmp, httpx.Client() as http:
        for path in paths:
            request = json.loads(path.read_text("utf-8"))
            root = Path(tmp) / path.stem
            if int(request["round"]) > 1:
                round_one_repo(path.stem, root)
            else:
                root.mkdir()
            ours, naive = prompts_for(request, root, http)
            att_bytes = sum(len(a.data) for a in job_for(request).attachments)
            total_ours, total_naive = total_ours + ours, total_naive + naive
            total_bytes += att_bytes
            print(
                f"{path.stem:34} {request['round']:>3} {len(request.get('attachments', [])):>3}"
                f" {att_bytes:>9} {ours:>10} {tokens(ours):>6} {naive:>11} {tokens(naive):>6}"
                f" {naive / ours:>6.2f}"
            )
    print(
        f"{f'total ({len(paths)} requests)':34} {'':>3} {'':>3} {total_bytes:>9} {total_ours:>10}"
        f" {tokens(total_ours):>6} {total_naive:>11} {tokens(total_naive):>6}"
        f" {total_naive / total_ours:>6.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
