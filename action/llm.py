"""OpenAI-compatible chat completions with retries, a budget guard, a fallback model and costs."""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import Callable
from typing import Any

import httpx

from action.defaults import DEFAULT_BASE_URL, DEFAULT_MODEL
from action.errors import BudgetExhausted, LLMError
from action.image_inputs import has_images, without_images
from action.usage import Completion, Usage, estimate_cost, is_budget_message

_MODEL_UNKNOWN = re.compile(
    r"pricing unknown|model\b.*\b(not found|does not exist|not supported|unknown|invalid)",
    re.IGNORECASE,
)
# With images in the request, a 4xx naming images, vision or multimodal input is a refusal of the
# images (OpenAI: 400 "image_url is only supported by certain models"; OpenRouter: 404 "No
# endpoints found that support image input"), and 413 means the images made it too large.
_IMAGES_REFUSED = re.compile(r"image|vision|multi-?modal", re.IGNORECASE)
_IMAGE_STATUSES = frozenset({400, 404, 413, 415, 422})
_MAX_BACKOFF = 30.0
_MAX_RETRY_AFTER = 60.0


def rejects_temperature(model: str) -> bool:
    """Reasoning models (gpt-5*, o-series) refuse any temperature but the default."""
    name = model.rsplit("/", 1)[-1].lower()
    return name.startswith("gpt-5") or re.match(r"o\d", name) is not None


