"""Print the REST calls GitHubForge makes per round against the fake GitHub (targets: 8 and 3).

Round 1 follows the worker: create_repo, commit_files(workflow), set_secret x2, enable_pages,
wait_for_workflow, dispatch. Round 2: has_secret, dispatch. Registration polls are counted apart.
The outcome of a round (receiver.github.outcomes) costs one GET of the run per status view at
most every 30 s while it runs, then 3 calls once it concluded (run, artifacts, report zip; the
blob behind the zip's 302 is not the REST API), after which the journal keeps it: target 3.
Run from the repo root: ``python bench/rest_calls.py``.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from receiver.github.forge import GitHubForge
from receiver.github.outcomes import RunOutcomes
from tests.fakes.github import BLOB_PREFIX, FakeGitHub, finish_run

WORKFLOW = "llm-deploy.yml"
WORKFLOW_TEXT = b"on:\n  workflow_dispatch:\n    inputs:\n      payload: {}\n"
TARGETS = {"round 1": 8, "round 2": 3, "outcome": 3}


def _round_one(forge: GitHubForge) -> None:
    repo = forge.create_repo("bench-task", "Built by llm-deploy for task bench-task, round 1")
    forge.commit_files(repo, {f".github/workflows/{WORKFLOW}": WORKFLOW_TEXT}, "Add workflow")
    forge.set_secret(repo, "LLM_DEPLOY_PAYLOAD_KEY", "a2V5")
    forge.set_secret(repo, "LLM_API_KEY", "sk-bench")
    forge.enable_pages(repo)
    forge.wait_for_workflow(repo, WORKFLOW, timeout=300)
    forge.dispatch(repo, WORKFLOW, {"payload": "sealed-1"})


def _round_two(forge: GitHubForge) -> None:
    repo = forge.task_repos("bench-task")[-1]
    if not forge.has_secret(repo, "LLM_DEPLOY_PAYLOAD_KEY"):
        forge.set_secret(repo, "LLM_DEPLOY_PAYLOAD_KEY", "a2V5")
    forge.dispatch(repo, WORKFLOW, {"payload": "sealed-2"})


def _outcome(forge: GitHubForge, fake: FakeGitHub) -> None:
    record = fake.dispatches[-1]
    finish_run(fake, record.run_id, "success", {"commit_sha": "a" * 40, "notify": {"status": 200}})
    run_url = f"https://github.com/{record.repo}/actions/runs/{record.run_id}"
    with httpx.Client() as http:
        found = RunOutcomes(forge.read, http, api_url=fake.url, token=fake.token).outcome(run_url)
    assert found is not None and found["conclusion"] == "success"


def main(argv: list[str] | None = None) -> int:
    """Drive both rounds and print calls per round; exit 1 when a target is missed."""
    ok = True
    with FakeGitHub(registration_lag=3) as fake:
        forge = GitHubForge(
            token=fake.token, api_url=fake.url, seconds_between_writes=0, sleep=lambda s: None
        )
        steps = (("round 1", _round_one), ("round 2", _round_two),
                 ("outcome", lambda f: _outcome(f, fake)))
        for label, run in steps:
            start = len(fake.requests)
            run(forge)
            calls = [c for c in fake.requests[start:] if not c.path.startswith(BLOB_PREFIX)]
            polls = [c for c in calls if c.method == "GET" and "/actions/workflows/" in c.path]
            counted = len(calls) - len(polls)
            kinds = Counter(f"{c.method} {c.path.split('/', 4)[-1]}" for c in calls)
            met = counted <= TARGETS[label]
            ok &= met
            print(
                f"{label}: {counted} REST calls besides {len(polls)} registration polls "
                f"(target <= {TARGETS[label]}: {'met' if met else 'MISSED'})"
            )
            for kind, n in kinds.items():
                print(f"  {n} x {kind}")
        if fake.violations:
            print(f"{len(fake.violations)} OpenAPI violations", file=sys.stderr)
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
