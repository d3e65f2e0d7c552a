"""Print the REST calls GitHubForge makes per round against the fake GitHub (targets: 8 and 3).

Round 1 follows the worker: create_repo, commit_files(workflow), set_secret x2, enable_pages,
wait_for_workflow, dispatch. Round 2: dispatch (the journal holds the payload key). Round 2 after a
lost disk: set_secret (a fresh random payload key; the old one cannot be read back), dispatch.
Registration polls are counted apart.
The outcome of a round (receiver.github.outcomes) costs one GET of the run per status view at
most every 30 s while it runs, then 3 calls once it concluded (run, artifacts, report zip; the
blob behind the zip's 302 is not the REST API), after which the journal keeps it: target 3.
Publishing the Action into the user's account (receiver.github.action_ref) happens once per
receiver start, not per round: its rows are the first publish, a restart with nothing changed,
and a start with a new version. Rounds make no call for it: the worker asks ``ActionSource``,
which resolves once per process (tests/test_action_publish.py, test_rounds_do_not_publish_again).
Run from the repo root: ``python bench/rest_calls.py``.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dataclasses

import httpx

from receiver.config import Settings
from receiver.github.action_bundle import load_sources
from receiver.github.action_ref import ensure_action
from receiver.github.forge import GitHubForge
from receiver.github.outcomes import RunOutcomes
from receiver.naming import description, task_tag
from tests.fakes.github import BLOB_PREFIX, FakeGitHub, finish_run

WORKFLOW = "llm-deploy.yml"
WORKFLOW_TEXT = b"on:\n  workflow_dispatch:\n    inputs:\n      payload: {}\n"
TAG = task_tag("bench-task")
TARGETS = {"round 1": 8, "round 2": 3, "round 2, lost disk": 4, "outcome": 3}
PUBLISH_TARGETS = {"publish, first time": 20, "publish, unchanged": 6, "publish, new version": 12}
ACTIONS = {
    "actions/setup-python": "v7",
    "actions/upload-pages-artifact": "v5",
    "actions/deploy-pages": "v5",
    "actions/upload-artifact": "v7",
    "actions/checkout": "v7",
    "actions/cache": "v5",
}


def _publishes(fake: FakeGitHub) -> list[tuple[str, object]]:
    """Each start's publish: (label, what ensure_action was called with)."""
    settings = Settings.from_environ(
        {"DEPLOY_SECRET": "bench", "GITHUB_TOKEN": fake.token, "GITHUB_API_URL": fake.url}
    )
    newer = dataclasses.replace(load_sources(), version="0.2.0")
    return [
        ("publish, first time", (settings, None)),
        ("publish, unchanged", (settings, None)),
        ("publish, new version", (settings, newer)),
    ]


def _round_one(forge: GitHubForge) -> None:
    repo = forge.create_repo("bench-task", description("bench-task", 1))
    forge.commit_files(repo, {f".github/workflows/{WORKFLOW}": WORKFLOW_TEXT}, "Add workflow")
    forge.set_secret(repo, "LLM_DEPLOY_PAYLOAD_KEY", "a2V5")
    forge.set_secret(repo, "LLM_API_KEY", "sk-bench")
    forge.enable_pages(repo)
    forge.wait_for_workflow(repo, WORKFLOW, timeout=300)
    forge.dispatch(repo, WORKFLOW, {"payload": "sealed-1"})


def _round_two(forge: GitHubForge) -> None:
    repo = forge.task_repos("bench-task", TAG)[-1]
    forge.dispatch(repo, WORKFLOW, {"payload": "sealed-2"})


def _outcome(forge: GitHubForge, fake: FakeGitHub) -> None:
    record = fake.dispatches[-1]
    finish_run(fake, record.run_id, "success", {"commit_sha": "a" * 40, "notify": {"status": 200}})
    run_url = f"https://github.com/{record.repo}/actions/runs/{record.run_id}"
    with httpx.Client() as http:
        found = RunOutcomes(forge.read, http, api_url=fake.url, token=fake.token).outcome(run_url)
    assert found is not None and found["conclusion"] == "success"


def _round_two_lost_disk(forge: GitHubForge) -> None:
    repo = forge.task_repos("bench-task", TAG)[-1]
    forge.set_secret(repo, "LLM_DEPLOY_PAYLOAD_KEY", "a2V5")
    forge.dispatch(repo, WORKFLOW, {"payload": "sealed-3"})


def main(argv: list[str] | None = None) -> int:
    """Drive both rounds and print calls per round; exit 1 when a target is missed."""
    ok = True
    with FakeGitHub(registration_lag=3) as fake, httpx.Client(timeout=30) as http:
        for name, tag in ACTIONS.items():
            fake.seed_action(name, tag, annotated=name.endswith("python"))
        for label, (settings, sources) in _publishes(fake):
            start = len(fake.requests)
            ensure_action(settings, http=http, sources=sources)  # type: ignore[arg-type]
            calls = fake.requests[start:]
            writes = sum(c.method != "GET" for c in calls)
            met = len(calls) <= PUBLISH_TARGETS[label]
            ok &= met
            print(
                f"{label}: {len(calls)} REST calls, {writes} writes "
                f"(target <= {PUBLISH_TARGETS[label]}: {'met' if met else 'MISSED'})"
            )
        forge = GitHubForge(
            token=fake.token, api_url=fake.url, seconds_between_writes=0, sleep=lambda s: None
        )
        steps = (
            ("round 1", _round_one),
            ("round 2", _round_two),
            ("round 2, lost disk", _round_two_lost_disk),
            ("outcome", lambda f: _outcome(f, fake)),
        )
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
