"""The checklist: every preflight check in order, against the real APIs, as one ``Report``."""

from __future__ import annotations

import httpx

from receiver.config import Settings
from receiver.doctor import github_checks as gh
from receiver.doctor import host_checks, llm_checks
from receiver.doctor.action_ref import ActionRef, EnsureAction, parse_action_ref, resolve_action
from receiver.doctor.github_api import GitHubApi
from receiver.doctor.result import CheckResult, DoctorError, Report, fail, skip

AIPIPE = "from LLM_BASE_URL"  # the default for ``usage_url``: AI Pipe's when the base is AI Pipe


def github_checks(
    settings: Settings, http: httpx.Client, ensure: EnsureAction
) -> list[CheckResult]:
    """Token, permissions, Actions policy, Pages and the Action; skipped lines in local mode."""
    if settings.github_token is None:
        return [
            skip(gh.TOKEN, "local mode: no GITHUB_TOKEN, nothing on GitHub to check"),
            *gh.skipped_github("local mode"),
        ]
    api = GitHubApi(http, settings.github_api_url, settings.github_token or "")
    try:
        token, identity = gh.check_token(api, settings.github_owner)
    except DoctorError as exc:
        return [
            fail(
                gh.TOKEN, str(exc), "Check GITHUB_API_URL and the network, then run doctor again."
            ),
            *gh.skipped_github(gh.NEEDS_TOKEN),
        ]
    if identity is None:
        return [token, *gh.skipped_github(gh.NEEDS_TOKEN)]
    results = [token]
    action: ActionRef | DoctorError
    try:
        action = ensure(settings, http)
    except DoctorError as exc:
        action = exc
    known = action if isinstance(action, ActionRef) else _parsed(settings.action_ref or "")
    try:
        probe = gh.find_probe_repo(api, identity, known)
        if identity.scopes is None:
            results.append(gh.check_fine_grained(api, identity, probe))
        else:
            results.append(gh.check_classic_scopes(identity))
        results.append(gh.check_actions_policy(api, identity, probe, known))
        results.append(gh.check_pages(api, probe))
    except DoctorError as exc:
        results.append(fail(gh.SCOPES, str(exc), "Run doctor again once GitHub answers."))
    results.append(gh.check_action(action, settings.action_ref))
    return results


def _parsed(text: str) -> ActionRef | None:
    try:
        return parse_action_ref(text)
    except DoctorError:
        return None


def run_checks(
    settings: Settings,
    http: httpx.Client,
    *,
    ensure: EnsureAction = resolve_action,
    usage_url: str | None = AIPIPE,
) -> Report:
    """Every check, in the order a person fixes them: secret, GitHub, LLM, public URL.

    ``ensure`` resolves the Action (``doctor --fix`` passes one that publishes it first);
    ``usage_url`` is AI Pipe's usage endpoint, derived from ``LLM_BASE_URL`` unless given.
    """
    report = Report(mode="local" if (settings.github_token is None) else "github")
    report.checks.append(host_checks.check_secret(settings.deploy_secret))
    report.checks += github_checks(settings, http, ensure)
    if usage_url == AIPIPE:
        usage_url = llm_checks.aipipe_usage_url(settings.llm_base_url)
    key = llm_checks.check_model(
        http,
        base_url=settings.llm_base_url,
        api_key=settings.llm_api_key,
        model=settings.llm_model,
    )
    report.checks.append(key)
    if key.fix == llm_checks.NEW_KEY:  # one cause, one ✗: the budget cannot be read either
        report.checks.append(skip(llm_checks.BUDGET, "needs an accepted LLM key"))
    else:
        report.checks.append(
            llm_checks.check_aipipe_budget(http, usage_url=usage_url, api_key=settings.llm_api_key)
        )
    if host_checks.public_url_is_set(settings.public_url):
        report.checks.append(host_checks.check_public_url(http, settings.public_url))
        report.endpoint = f"{settings.public_url}/api-deploy"
    else:
        report.checks.append(host_checks.skipped_public_url())
    return report
