"""Checks of the receiver's own setup: the deploy secret's strength and the public URL's health.

Why 20 characters: ``DEPLOY_SECRET`` is what stands between the internet and both
``POST /api-deploy`` (each accepted request spends Actions minutes and LLM budget) and the
dashboard; payload keys are random and owe it nothing. Over HTTP it can only be guessed one
request at a time; 20 random characters put that far out of reach, while short or well-known
values (the README's ``change-me``, a word, a repeated character) fall to the first list an
attacker tries.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from receiver.doctor.result import CheckResult, fail, ok, skip

SECRET, PUBLIC = "DEPLOY_SECRET", "public URL"
MIN_SECRET = 20
MIN_DISTINCT = 8
COMMON = (
    "change-me",
    "changeme",
    "secret",
    "password",
    "passw0rd",
    "letmein",
    "qwerty",
    "123456",
    "admin",
    "deploy",
    "llm-deploy",
    "example",
    "default",
    "test",
)
NEW_SECRET = (
    "Set DEPLOY_SECRET to a random value, e.g. from "
    "`python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`, and give the "
    "evaluator the same value."
)
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0"})


def check_secret(secret: str) -> CheckResult:
    """Long enough, varied enough, and not built around a well-known word."""
    lowered = secret.lower()
    common = next((word for word in COMMON if word in lowered), None)
    if len(secret) < MIN_SECRET:
        return fail(
            SECRET, f"{len(secret)} characters; fewer than {MIN_SECRET} can be guessed", NEW_SECRET
        )
    if common is not None:
        return fail(SECRET, f"contains the common word {common!r}", NEW_SECRET)
    if len(set(secret)) < MIN_DISTINCT:
        return fail(SECRET, f"only {len(set(secret))} distinct characters", NEW_SECRET)
    return ok(SECRET, f"{len(secret)} characters, no common word")


def public_url_is_set(public_url: str) -> bool:
    """False for the loopback URL the settings default to when LLM_DEPLOY_PUBLIC_URL is unset."""
    return urlsplit(public_url).hostname not in LOOPBACK


def check_public_url(http: httpx.Client, public_url: str) -> CheckResult:
    """``GET {public_url}/health`` answers ``{"status": "ok"}``, as the evaluator would see it."""
    url = f"{public_url.rstrip('/')}/health"
    fix = (
        "Start the receiver on the host (`llm-deploy serve`) and set LLM_DEPLOY_PUBLIC_URL to "
        "the https URL that reaches it."
    )
    try:
        response = http.get(url, timeout=20.0, follow_redirects=True)
    except httpx.HTTPError as exc:
        return fail(PUBLIC, f"{url} did not answer ({type(exc).__name__})", fix)
    try:
        status = response.json().get("status") if response.status_code == 200 else None
    except (ValueError, AttributeError):
        status = None
    if status != "ok":
        return fail(PUBLIC, f"{url} answered {response.status_code} without status ok", fix)
    https = "" if url.startswith("https://") else "; not https, the secret travels in clear"
    return ok(PUBLIC, f"{url} answers ok{https}")


def skipped_public_url() -> CheckResult:
    return skip(
        PUBLIC,
        "LLM_DEPLOY_PUBLIC_URL is not set; set it to the https URL the evaluator "
        "will call, and doctor checks it answers /health",
    )
