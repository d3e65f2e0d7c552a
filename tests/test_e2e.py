"""End to end in local mode, for every request of ../shared/tasks, all on 127.0.0.1.

One receiver (the real ``create_app`` with its default local forge and runner, under uvicorn)
serves the whole corpus; a fake model answers each request with the hand-written app of
tests/apps, and a fake evaluator collects the notifications. Every task's rounds run in order
(round 1, then its round-2 variants) while the tasks run concurrently; each test then checks one
request's notification against the repo (``git clone``) and the page the receiver serves.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from action.attachment_policy import attachment_policy
from action.prompts import describe_check
from receiver.app import create_app
from receiver.config import Settings
from tests.conftest import task_sequences
from tests.e2e_support import (
    Deployed,
    app_files,
    attachments,
    check_notification,
    corpus_answer,
    free_socket,
    link_tool_cache,
    load_request,
    prebuild_action_venv,
    serve,
    wait_for,
)
from tests.fakes.evaluator import FakeEvaluator
from tests.fakes.llm import FakeLLM, all_text

SECRET = "e2e-secret"
PER_REQUEST = 120.0  # seconds from POST to notification before a request counts as lost
SEQUENCES = task_sequences()
STEMS = [stem for seq in SEQUENCES for stem in seq]


@dataclass
class Outcome:
    note: dict[str, Any] | None = None
    deployed: Deployed | None = None
    error: str = ""
    states: list[str] = field(default_factory=list)  # status-endpoint states seen, in order
    status: dict[str, Any] = field(default_factory=dict)  # the round's final status entry
    seconds: float = 0.0


def _round(http: httpx.Client, status_url: str, nonce: str) -> dict[str, Any] | None:
    """This request's entry in the status endpoint."""
    rounds = http.get(status_url, headers={"authorization": f"Bearer {SECRET}"}).json()["rounds"]
    return next((r for r in rounds if r["nonce"] == nonce), None)


def _drive_one(
    stem: str, base: str, ev: FakeEvaluator, work: Path, http: httpx.Client, outcome: Outcome
) -> None:
    request = load_request(stem)
    nonce = request["nonce"]
    body = {**request, "secret": SECRET, "evaluation_url": ev.url}
    started = time.monotonic()
    answer = http.post(f"{base}/api-deploy", json=body)
    assert answer.status_code == 200, answer.text
    status_url = answer.json()["status_url"]

    def seen() -> dict[str, Any] | None:
        entry = _round(http, status_url, nonce)
        if entry and (not outcome.states or outcome.states[-1] != entry["state"]):
            outcome.states.append(entry["state"])
        return entry

    def arrived() -> dict[str, Any] | None:
        entry = seen()
        if entry and entry["state"] == "failed":
            raise AssertionError(f"the run failed: {entry}")
        with ev._lock:
            return next((b for b in ev.bodies if b.get("nonce") == nonce), None)

    outcome.note = wait_for(arrived, PER_REQUEST, f"the notification of {stem}")
    outcome.seconds = time.monotonic() - started
    outcome.deployed = check_notification(outcome.note, request, work, http)

    def final() -> dict[str, Any] | None:
        entry = seen()
        return entry if entry and entry["state"] in ("deployed", "notified") else None

    # The run goes on after the notification (it checks the deployed page), so allow a minute.
    outcome.status = wait_for(final, 60, "the final state", every=0.2)


def _drive(
    stems: list[str], base: str, ev: FakeEvaluator, work: Path, out: dict[str, Outcome]
) -> None:
    """POST each round of one task in order, waiting for its notification and checking it."""
    with httpx.Client(timeout=30) as http:
        for stem in stems:
            outcome = out[stem] = Outcome()
            try:
                _drive_one(stem, base, ev, work, http, outcome)
            except Exception as exc:  # recorded; the test of this request reports it
                outcome.error = f"{type(exc).__name__}: {exc!r}"
                return  # later rounds would only fail for the same reason


@dataclass
class Corpus:
    base: str
    outcomes: dict[str, Outcome]
    prompts: list[str] = field(default_factory=list)  # every model request's text

    def get(self, stem: str) -> Outcome | None:
        return self.outcomes.get(stem)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Corpus]:
    """Run the whole corpus once through one receiver; the outcome of each request."""
    prebuild_action_venv()
    root = tmp_path_factory.mktemp("e2e")
    data = root / "data"
    link_tool_cache(data)
    sock = free_socket()
    port = sock.getsockname()[1]
    with FakeLLM(default=corpus_answer) as llm, FakeEvaluator() as ev:
        settings = Settings.from_environ(
            {
                "DEPLOY_SECRET": SECRET,
                "LLM_API_KEY": llm.api_key,
                "LLM_BASE_URL": llm.base_url,
                "LLM_DEPLOY_DATA": str(data),
                "PORT": str(port),
                "LLM_DEPLOY_WORKERS": str(len(SEQUENCES)),
            }
        )
        with serve(create_app(settings), sock) as base:
            out: dict[str, Outcome] = {}
            with ThreadPoolExecutor(len(SEQUENCES)) as pool:
                for done in [pool.submit(_drive, seq, base, ev, root, out) for seq in SEQUENCES]:
                    done.result()
            assert all(r.authorized for r in llm.requests), "the model key did not reach the run"
            yield Corpus(base, out, [all_text(r.json) for r in llm.requests])


def _outcome(corpus: Corpus, stem: str) -> Outcome:
    outcome = corpus.get(stem)
    assert outcome is not None, f"{stem} never ran (an earlier round of its task failed)"
    assert not outcome.error, outcome.error
    assert outcome.note is not None and outcome.deployed is not None
    return outcome


