"""Checks of the LLM side: the key is accepted, the model is priced, AI Pipe's budget is left.

One tiny completion per model (a few output tokens) is the only call that costs anything; it is
also the only way to learn that a gateway such as AI Pipe knows the model's price.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx

from action.llm import rejects_temperature
from receiver.doctor.result import CheckResult, fail, ok, skip

KEY, BUDGET = "LLM key and model", "AI Pipe budget"
MAX_OUTPUT_TOKENS = 5
NEW_KEY = "Get a new key (https://aipipe.org/login for AI Pipe) and export it as LLM_API_KEY."


def aipipe_usage_url(base_url: str) -> str | None:
    """AI Pipe's usage endpoint when the base URL is AI Pipe's, else None."""
    parts = urlsplit(base_url)
    if parts.hostname != "aipipe.org":
        return None
    return f"{parts.scheme}://{parts.netloc}/usage"


def _error_text(response: httpx.Response) -> str:
    try:
        body: Any = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict):
        inner = body.get("error")
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])[:200]
        if body.get("message") or inner:
            return str(body.get("message") or inner)[:200]
    return response.reason_phrase


def check_model(
    http: httpx.Client, *, base_url: str, api_key: str | None, model: str, name: str = KEY
) -> CheckResult:
    """One tiny chat completion: the key is accepted and the provider can bill the model."""
    if not api_key:
        return fail(
            name,
            "no LLM_API_KEY (or AIPIPE_TOKEN): every page would come from the offline generator",
            NEW_KEY,
        )
    limit = "max_completion_tokens" if rejects_temperature(model) else "max_tokens"
    body = {
        "model": model,
        "messages": [{"role": "user", "content": "Answer with: OK"}],
        limit: MAX_OUTPUT_TOKENS,
    }
    try:
        response = http.post(
            f"{base_url.rstrip('/')}/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=60.0,
        )
    except httpx.HTTPError as exc:
        return fail(
            name,
            f"{base_url} did not answer ({type(exc).__name__})",
            "Check LLM_BASE_URL and that this machine can reach it.",
        )
    text = _error_text(response) if not response.is_success else ""
    text = text.replace(api_key, "***")  # some providers quote the key they refused
    if response.status_code in (401, 403):
        return fail(
            name, f"the provider rejected the key ({response.status_code}: {text})", NEW_KEY
        )
    if "pricing unknown" in text.lower():
        return fail(
            name,
            f"model {model} is not priced by the provider ({text})",
            f"Set {'LLM_MODEL' if name == KEY else 'LLM_FALLBACK_MODEL'} to a model in "
            "the provider's price list, e.g. gpt-4.1-mini or gpt-4.1-nano.",
        )
    if response.status_code == 429:
        return fail(
            name,
            f"the provider refused for budget or rate ({text})",
            "Wait for the budget window to roll over or raise the limit; until then "
            "runs fall back to the offline generator.",
        )
    if response.status_code in (400, 404):
        return fail(
            name,
            f"model {model} was refused ({response.status_code}: {text})",
            "Set LLM_MODEL to a model id the provider serves.",
        )
    if not response.is_success:
        return fail(
            name,
            f"the provider answered {response.status_code}: {text}",
            "Check LLM_BASE_URL and the provider's status page, then run doctor again.",
        )
    usage = response.json().get("usage") or {}
    tokens = usage.get("total_tokens")
    spent = f", {tokens} tokens" if tokens is not None else ""
    return ok(name, f"key accepted; {model} answered{spent}")


def check_aipipe_budget(
    http: httpx.Client, *, usage_url: str | None, api_key: str | None
) -> CheckResult:
    """AI Pipe's ``GET /usage``: what the rolling window has spent and what is left."""
    if usage_url is None or not api_key:
        return skip(BUDGET, "LLM_BASE_URL is not AI Pipe" if usage_url is None else "no key")
    try:
        response = http.get(usage_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=30.0)
    except httpx.HTTPError as exc:
        return fail(
            BUDGET,
            f"{usage_url} did not answer ({type(exc).__name__})",
            "Check that this machine can reach aipipe.org, then run doctor again.",
        )
    if not response.is_success:
        return fail(
            BUDGET, f"AI Pipe answered {response.status_code}: {_error_text(response)}", NEW_KEY
        )
    data = response.json()
    cost, limit, days = float(data.get("cost", 0)), float(data.get("limit", 0)), data.get("days")
    detail = f"${cost:.2f} of ${limit:.2f} used in the last {days} days"
    if limit and cost >= limit:
        return fail(
            BUDGET,
            f"{detail}: spent",
            f"Wait until older usage leaves the {days}-day window or ask for a higher "
            "limit; meanwhile runs use the offline generator.",
        )
    return ok(BUDGET, f"{detail} (${max(0.0, limit - cost):.2f} left)")
