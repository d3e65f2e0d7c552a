"""The LLM client against a real OpenAI-compatible fake server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from action.errors import BudgetExhausted, LLMError
from action.llm import LLMClient, rejects_temperature
from action.usage import Completion, estimate_cost, price_for
from tests.fakes.llm import FakeLLM, Reply, budget_reply, completion_body, default_app_answer

KEY = "sk-test-0123456789abcdef"
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


def make_client(http: httpx.Client, llm: FakeLLM, sleeps: list[float], **kw: object) -> LLMClient:
    return LLMClient(
        http,
        base_url=llm.base_url,
        api_key=KEY,
        sleep=sleeps.append,
        **kw,  # type: ignore[arg-type]
    )


def test_posts_chat_completion_with_bearer_key(http: httpx.Client) -> None:
    with FakeLLM(script=["hello"], api_key=KEY) as llm:
        result = make_client(http, llm, []).complete(MESSAGES)
    assert result.text == "hello"
    assert result.model == "gpt-4.1-mini"
    assert result.finish_reason == "stop" and not result.truncated
    [req] = llm.requests
    assert req.path == "/v1/chat/completions" and req.authorized
    assert "authorization" not in req.headers
    assert req.json["messages"] == MESSAGES
    assert req.json["temperature"] == 0.2


@pytest.mark.parametrize(
    ("model", "sends_temperature"),
    [
        ("gpt-5-nano", False),
        ("openai/gpt-5-mini", False),
        ("o3-mini", False),
        ("gpt-4.1-nano", True),
        ("gpt-4o-mini", True),
    ],
    ids=["gpt-5", "prefixed-gpt-5", "o-series", "gpt-4.1", "gpt-4o"],
)
def test_temperature_only_for_models_that_accept_it(
    http: httpx.Client, model: str, sends_temperature: bool
) -> None:
    with FakeLLM(script=["ok"]) as llm:
        make_client(http, llm, [], model=model, max_tokens=500).complete(MESSAGES)
    body = llm.requests[0].json
    assert ("temperature" in body) is sends_temperature
    assert body.get("max_completion_tokens" if not sends_temperature else "max_tokens") == 500


@pytest.mark.parametrize(
    ("failures", "expected_sleeps"),
    [
        ([Reply(500, "oops")], [1.0]),
        ([Reply(502), Reply(503), Reply(504)], [1.0, 2.0, 4.0]),
        ([Reply(429, {"error": {"message": "Rate limit"}}, {"retry-after": "7"})], [7.0]),
        ([Reply(503, headers={"retry-after": "0"})], [0.0]),
        ([Reply(drop=True)], [1.0]),
        ([Reply(200, "<html>proxy error</html>")], [1.0]),
    ],
    ids=["500", "three-5xx-backoff", "429-retry-after", "retry-after-zero", "dropped", "not-json"],
)
def test_retries_transient_failures(
    http: httpx.Client, failures: list[Reply], expected_sleeps: list[float]
) -> None:
    sleeps: list[float] = []
    with FakeLLM(script=[*failures, "finally"]) as llm:
        result = make_client(http, llm, sleeps).complete(MESSAGES)
    assert result.text == "finally"
    assert sleeps == expected_sleeps
    assert len(llm.requests) == len(failures) + 1


def test_timeout_is_retried(http: httpx.Client) -> None:
    sleeps: list[float] = []
    with FakeLLM(script=[Reply(200, completion_body("late"), delay=2.0), "quick"]) as llm:
        result = make_client(http, llm, sleeps, timeout=0.3).complete(MESSAGES)
    assert result.text == "quick" and sleeps == [1.0]


def test_gives_up_after_max_attempts_without_fallback(http: httpx.Client) -> None:
    sleeps: list[float] = []
    gave_up = r"gave up on gpt-4\.1-mini after 3 attempts"
    with FakeLLM(default=Reply(500, "down")) as llm, pytest.raises(LLMError, match=gave_up) as info:
        make_client(http, llm, sleeps, max_attempts=3).complete(MESSAGES)
    assert type(info.value) is LLMError
    assert len(llm.requests) == 3 and sleeps == [1.0, 2.0]


def test_budget_429_raises_immediately(http: httpx.Client) -> None:
    sleeps: list[float] = []
    with FakeLLM(script=[budget_reply()]) as llm:
        client = make_client(http, llm, sleeps, fallback_model="gpt-4.1-nano")
        with pytest.raises(BudgetExhausted, match=r"Usage \$1.02 / \$1.00 in 7 days"):
            client.complete(MESSAGES)
    assert len(llm.requests) == 1 and sleeps == []


def test_error_message_is_the_servers_and_never_has_the_key(http: httpx.Client) -> None:
    body = {"error": {"message": f"Bad request for key {KEY}: messages too long"}}
    with FakeLLM(script=[Reply(400, body)]) as llm:
        client = make_client(http, llm, [], fallback_model="gpt-4.1-nano")
        with pytest.raises(LLMError) as info:
            client.complete(MESSAGES)
    message = str(info.value)
    assert "HTTP 400" in message and "messages too long" in message
    assert KEY not in message
    assert len(llm.requests) == 1  # a bad request is not the model's fault: no fallback


@pytest.mark.parametrize(
    "failure",
    [
        Reply(400, {"message": "Model gpt-9 pricing unknown"}),
        Reply(404, {"error": {"message": "The model `gpt-9` does not exist"}}),
    ],
    ids=["aipipe-pricing-unknown", "openai-404"],
)
def test_unknown_model_goes_straight_to_fallback(http: httpx.Client, failure: Reply) -> None:
    with FakeLLM(script=[failure, "from fallback"]) as llm:
        client = make_client(http, llm, [], model="gpt-9", fallback_model="gpt-4.1-nano")
        result = client.complete(MESSAGES)
    assert result.text == "from fallback" and result.model == "gpt-4.1-nano"
    assert [r.json["model"] for r in llm.requests] == ["gpt-9", "gpt-4.1-nano"]
    assert client.usage.models == ["gpt-4.1-nano"]


def test_unknown_model_without_fallback_reports_the_message(http: httpx.Client) -> None:
    failure = Reply(400, {"message": "Model gpt-9 pricing unknown"})
    with FakeLLM(script=[failure]) as llm, pytest.raises(LLMError, match="gpt-9 pricing unknown"):
        make_client(http, llm, [], model="gpt-9").complete(MESSAGES)


def test_fallback_after_primary_attempts_exhausted(http: httpx.Client) -> None:
    sleeps: list[float] = []
    script: list[object] = [Reply(500)] * 2 + [Reply(503), "rescued"]
    with FakeLLM(script=script) as llm:  # type: ignore[arg-type]
        client = make_client(http, llm, sleeps, max_attempts=2, fallback_model="gpt-4o-mini")
        result = client.complete(MESSAGES)
    assert result.text == "rescued"
    assert [r.json["model"] for r in llm.requests] == ["gpt-4.1-mini"] * 2 + ["gpt-4o-mini"] * 2
    assert sleeps == [1.0, 1.0]  # the fallback gets the same retry policy


def test_fallback_failure_is_reported(http: httpx.Client) -> None:
    with FakeLLM(default=Reply(500, "down")) as llm:
        client = make_client(http, llm, [], max_attempts=1, fallback_model="gpt-4o-mini")
        with pytest.raises(LLMError, match="gave up on gpt-4o-mini"):
            client.complete(MESSAGES)
    assert len(llm.requests) == 2


@pytest.mark.parametrize(
    "body",
    [
        {"choices": [], "usage": {}},
        completion_body(""),
        completion_body(None),
        completion_body("   \n"),
    ],
    ids=["no-choices", "empty-string", "null-content", "whitespace"],
)
def test_empty_answer_is_an_error(http: httpx.Client, body: dict[str, object]) -> None:
    with FakeLLM(script=[Reply(200, body)]) as llm, pytest.raises(LLMError, match="empty answer"):
        make_client(http, llm, []).complete(MESSAGES)
    assert len(llm.requests) == 1


def test_length_finish_reason_is_surfaced(http: httpx.Client) -> None:
    body = completion_body('<file path="index.html">cut', finish_reason="length")
    with FakeLLM(script=[Reply(200, body)]) as llm:
        result = make_client(http, llm, []).complete(MESSAGES)
    assert result.truncated and result.finish_reason == "length"


def test_usage_and_cost_accumulate(http: httpx.Client) -> None:
    script = [
        Reply(
            200,
            completion_body(
                "a", "gpt-4.1-mini", prompt_tokens=1_000_000, completion_tokens=500_000
            ),
        ),
        Reply(
            200,
            completion_body("b", "gpt-5-nano", prompt_tokens=10, completion_tokens=5, cost=0.25),
        ),
        Reply(200, completion_body("c", "mystery-model", prompt_tokens=10, completion_tokens=5)),
    ]
    with FakeLLM(script=script) as llm:  # type: ignore[arg-type]
        client = make_client(http, llm, [], model="mystery-model")
        first = client.complete(MESSAGES)
        second = client.complete(MESSAGES)
        third = client.complete(MESSAGES)
    assert first.cost_usd == pytest.approx(0.40 + 0.80)
    assert second.cost_usd == 0.25  # the gateway's own figure wins
    assert third.cost_usd == 0.0 and not third.cost_known
    usage = client.usage
    assert usage.calls == 3
    assert usage.prompt_tokens == 1_000_020 and usage.completion_tokens == 500_010
    assert usage.cost_usd == pytest.approx(1.45)
    assert usage.models == ["gpt-4.1-mini", "gpt-5-nano", "mystery-model"]
    assert usage.unpriced_models == ["mystery-model"]


def test_fake_server_reports_token_usage(http: httpx.Client) -> None:
    with FakeLLM() as llm:
        result = make_client(http, llm, []).complete(MESSAGES)
    assert isinstance(result, Completion)
    assert result.prompt_tokens > 0 and result.completion_tokens > 0 and result.cost_usd > 0
    assert '<file path="index.html">' in result.text


@pytest.mark.parametrize(
    ("model", "price"),
    [
        ("gpt-5-nano", (0.05, 0.40)),
        ("openai/gpt-5-nano", (0.05, 0.40)),
        ("gpt-5-mini-2025-08-07", (0.25, 2.00)),
        ("gpt-4.1-nano", (0.10, 0.40)),
        ("gpt-4.1-mini", (0.40, 1.60)),
        ("gpt-4o-mini", (0.15, 0.60)),
        ("gpt-4.1", None),
        ("claude-3", None),
    ],
    ids=lambda v: str(v),
)
def test_price_table(model: str, price: tuple[float, float] | None) -> None:
    assert price_for(model) == price
    expected = None if price is None else (price[0] * 2 + price[1]) / 1_000_000
    assert estimate_cost(model, 2, 1) == expected


def test_rejects_temperature_is_prefix_aware() -> None:
    assert rejects_temperature("openrouter/openai/gpt-5")
    assert not rejects_temperature("gpt-4o")


@pytest.mark.parametrize(
    ("name", "title", "ids"),
    [
        ("sum-of-sales-601-r1", "Sales Summary 601", ["total-sales"]),
        ("github-user-created-9b2c4-r1", "Generated app", ["github-created-at"]),
        ("sum-of-sales-601-r2a", "Old", ["product-sales", "total-sales"]),
    ],
    ids=["title-from-check", "no-title", "round2-keeps-title"],
)
def test_default_app_answer_follows_the_prompt(name: str, title: str, ids: list[str]) -> None:
    from tests.test_prompts import build

    _, messages = build(name)
    answer = default_app_answer({"messages": messages})
    assert f"<title>{title}</title>" in answer
    assert all(f'id="{i}"' in answer for i in ids)
    assert answer.count("<file path=") == 2 and answer.count("</file>") == 2