class _Transient(Exception):
    """A failure worth retrying, with the server's requested delay if any."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class _TryFallback(LLMError):
    """A failure of this model (not of the request or account): another model may succeed."""


class _ModelUnavailable(_TryFallback):
    """The gateway does not know or serve this model."""


class _ImagesRefused(LLMError):
    """The provider will not take image inputs; the same request without them may pass."""


class _EmptyAnswer(_TryFallback):
    """The model answered with nothing usable."""


class _GaveUp(_TryFallback):
    """Transient failures outlasted every attempt."""


class LLMClient:
    """Chat completions over an injected httpx client; see ``complete``."""

    def __init__(
        self,
        http: httpx.Client,
        *,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str,
        model: str = DEFAULT_MODEL,
        fallback_model: str | None = None,
        timeout: float = 120.0,
        max_attempts: int = 4,
        sleep: Callable[[float], None] = time.sleep,
        max_tokens: int | None = None,
        temperature: float = 0.2,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.model = model
        self.fallback_model = fallback_model if fallback_model != model else None
        self.timeout = timeout
        self.max_attempts = max(1, max_attempts)
        self.sleep = sleep
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.log = log or (lambda _message: None)
        self.usage = Usage()
        self.images_refused = ""  # the provider's refusal; image parts are no longer sent

    def complete(self, messages: list[dict[str, Any]]) -> Completion:
        """One answer for a conversation, trying the fallback model if the primary one fails.

        Image parts are sent until the provider refuses them; then this request is retried once
        without them (their text descriptions stay), and later requests leave them out.
        """
        if self.images_refused and has_images(messages):
            messages = without_images(messages)
        try:
            return self._complete(messages)
        except _ImagesRefused as exc:
            self.images_refused = str(exc)
            self.log(f"The model refused image inputs ({exc}); sending descriptions only.")
            return self._complete(without_images(messages))

    def _complete(self, messages: list[dict[str, Any]]) -> Completion:
        try:
            result = self._with_retries(self.model, messages)
        except BudgetExhausted:
            raise
        except LLMError as exc:
            # A plain 4xx (bad key, bad request) will fail the same way on another model.
            if not self.fallback_model or not isinstance(exc, _TryFallback):
                raise _public(exc) from None
            self.log(f"{self.model} failed ({exc}); trying fallback model {self.fallback_model}.")
            try:
                result = self._with_retries(self.fallback_model, messages)
            except LLMError as exc2:
                raise _public(exc2) from None
        self.usage.add(result)
        return result

    def _with_retries(self, model: str, messages: list[dict[str, Any]]) -> Completion:
        for attempt in range(1, self.max_attempts + 1):
            try:
                return self._once(model, messages)
            except _Transient as exc:
                if attempt == self.max_attempts:
                    raise _GaveUp(f"gave up on {model} after {attempt} attempts: {exc}") from None
                delay = exc.retry_after
                if delay is None:
                    delay = min(_MAX_BACKOFF, 2.0 ** (attempt - 1))
                self.log(f"{model}: {exc}; retrying in {delay:g} s.")
                self.sleep(min(delay, _MAX_RETRY_AFTER))
        raise AssertionError("unreachable")

    def _once(self, model: str, messages: list[dict[str, Any]]) -> Completion:
        body: dict[str, Any] = {"model": model, "messages": messages}
        if not rejects_temperature(model):
            body["temperature"] = self.temperature
        if self.max_tokens is not None:
            key = "max_completion_tokens" if rejects_temperature(model) else "max_tokens"
            body[key] = self.max_tokens
        try:
            response = self.http.post(
                f"{self.base_url}/chat/completions",
                json=body,
                headers={"Authorization": f"Bearer {self.api_key}"},
                timeout=self.timeout,
            )
        except httpx.TimeoutException:
            raise _Transient(f"no answer within {self.timeout:g} s") from None
        except httpx.TransportError as exc:
            raise _Transient(f"connection failed ({type(exc).__name__})") from None
        return self._read(model, response, images=has_images(messages))

    def _read(self, model: str, response: httpx.Response, *, images: bool = False) -> Completion:
        status = response.status_code
        message = self._redact(_server_message(response))
        if (
            images
            and status in _IMAGE_STATUSES
            and (status == 413 or _IMAGES_REFUSED.search(message))
        ):
            raise _ImagesRefused(f"HTTP {status}: {message}")
        if status == 429:
            if is_budget_message(response.text):
                raise BudgetExhausted(f"The LLM budget is exhausted: {message}")
            raise _Transient(f"HTTP 429: {message}", _retry_after(response))
        if status >= 500:
            raise _Transient(f"HTTP {status}: {message}", _retry_after(response))
        if status == 404 or (status == 400 and _MODEL_UNKNOWN.search(message)):
            raise _ModelUnavailable(f"model {model} is unavailable (HTTP {status}: {message})")
        if status >= 400:
            raise LLMError(f"The LLM gateway refused the request (HTTP {status}): {message}")
        try:
            data = response.json()
        except ValueError:
            raise _Transient(f"HTTP {status} with a body that is not JSON") from None
        return _completion(model, data)

    def _redact(self, text: str) -> str:
        return text.replace(self.api_key, "***") if self.api_key else text


def _public(exc: LLMError) -> LLMError:
    """Turn internal subclasses into a plain LLMError for callers."""
    if isinstance(exc, _TryFallback):
        return LLMError(str(exc))
    return exc


def _completion(model: str, data: Any) -> Completion:
    choices = data.get("choices") if isinstance(data, dict) else None
    if not choices or not isinstance(choices, list):
        raise _EmptyAnswer(f"empty answer from {model} (no choices)")
    choice = choices[0] if isinstance(choices[0], dict) else {}
    content = (choice.get("message") or {}).get("content")
    if isinstance(content, list):  # some gateways return content parts
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    if not isinstance(content, str) or not content.strip():
        raise _EmptyAnswer(f"empty answer from {model}")
    usage = data.get("usage") or {}
    prompt_tokens = int(usage.get("prompt_tokens") or 0)
    completion_tokens = int(usage.get("completion_tokens") or 0)
    used_model = str(data.get("model") or model)
    cost = usage.get("cost")
    if isinstance(cost, int | float) and not isinstance(cost, bool):
        cost_usd, known = float(cost), True
    else:
        estimate = estimate_cost(used_model, prompt_tokens, completion_tokens)
        if estimate is None:
            estimate = estimate_cost(model, prompt_tokens, completion_tokens)
        cost_usd, known = (estimate, True) if estimate is not None else (0.0, False)
    return Completion(
        text=content,
        model=used_model,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cost_usd=cost_usd,
        finish_reason=str(choice.get("finish_reason") or "stop"),
        cost_known=known,
    )


def _server_message(response: httpx.Response) -> str:
    """The gateway's own error text, short enough for a log line."""
    text = response.text
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        err = data.get("error", data.get("message"))
        if isinstance(err, dict):
            err = err.get("message")
        if isinstance(err, str) and err:
            text = err
    text = " ".join(text.split())
    return (text[:300] + "…") if len(text) > 300 else (text or response.reason_phrase)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
