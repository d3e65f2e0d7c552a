"""The Action's inputs, read once from the environment into one typed object.

This is the only module of the ``action`` package that reads ``os.environ``; it decrypts nothing
(``action.job_source`` turns settings into the job, opening the payload). Each action input
``x-y`` reaches the steps as ``INPUT_X_Y`` (``action.yml`` maps them explicitly with ``env:``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from action.defaults import DEFAULT_BASE_URL, DEFAULT_MODEL
from action.errors import SettingsError


def _input(environ: Mapping[str, str], name: str, default: str = "") -> str:
    value = environ.get("INPUT_" + name.upper().replace("-", "_"), "").strip()
    return value or default


def _flag(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = _input(environ, name, "true" if default else "false").lower()
    if raw in ("true", "1", "yes", "on"):
        return True
    if raw in ("false", "0", "no", "off"):
        return False
    raise SettingsError(f"The input '{name}' must be 'true' or 'false', not {raw!r}.")


def _int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = _input(environ, name, str(default))
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"The input '{name}' must be a whole number, not {raw!r}.") from None


def _attempt(raw: str) -> int:
    return int(raw) if raw.strip().isdigit() and int(raw) > 0 else 1


def parse_checks(text: str) -> list[str | dict[str, str]]:
    """Checks from an input: a JSON list, or one check per non-empty line."""
    text = text.strip()
    if not text:
        return []
    if text.startswith("["):
        try:
            items = json.loads(text)
        except ValueError:
            raise SettingsError(
                "The input 'checks' starts with '[' but is not a JSON list."
            ) from None
        if not isinstance(items, list):
            raise SettingsError("The input 'checks' must be a JSON list.")
        return [i if isinstance(i, dict) else str(i) for i in items]
    return [line.strip() for line in text.splitlines() if line.strip()]


@dataclass(frozen=True)
class ActionSettings:
    """Everything the steps need; secret fields are left out of ``repr``."""

    workspace: str = "."
    repository: str = ""
    server_url: str = "https://github.com"
    # GitHub's REST API as the runner names it (the run listing, the Pages reads; local runs name
    # receiver.local.github_api); empty outside a runner, and then nothing asks it.
    api_url: str = ""
    ref_name: str = ""
    output_path: str = ""
    summary_path: str = ""
    runner_temp: str = ""
    # This run on GitHub: re-runs keep the run id and count attempts; the API lists its runs.
    run_id: str = ""
    run_attempt: int = 1
    workflow_ref: str = ""
    payload: str = field(default="", repr=False)
    payload_key: str = field(default="", repr=False)
    brief: str = field(default="", repr=False)
    task: str = ""
    round: int = 1
    checks: list[str | dict[str, str]] = field(default_factory=list)
    evaluation_url: str = field(default="", repr=False)
    email: str = field(default="", repr=False)
    nonce: str = ""
    llm_api_key: str = field(default="", repr=False)
    llm_base_url: str = DEFAULT_BASE_URL
    model: str = DEFAULT_MODEL
    fallback_model: str = ""
    github_token: str = field(default="", repr=False)
    push_token: str = field(default="", repr=False)
    deploy: bool = True
    verify: bool = True
    repair_rounds: int = 2
    repair_token_budget: int = 60_000
    dispatch_id: str = ""
    pages_url: str = ""
    repo_url: str = ""
    # Handed from the generate and deploy steps to the notify step.
    commit_sha: str = ""
    deployed_page_url: str = ""
    # False when the app's own workflow publishes Pages and this run left the site to it.
    site_by_action: bool = True
    generated_page_url: str = ""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> ActionSettings:
        """Read the inputs and GitHub's own variables (``os.environ`` unless given); a malformed
        input is a SettingsError."""
        environ = os.environ if environ is None else environ
        return cls(
            workspace=environ.get("GITHUB_WORKSPACE", "") or os.getcwd(),
            repository=environ.get("GITHUB_REPOSITORY", ""),
            server_url=environ.get("GITHUB_SERVER_URL", "") or "https://github.com",
            api_url=environ.get("GITHUB_API_URL", "").strip(),
            ref_name=environ.get("GITHUB_REF_NAME", ""),
            output_path=environ.get("GITHUB_OUTPUT", ""),
            summary_path=environ.get("GITHUB_STEP_SUMMARY", ""),
            runner_temp=environ.get("RUNNER_TEMP", ""),
            run_id=environ.get("GITHUB_RUN_ID", "").strip(),
            run_attempt=_attempt(environ.get("GITHUB_RUN_ATTEMPT", "")),
            workflow_ref=environ.get("GITHUB_WORKFLOW_REF", "").strip(),
            payload=_input(environ, "payload"),
            payload_key=_input(environ, "payload-key"),
            brief=environ.get("INPUT_BRIEF", "").strip(),
            task=_input(environ, "task"),
            round=_int(environ, "round", 1),
            checks=parse_checks(environ.get("INPUT_CHECKS", "")),
            evaluation_url=_input(environ, "evaluation-url"),
            email=_input(environ, "email"),
            nonce=_input(environ, "nonce"),
            llm_api_key=_input(environ, "llm-api-key"),
            llm_base_url=_input(environ, "llm-base-url", DEFAULT_BASE_URL),
            model=_input(environ, "model", DEFAULT_MODEL),
            fallback_model=_input(environ, "fallback-model"),
            github_token=_input(environ, "github-token"),
            push_token=_input(environ, "push-token"),
            deploy=_flag(environ, "deploy", True),
            verify=_flag(environ, "verify", True),
            repair_rounds=max(0, _int(environ, "repair-rounds", 2)),
            repair_token_budget=max(0, _int(environ, "repair-token-budget", 60_000)),
            dispatch_id=_input(environ, "dispatch-id"),
            pages_url=_input(environ, "pages-url"),
            repo_url=_input(environ, "repo-url"),
            commit_sha=_input(environ, "commit-sha"),
            deployed_page_url=environ.get("LLMD_DEPLOY_PAGE_URL", "").strip(),
            site_by_action=environ.get("LLMD_SITE_BY_ACTION", "").strip() != "false",
            generated_page_url=environ.get("LLMD_GENERATED_PAGE_URL", "").strip(),
        )

    @property
    def repo_name(self) -> str:
        return self.repository.rsplit("/", 1)[-1]

    def secrets(self) -> list[str]:
        """Values that must never reach logs, outputs or the summary."""
        values = [self.payload_key, self.llm_api_key, self.github_token, self.push_token]
        values += [self.email, self.evaluation_url]
        return [v for v in values if v]


def page_url(settings: ActionSettings) -> str:
    """Where Pages serves the site: the override input, else GitHub's URL for the repository."""
    if settings.pages_url:
        return settings.pages_url if settings.pages_url.endswith("/") else settings.pages_url + "/"
    if "/" not in settings.repository:
        return ""
    owner, repo = settings.repository.split("/", 1)
    owner = owner.lower()
    if repo.lower() == f"{owner}.github.io":
        return f"https://{owner}.github.io/"
    return f"https://{owner}.github.io/{repo}/"
