"""Receiver settings, read once from the environment into one typed, immutable object.

This is the only module that reads ``os.environ``. ``HOST`` defaults to 127.0.0.1 so a first run
never exposes the endpoint to the network by accident; hosts such as Hugging Face Spaces set
``HOST=0.0.0.0`` (and ``PORT=7860``) explicitly.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

from action.defaults import DEFAULT_BASE_URL, DEFAULT_FALLBACK_MODEL, DEFAULT_MODEL

SECRET_FIELDS = frozenset({"deploy_secret", "github_token", "github_workflow_token", "llm_api_key"})


class ConfigError(Exception):
    """A setting is missing or malformed; the message is one sentence a user can act on."""


def _int(environ: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}.") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, not {value}.")
    return value


def _proxies(environ: Mapping[str, str]) -> int:
    # How many proxies in front of the receiver append to X-Forwarded-For: 0 (the default) means
    # the TCP peer is the client and the header, which anyone can send, is ignored.
    raw = environ.get("LLM_DEPLOY_TRUST_PROXY", "").strip().lower()
    named = {"": 0, "false": 0, "no": 0, "off": 0, "true": 1, "yes": 1, "on": 1}
    count = int(raw) if raw.isdigit() else named.get(raw)
    if count is None:
        raise ConfigError(
            f"LLM_DEPLOY_TRUST_PROXY must be off, on, or a number of proxies, not {raw!r}."
        )
    return count


def _opt(environ: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = environ.get(name, "").strip()
        if value:
            return value
    return None


def _repo_name(environ: Mapping[str, str], name: str, default: str) -> str:
    value = _opt(environ, name) or default
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,100}", value) or value.endswith(".git"):
        raise ConfigError(
            f"{name} must be a repository name of at most 100 letters, digits, '.', '_' or '-', "
            f"not {value!r}."
        )
    return value


@dataclass(frozen=True)
class Settings:
    deploy_secret: str
    github_token: str | None = None
    github_owner: str | None = None
    github_api_url: str = "https://api.github.com"
    github_workflow_token: str | None = None
    llm_api_key: str | None = None
    llm_base_url: str = DEFAULT_BASE_URL
    llm_model: str = DEFAULT_MODEL
    llm_fallback_model: str = DEFAULT_FALLBACK_MODEL
    data_dir: Path = Path("llm-deploy-data")
    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = 25 * 1024 * 1024
    body_timeout: float = 30.0
    # None: publish this version's Action into the user's account and pin its commit
    # (receiver.github.action_ref); no default may name an account the user does not control.
    action_ref: str | None = None
    action_repo: str = "llm-deploy-action"
    public_url: str = "http://127.0.0.1:8000"
    workflow_timeout: float = 180.0
    settle_interval: float = 20.0
    worker_threads: int = 4
    pages_port: int | None = None  # where a mode serves sites itself; None: PORT + 1, or any free
    pages_url: str | None = None  # the origin those sites are announced at; None: from the port
    trust_proxy: int = 0  # proxies appending to X-Forwarded-For (0: none, the header is ignored)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        """Read every setting once; a missing DEPLOY_SECRET raises ConfigError."""
        deploy_secret = environ.get("DEPLOY_SECRET", "")
        if not deploy_secret.strip():
            raise ConfigError(
                "DEPLOY_SECRET is not set: export the shared secret that requests must carry."
            )
        host = _opt(environ, "HOST") or "127.0.0.1"
        port = _int(environ, "PORT", 8000)
        public_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        pages_port = _opt(environ, "LLM_DEPLOY_PAGES_PORT")
        return cls(
            deploy_secret=deploy_secret,
            github_token=_opt(environ, "GITHUB_TOKEN"),
            github_owner=_opt(environ, "GITHUB_OWNER"),
            github_api_url=(_opt(environ, "GITHUB_API_URL") or cls.github_api_url).rstrip("/"),
            github_workflow_token=_opt(environ, "GITHUB_WORKFLOW_TOKEN"),
            llm_api_key=_opt(environ, "LLM_API_KEY", "AIPIPE_TOKEN"),
            llm_base_url=(_opt(environ, "LLM_BASE_URL") or cls.llm_base_url).rstrip("/"),
            llm_model=_opt(environ, "LLM_MODEL") or cls.llm_model,
            llm_fallback_model=_opt(environ, "LLM_FALLBACK_MODEL") or cls.llm_fallback_model,
            data_dir=Path(_opt(environ, "LLM_DEPLOY_DATA") or "llm-deploy-data"),
            host=host,
            port=port,
            max_body_bytes=_int(environ, "LLM_DEPLOY_MAX_BODY_MB", 25) * 1024 * 1024,
            body_timeout=float(_int(environ, "LLM_DEPLOY_BODY_TIMEOUT", 30)),
            action_ref=_opt(environ, "LLM_DEPLOY_ACTION_REF"),
            action_repo=_repo_name(environ, "LLM_DEPLOY_ACTION_REPO", cls.action_repo),
            public_url=(
                _opt(environ, "LLM_DEPLOY_PUBLIC_URL") or f"http://{public_host}:{port}"
            ).rstrip("/"),
            workflow_timeout=float(_int(environ, "LLM_DEPLOY_WORKFLOW_TIMEOUT", 180)),
            settle_interval=float(_int(environ, "LLM_DEPLOY_SETTLE_SECONDS", 20)),
            worker_threads=_int(environ, "LLM_DEPLOY_WORKERS", 4),
            pages_port=_int(environ, "LLM_DEPLOY_PAGES_PORT", 0, minimum=0) if pages_port else None,
            pages_url=(_opt(environ, "LLM_DEPLOY_PAGES_URL") or "").rstrip("/") or None,
            trust_proxy=_proxies(environ),
        )

    def __repr__(self) -> str:
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            shown = ("'***'" if value else "None") if f.name in SECRET_FIELDS else repr(value)
            parts.append(f"{f.name}={shown}")
        return f"Settings({', '.join(parts)})"
