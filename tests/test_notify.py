"""Notify: retries with 1, 2, 4, 8 s against a real HTTP server on 127.0.0.1; the page wait."""

from __future__ import annotations

import httpx
import pytest

from action.errors import NotifyError
from action.notify import notification_body, notify, wait_for_page
from tests.fakes.evaluator import Answer, FakeEvaluator, ScriptItem
from tests.support import FakeTime, free_port

BODY = notification_body(
    email="s@example.com",
    task="T",
    round_=1,
    nonce="n1",
    repo_url="https://github.com/o/r",
    commit_sha="abc",
    pages_url="https://o.github.io/r/",
)


@pytest.mark.parametrize(
    ("script", "attempts", "delays"),
    [
        ([200], 1, []),
        ([500, 500, 200], 3, [1.0, 2.0]),
        ([500, 502, 503, 500, 200], 5, [1.0, 2.0, 4.0, 8.0]),
        (["drop", "drop", 200], 3, [1.0, 2.0]),
        ([429, 200], 2, [1.0]),
        ([Answer(500), "drop", 429, 200], 4, [1.0, 2.0, 4.0]),
    ],
    ids=["first-try", "500s", "backoff-1-2-4-8", "dropped-connections", "429", "mixed"],
)
def test_retries_follow_the_schedule_and_stop_at_200(
    script: list[ScriptItem], attempts: int, delays: list[float]
) -> None:
    t = FakeTime(now=1000.0)
    with FakeEvaluator(script) as ev, httpx.Client() as http:
        result = notify(http, ev.url, BODY, deadline=t.now + 600, clock=t.clock, sleep=t.sleep)
        assert (result.status, result.attempts, result.delays) == (200, attempts, delays)
        assert t.sleeps == delays
        assert len(ev.bodies) == attempts
        assert ev.bodies[-1] == BODY


def test_connection_refused_is_retried_until_the_deadline() -> None:
    port = free_port()  # nobody listens on it
    t = FakeTime(now=1000.0)
    with httpx.Client() as http, pytest.raises(NotifyError) as caught:
        notify(
            http,
            f"http://127.0.0.1:{port}/n",
            BODY,
            deadline=t.now + 20,
            clock=t.clock,
            sleep=t.sleep,
        )
    assert t.sleeps == [1.0, 2.0, 4.0, 8.0]  # the next 16 s wait would pass the deadline
    assert t.now <= 1000.0 + 20
    assert "5 attempts" in str(caught.value)
    assert str(port) not in str(caught.value)  # the URL never appears


def test_a_400_is_retried_and_a_later_200_accepted() -> None:
    t, logs = FakeTime(), list[str]()
    with FakeEvaluator([Answer(400, {"reason": "nonce does not match"}), 200]) as ev:
        with httpx.Client() as http:
            result = notify(
                http,
                ev.url,
                BODY,
                deadline=t.now + 600,
                clock=t.clock,
                sleep=t.sleep,
                log=logs.append,
            )
        assert len(ev.bodies) == 2 and ev.bodies == [BODY, BODY]
    assert (result.status, result.attempts, t.sleeps) == (200, 2, [1.0])
    assert logs == [
        "Notification attempt 1: HTTP 400: nonce does not match; retrying in 1 s.",
        "Notification attempt 2: HTTP 200, accepted.",
    ]


@pytest.mark.parametrize(
    ("status", "reason"),
    [(400, "nonce does not match"), (404, "no such task"), (201, "created")],
    ids=["400", "404", "201-is-not-200"],
)
def test_any_answer_but_200_is_retried_until_the_deadline(status: int, reason: str) -> None:
    t, logs = FakeTime(), list[str]()
    answer = Answer(status, {"reason": f"{reason} for s@example.com"})
    with FakeEvaluator([answer] * 30) as ev, httpx.Client() as http:
        with pytest.raises(NotifyError) as caught:
            notify(
                http,
                ev.url,
                BODY,
                deadline=t.now + 600,
                clock=t.clock,
                sleep=t.sleep,
                log=logs.append,
            )
        posts = len(ev.bodies)
    # 1 + 2 + … + 32 = 63 s, then 60 s waits: eight fit before 600 s, a ninth would not.
    assert t.sleeps == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0] + [60.0] * 8
    assert posts == 15 and len(logs) == 15
    assert caught.value.status == status
    assert f"15 attempts; last answer HTTP {status}: {reason} for <email>" in str(caught.value)
    assert all(f"HTTP {status}: {reason}" in line for line in logs)
    for text in [str(caught.value), *logs]:
        assert "127.0.0.1" not in text and "s@example.com" not in text


def test_a_long_answer_is_cut_in_the_log() -> None:
    t, logs = FakeTime(), list[str]()
    with FakeEvaluator([Answer(500, {"reason": "x" * 5000})]) as ev, httpx.Client() as http:
        notify(
            http, ev.url, BODY, deadline=t.now + 600, clock=t.clock, sleep=t.sleep, log=logs.append
        )
    assert logs[0] == f"Notification attempt 1: HTTP 500: {'x' * 200}; retrying in 1 s."


def test_deadline_honoured_with_persistent_500() -> None:
    t = FakeTime(now=1000.0)
    with FakeEvaluator([500] * 20) as ev, httpx.Client() as http:
        with pytest.raises(NotifyError, match="deadline"):
            notify(http, ev.url, BODY, deadline=t.now + 60, clock=t.clock, sleep=t.sleep)
        assert len(ev.bodies) == 6  # sleeps 1+2+4+8+16 = 31 s; a 32 s wait would pass 60 s
    assert t.sleeps == [1.0, 2.0, 4.0, 8.0, 16.0]


def test_past_deadline_still_makes_one_attempt() -> None:
    t = FakeTime(now=1000.0)
    with FakeEvaluator([200]) as ev, httpx.Client() as http:
        result = notify(http, ev.url, BODY, deadline=t.now - 5, clock=t.clock, sleep=t.sleep)
        assert result.attempts == 1 and len(ev.bodies) == 1


def test_slow_evaluator_times_out_and_is_retried() -> None:
    t = FakeTime(now=1000.0)
    with FakeEvaluator([Answer(200, delay=5.0), 200]) as ev, httpx.Client() as http:
        result = notify(
            http, ev.url, BODY, deadline=t.now + 600, clock=t.clock, sleep=t.sleep, timeout=0.3
        )
        assert (result.status, result.attempts, result.delays) == (200, 2, [1.0])


def test_wait_for_page_until_the_commit_is_served() -> None:
    t = FakeTime(now=1000.0)
    committed = b"<html>round 2</html>"
    with FakeEvaluator(pages={"/r/": b"<html>round 1</html>"}) as ev, httpx.Client() as http:

        def sleep(seconds: float) -> None:
            t.sleep(seconds)
            if len(t.sleeps) == 3:  # the deploy finishes after three polls
                ev.pages["/r/"] = committed

        assert wait_for_page(http, ev.base + "/r", committed, t.now + 120, sleep, clock=t.clock)
        assert len(ev.gets) == 4 and t.sleeps == [5.0, 5.0, 5.0]


def test_wait_for_page_gives_up_at_the_deadline() -> None:
    t = FakeTime(now=1000.0)
    with FakeEvaluator() as ev, httpx.Client() as http:  # every GET is a 404
        assert not wait_for_page(http, ev.base + "/r/", b"x", t.now + 12, t.sleep, clock=t.clock)
    assert sum(t.sleeps) == 12.0
