"""Issue 11 item 1: nothing public lets anyone test a guess of DEPLOY_SECRET offline.

The attack: take everything a run makes public (the dispatch inputs, side-branch blobs, repo
names and descriptions) and try to open the sealed payload with keys derived from each guess of
the secret, the way payload keys used to be derived. A control shows the same loop does find the
secret when a payload is sealed the old way, so the attack is real and the fix is what stops it.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path

import nacl.exceptions
import nacl.secret
import pytest

from action.payload import Job, decode_key, open_sealed, seal
from receiver.config import Settings
from receiver.github.forge import GitHubForge
from receiver.journal import Journal
from receiver.request import DeployRequest
from receiver.worker import Worker
from tests.fakes.github import FakeGitHub
from tests.support import FakeTime

TOKEN = "ghp_faketoken"
REPO = "octo-user/guess-me"
SECRET = "correct-horse-battery"  # the real DEPLOY_SECRET, and one of the guesses below


def _old_key(secret: str, repo: str) -> bytes:
    """How payload keys were derived before: BLAKE2b of the secret, then of the repo name."""
    master = hashlib.blake2b(secret.encode(), person=b"llm-deploy-mk", digest_size=32).digest()
    return hashlib.blake2b(
        repo.encode(), key=master, person=b"llm-deploy-key", digest_size=32
    ).digest()


def _candidate_keys(guess: str, repo: str) -> Iterator[bytes]:
    """Every key an attacker might derive from one guess and the public repo name."""
    yield _old_key(guess, repo)
    yield hashlib.sha256(guess.encode()).digest()
    yield hashlib.sha256(f"{guess}{repo}".encode()).digest()
    yield hashlib.blake2b(guess.encode(), digest_size=32).digest()
    yield hashlib.blake2b(repo.encode(), key=guess.encode()[:64], digest_size=32).digest()


def _attack(sealed: str, repo: str, guesses: list[str]) -> str | None:
    """The offline loop: the first guess whose key opens the public payload, or None."""
    blob = base64.b64decode(sealed)
    for guess in guesses:
        for key in _candidate_keys(guess, repo):
            try:
                nacl.secret.SecretBox(key).decrypt(blob)
            except nacl.exceptions.CryptoError:
                continue
            return guess
    return None


def _guesses() -> list[str]:
    words = [f"word{i}-{hashlib.sha256(str(i).encode()).hexdigest()[:6]}" for i in range(2000)]
    return [*words[:1000], SECRET, *words[1000:]]


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with FakeGitHub(token=TOKEN) as server:
        server.registration_lag = 0
        yield server


def _round(fake: FakeGitHub, journal: Journal, round_: int, t: FakeTime) -> None:
    settings = Settings(
        deploy_secret=SECRET,
        github_token=TOKEN,
        github_api_url=fake.url,
        llm_api_key="sk-llm-key",
        workflow_timeout=20.0,
        action_ref="octo/llm-deploy-action@" + "d4" * 20,
    )
    forge = GitHubForge(
        token=TOKEN, api_url=fake.url, sleep=t.sleep, clock=t.clock, seconds_between_writes=0.0
    )
    request = DeployRequest(
        email="student@example.com",
        secret=SECRET,
        task="guess-me",
        round=round_,
        nonce=f"n{round_}",
        brief="A page that shows hello.",
        evaluation_url="https://eval.example/notify",
    )
    request_id, _ = journal.record(request)
    Worker(settings, journal, forge, clock=t.clock).process(request_id)
    assert journal.get(request_id).state == "dispatched", journal.get(request_id).error


def test_public_payload_confirms_no_guess_of_the_secret(fake: FakeGitHub, tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite3")
    try:
        _round(fake, journal, 1, FakeTime(1_800_000_000.0))
    finally:
        journal.close()
    (dispatch,) = fake.dispatches
    repo = dispatch.repo
    sealed = dispatch.inputs["payload"]
    assert _attack(sealed, repo, _guesses()) is None
    # Control: the same loop finds the secret in a payload sealed with the old derived key.
    job = open_sealed(sealed, decode_key(fake.secret(repo, "LLM_DEPLOY_PAYLOAD_KEY")))
    assert _attack(seal(job, _old_key(SECRET, repo)), repo, _guesses()) == SECRET
    # Nothing else GitHub shows carries the secret or anything hashed from it either.
    public = " ".join([repo, fake.repo(repo).description, *dispatch.inputs.values()])
    assert SECRET not in public
    assert hashlib.sha256(SECRET.encode()).hexdigest()[:8] not in public


def test_lost_disk_writes_a_fresh_key_that_the_next_dispatch_uses(
    fake: FakeGitHub, tmp_path: Path
) -> None:
    t = FakeTime(1_800_000_000.0)
    first = Journal(tmp_path / "first.sqlite3")
    try:
        _round(fake, first, 1, t)
        old_key = fake.secret(REPO, "LLM_DEPLOY_PAYLOAD_KEY")
    finally:
        first.close()
    fresh = Journal(tmp_path / "fresh.sqlite3")  # the disk was lost: the key went with it
    try:
        before = len(fake.requests)
        _round(fake, fresh, 2, t)
        new_key = fake.secret(REPO, "LLM_DEPLOY_PAYLOAD_KEY")
        assert new_key != old_key and fresh.payload_key(REPO) == new_key
    finally:
        fresh.close()
    calls = fake.requests[before:]
    writes = [
        i
        for i, r in enumerate(calls)
        if r.method == "PUT" and r.path.endswith("/LLM_DEPLOY_PAYLOAD_KEY")
    ]
    dispatches = [i for i, r in enumerate(calls) if r.path.endswith("/dispatches")]
    assert len(writes) == 1 and writes[0] < dispatches[0]  # the fresh key is set before dispatch
    latest = fake.dispatches[-1]
    job: Job = open_sealed(latest.inputs["payload"], decode_key(new_key))
    assert job.round == 2 and job.task == "guess-me"
    with pytest.raises(Exception, match="does not decrypt"):
        open_sealed(latest.inputs["payload"], decode_key(old_key))
