import base64
import json
import zlib

import nacl.secret
import pytest

from action.errors import PayloadError
from action.payload import (
    VERSION,
    Attachment,
    Job,
    decode_key,
    encode_key,
    from_document,
    new_key,
    open_sealed,
    seal,
    to_document,
)

KEY = new_key()
JOB = Job(
    task="sum-of-sales-601",
    round=2,
    brief="Add a table",
    nonce="n-1",
    email="student@example.com",
    evaluation_url="https://eval.example/notify",
    checks=["js: 1 === 1", {"js": "true"}, "README is professional"],
    attachments=[Attachment("data.csv", b"a,b\n1,2\n"), Attachment("x.bin", bytes(range(256)))],
    received_at=1_700_000_000.5,
)


def test_round_trip_keeps_every_field_and_byte() -> None:
    key = KEY
    assert open_sealed(seal(JOB, key), key) == JOB


def test_sealed_payload_hides_plaintext() -> None:
    token = seal(JOB, KEY)
    for secret in ("student@example.com", "eval.example", "Add a table", "sum-of-sales"):
        assert secret not in token
    assert token.isascii()


def test_keys_are_random_and_full_size() -> None:
    keys = {new_key() for _ in range(64)}
    assert len(keys) == 64
    assert all(len(k) == nacl.secret.SecretBox.KEY_SIZE for k in keys)


def test_key_encoding_round_trip_and_errors() -> None:
    key = KEY
    assert decode_key(encode_key(key)) == key
    with pytest.raises(PayloadError, match="base64"):
        decode_key("not base64!!")
    with pytest.raises(PayloadError, match="32 bytes"):
        decode_key(base64.b64encode(b"short").decode())


def _sealed_raw(doc_bytes: bytes, key: bytes) -> str:
    return base64.b64encode(nacl.secret.SecretBox(key).encrypt(doc_bytes)).decode()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda t, k: seal(JOB, new_key()), "does not decrypt"),
        (lambda t, k: t[: len(t) // 2], "does not decrypt|truncated|base64"),
        (lambda t, k: t[:20], "too short|base64"),
        (lambda t, k: "%%%", "base64"),
        (
            lambda t, k: t[:-8] + ("A" * 8 if not t.endswith("A" * 8) else "B" * 8),
            "does not decrypt",
        ),
        (lambda t, k: _sealed_raw(b"not zlib", k), "not a compressed JSON"),
        (
            lambda t, k: _sealed_raw(zlib.compress(json.dumps({"version": 99}).encode()), k),
            "version 99",
        ),
    ],
    ids=[
        "wrong-key",
        "truncated-half",
        "truncated-short",
        "not-base64",
        "altered",
        "not-zlib",
        "unknown-version",
    ],
)
def test_each_failure_has_one_clear_error(mutate, message) -> None:
    key = KEY
    token = seal(JOB, key)
    with pytest.raises(PayloadError, match=message):
        open_sealed(mutate(token, key), key)


def test_document_rejects_bad_fields() -> None:
    doc = to_document(JOB)
    assert doc["version"] == VERSION
    del doc["task"]
    with pytest.raises(PayloadError, match="malformed"):
        from_document(doc)
    with pytest.raises(PayloadError, match="not a JSON object"):
        from_document([1, 2])


# -- previous_checks: an optional field at version 1 (docs/decisions.md) --------------------

ROUND_TWO = Job(
    task="sum-of-sales-601",
    round=2,
    brief="Add a table",
    checks=["js: !!document.querySelector('table')"],
    previous_checks=["js: document.title === 'Sales'", {"js": "true"}, "README is professional"],
)


def test_previous_checks_round_trip_and_are_left_out_when_empty() -> None:
    key = new_key()
    assert open_sealed(seal(ROUND_TWO, key), key) == ROUND_TWO
    assert to_document(ROUND_TWO)["previous_checks"] == list(ROUND_TWO.previous_checks)
    assert "previous_checks" not in to_document(JOB)  # round-1 documents are as before


def test_a_document_from_an_older_receiver_has_no_previous_checks() -> None:
    doc = to_document(ROUND_TWO)
    del doc["previous_checks"]
    assert from_document(doc).previous_checks == []


@pytest.mark.parametrize("bad", ["js: 1", [1, 2], {"js": "1"}], ids=["string", "numbers", "object"])
def test_malformed_previous_checks_are_a_payload_error(bad: object) -> None:
    doc = {**to_document(ROUND_TWO), "previous_checks": bad}
    with pytest.raises(PayloadError, match="previous_checks"):
        from_document(doc)


def _first_payload_module() -> str:
    """The oldest ``action/payload.py`` in this checkout's history (an Action before the field)."""
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    try:
        first = subprocess.run(
            ["git", "log", "--diff-filter=A", "--format=%H", "--", "action/payload.py"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()[-1]
        return subprocess.run(
            ["git", "show", f"{first}:action/payload.py"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError, IndexError):
        pytest.skip("not a git checkout with history")


def test_an_older_action_reads_a_document_with_previous_checks() -> None:
    """Version stays 1 because the first Action ever released already ignores unknown keys."""
    import sys
    import types

    old = types.ModuleType("old_payload")  # dataclasses look their module up in sys.modules
    sys.modules[old.__name__] = old
    try:
        exec(compile(_first_payload_module(), "old_payload.py", "exec"), old.__dict__)
    finally:
        del sys.modules[old.__name__]
    old_from_document = old.from_document
    assert callable(old_from_document)
    job = old_from_document(to_document(ROUND_TWO))
    assert (job.task, job.round, job.checks) == ("sum-of-sales-601", 2, ROUND_TWO.checks)