@pytest.mark.parametrize("stem", STEMS, ids=STEMS)
def test_request_is_deployed_and_notified(corpus: Corpus, stem: str) -> None:
    outcome = _outcome(corpus, stem)
    assert outcome.deployed is not None
    deployed, request = outcome.deployed, load_request(stem)
    files = deployed.files()
    given = attachments(stem)
    left_out, rewritable = attachment_policy(request["brief"], list(given))
    for path, data in given.items():
        if path not in left_out | rewritable:
            assert deployed.show(path) == data, f"attachment {path} differs"
    for path, text in app_files(stem).items():
        if path == "README.md" or path.startswith(".github/") or path in given:
            continue  # README is completed by the Action; workflows need a push token
        assert path in files, f"the model's {path} is not at the repo root"
        # The writer ends every text file with one newline.
        committed = deployed.show(path).rstrip(b"\n")
        assert committed == text.encode().rstrip(b"\n"), f"the model's {path} was changed"
    assert b"MIT License" in deployed.show("LICENSE")
    readme = deployed.show("README.md").decode()
    assert f"Round {request['round']} of {request['task']}" in readme
    # The status endpoint shows the round's progress (the notification went to the fake
    # evaluator, not to the receiver's /local/notify, so the round ends "deployed"), and how it
    # ended: the run's report says that evaluator answered 200.
    assert outcome.status["state"] == "deployed" and outcome.status["notified"] is True
    assert outcome.status["outcome"]["conclusion"] == "success"
    assert outcome.status["outcome"]["commit_sha"] == outcome.deployed.sha
    assert outcome.status["outcome"]["evaluator_status"] == 200
    assert outcome.status["run"]["state"] == "success"
    assert outcome.status["run_url"].endswith(f"/runs/{outcome.status['run']['id']}")
    assert "email" not in outcome.status and request["email"] not in str(outcome.status)


@pytest.mark.parametrize(
    "seq", [s for s in SEQUENCES if len(s) > 1], ids=[s[0][:-3] for s in SEQUENCES if len(s) > 1]
)
def test_round_two_updates_the_same_repo(corpus: Corpus, seq: list[str]) -> None:
    first = _outcome(corpus, seq[0])
    assert first.note is not None and first.deployed is not None
    previous = first
    for stem in seq[1:]:
        later = _outcome(corpus, stem)
        assert later.note is not None and later.deployed is not None
        assert previous.note is not None and previous.deployed is not None
        assert later.note["repo_url"] == first.note["repo_url"]
        assert later.note["pages_url"] == first.note["pages_url"]
        assert later.deployed.sha != previous.deployed.sha
        assert previous.deployed.sha in later.deployed.parents()
        assert later.deployed.show("README.md") != previous.deployed.show("README.md")
        previous = later


@pytest.mark.parametrize(
    "seq", [s for s in SEQUENCES if len(s) > 1], ids=[s[0][:-3] for s in SEQUENCES if len(s) > 1]
)
def test_later_rounds_are_held_to_round_one_checks(corpus: Corpus, seq: list[str]) -> None:
    """The journal's round-1 checks reach the round-2 Action, which lists them for the model."""
    first, held = load_request(seq[0]), 0
    for stem in seq[1:]:
        _outcome(corpus, stem)
        request = load_request(stem)
        earlier = [c for c in first["checks"] if c not in request["checks"]]
        brief = request["brief"].strip()[:80]
        prompts = [p for p in corpus.prompts if brief in p and "Checks of the earlier" in p]
        for check in earlier:
            assert prompts and describe_check(check).text in prompts[0], (stem, check)
            held += 1
    assert held, "no round-1 check to hold a later round to: the test proves nothing"


def test_progress_moves_through_the_states(corpus: Corpus) -> None:
    seen = [_outcome(corpus, stem).states for stem in STEMS]
    order = ["queued", "working", "dispatching", "dispatched", "running", "deployed", "notified"]
    for states in seen:
        assert states[-1] in ("deployed", "notified"), states
        indexes = [order.index(s) for s in states]
        assert indexes == sorted(indexes), f"states went backwards: {states}"
    assert any("running" in states for states in seen), "no poll ever saw a run in progress"
    slowest = max(_outcome(corpus, stem).seconds for stem in STEMS)
    assert slowest < PER_REQUEST


NOTIFY_CASES = [
    ({}, 200, ""),
    ({"nonce": "not-sent"}, 400, "nonce"),
    ({"email": "someone@else.example"}, 400, "email"),
    ({"round": 7}, 400, "round 7"),
    ({"commit_sha": None, "drop": "commit_sha"}, 400, "Missing fields: commit_sha"),
]


@pytest.mark.parametrize(
    ("change", "code", "reason"), NOTIFY_CASES, ids=["match", "nonce", "email", "round", "missing"]
)
def test_local_notify_answers_like_the_evaluator(
    corpus: Corpus, change: dict[str, Any], code: int, reason: str
) -> None:
    stem = "sum-of-sales-601-r1"
    note = dict(_outcome(corpus, stem).note or {})
    note.update({k: v for k, v in change.items() if k != "drop"})
    note.pop(change.get("drop", ""), None)
    answer = httpx.post(f"{corpus.base}/local/notify", json=note, timeout=10)
    assert answer.status_code == code, answer.text
    assert reason in answer.text
    status = httpx.get(
        f"{corpus.base}/api-deploy/sum-of-sales-601",
        timeout=10,
        headers={"authorization": f"Bearer {SECRET}"},
    ).json()
    entry = next(r for r in status["rounds"] if r["nonce"] == load_request(stem)["nonce"])
    if code == 200:
        assert entry["notified"] and entry["state"] == "notified"
        assert entry["notified_commit"] == note["commit_sha"]
    assert load_request(stem)["email"] not in str(status)
