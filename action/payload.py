"""The request document the receiver hands to the Action: versioned, compressed, encrypted.

The job model itself is ``action.job``; this module is its wire format and the crypto around it.
The receiver seals a :class:`Job` with a per-repo key; the Action opens it inside its own process,
so the plaintext brief, email and evaluation URL never appear in workflow inputs or logs.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from typing import Any

import nacl.exceptions
import nacl.secret
import nacl.utils

from action.errors import PayloadError
from action.job import Attachment, Job

# Job and Attachment are defined in action.job; they are named here too because the receiver
# seals what this module opens.
__all__ = [
    "KEY_SIZE",
    "REF_PREFIX",
    "VERSION",
    "Attachment",
    "Job",
    "decode_key",
    "encode_key",
    "from_document",
    "new_key",
    "open_sealed",
    "seal",
    "to_document",
]

VERSION = 1
KEY_SIZE = nacl.secret.SecretBox.KEY_SIZE
# Prefix of a dispatch input that points at an encrypted payload file on a side branch instead
# of carrying the payload itself (used when the payload exceeds GitHub's 65,535-character cap).
REF_PREFIX = "ref:"


def to_document(job: Job) -> dict[str, Any]:
    """The JSON-ready form of a job, attachments as base64.

    ``previous_checks`` is written only when there are some: it is an optional field added at
    version 1, which Actions that predate it ignore (``from_document`` reads keys by name).
    """
    doc: dict[str, Any] = {
        "version": VERSION,
        "task": job.task,
        "round": job.round,
        "nonce": job.nonce,
        "email": job.email,
        "brief": job.brief,
        "checks": list(job.checks),
        "evaluation_url": job.evaluation_url,
        "received_at": job.received_at,
        "attachments": [
            {"name": a.name, "data": base64.b64encode(a.data).decode("ascii")}
            for a in job.attachments
        ],
    }
    if job.previous_checks:
        doc["previous_checks"] = list(job.previous_checks)
    return doc


def from_document(doc: Any) -> Job:
    """Rebuild a job from its document; an unknown version or a bad field is a PayloadError."""
    if not isinstance(doc, dict):
        raise PayloadError("The payload is not a JSON object.")
    version = doc.get("version")
    if version != VERSION:
        raise PayloadError(
            f"The payload has version {version!r}; this Action reads version {VERSION}. "
            "Pin the Action to the release that matches the receiver."
        )
    try:
        attachments = [
            Attachment(str(a["name"]), base64.b64decode(a["data"], validate=True))
            for a in doc.get("attachments", [])
        ]
        return Job(
            task=str(doc["task"]),
            round=int(doc["round"]),
            brief=str(doc["brief"]),
            nonce=str(doc.get("nonce", "")),
            email=str(doc.get("email", "")),
            evaluation_url=str(doc.get("evaluation_url", "")),
            checks=list(doc.get("checks", [])),
            attachments=attachments,
            received_at=float(doc.get("received_at", 0.0)),
            previous_checks=_checks(doc.get("previous_checks", [])),
        )
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise PayloadError(f"The payload is missing or has a malformed field: {exc}.") from None


def _checks(value: Any) -> list[Any]:
    """A list of checks (strings or ``{"js": …}`` objects); anything else is malformed."""
    if not isinstance(value, list) or not all(isinstance(c, str | dict) for c in value):
        raise ValueError("previous_checks is not a list of checks")
    return list(value)


def new_key() -> bytes:
    """A fresh random payload key (PyNaCl's CSPRNG): nothing public lets anyone test a guess of it.

    Keys are random, not derived from ``DEPLOY_SECRET``: the sealed payload sits in the public
    run's inputs, so a derived key would turn it into an offline oracle for the secret.
    """
    return nacl.utils.random(KEY_SIZE)


def encode_key(key: bytes) -> str:
    return base64.b64encode(key).decode("ascii")


def decode_key(text: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise PayloadError("The payload key is not valid base64.") from None
    if len(key) != KEY_SIZE:
        raise PayloadError(f"The payload key must decode to {KEY_SIZE} bytes, not {len(key)}.")
    return key


def seal(job: Job, key: bytes) -> str:
    """Serialise, compress and encrypt a job; the result is ASCII, safe for a dispatch input."""
    raw = json.dumps(to_document(job), separators=(",", ":")).encode("utf-8")
    box = nacl.secret.SecretBox(key)
    return base64.b64encode(box.encrypt(zlib.compress(raw, 9))).decode("ascii")


def open_sealed(token: str, key: bytes) -> Job:
    """Decrypt and decode a sealed job, with one clear error for each way it can fail."""
    try:
        blob = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise PayloadError("The payload is not valid base64 (was it truncated?).") from None
    if len(blob) < nacl.secret.SecretBox.NONCE_SIZE + nacl.secret.SecretBox.MACBYTES:
        raise PayloadError("The payload is too short to be an encrypted request (truncated?).")
    try:
        compressed = nacl.secret.SecretBox(key).decrypt(blob)
    except nacl.exceptions.CryptoError:
        raise PayloadError(
            "The payload does not decrypt with this key: the key is wrong or the payload "
            "was altered or truncated."
        ) from None
    try:
        doc = json.loads(zlib.decompress(compressed))
    except (zlib.error, ValueError):
        raise PayloadError("The payload decrypted but is not a compressed JSON document.") from None
    return from_document(doc)
