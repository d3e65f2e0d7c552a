"""Evaluator faults: ``action.notify.notify`` against the scripted evaluator, clock injected.

Real HTTP on 127.0.0.1; only the waits between attempts are simulated (they advance the clock).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
import pytest

from action.errors import NotifyError
from action.notify import DEADLINE_SECONDS, notification_body, notify
from tests.fakes.evaluator import Answer, FakeEvaluator, ScriptItem
from tests.support import FakeTime, free_port

if TYPE_CHECKING:
    from tests.reliability import Recorder

pytest_plugins = ["tests.reliability"]

START = 1_800_000_000.0
BODY = notification_body(
    email="e@example.com",
    task="t",
    round_=1,
    nonce="n1",
    repo_url="https://github.com/o/t",
    commit_sha="a" * 40,
    pages_url="https://o.github.io/t/",
)


@dataclass
class Case:
    id: str
    fault: str
    script: list[ScriptItem]
    accepted: bool
    attempts: int
    behaviour: str
    error: str = ""
    timeout: float = 30.0


CASES = [
    Case(
        "down-then-up",
        "evaluator down (connection dropped ×3), then up",
        ["drop", "drop", "drop"],
        True,
        4,
        "retried after 1, 2, 4 s; accepted on the 4th",
    ),
    Case(
        "500-then-200", "evaluator 500 then 200", [500, 200], True, 2, "retried after 1 s; accepted"
    ),
    Case(
        "429-then-200",
        "evaluator 429 then 200",
        [429, 200],
        True,
        2,
        "429 is not final: retried; accepted",
    ),
    Case(
        "400-then-200",
        "evaluator 400 then 200",
        [400, 200],
        True,
        2,
        "a 400 is not final (the evaluator's spec): retried after 1 s; accepted",
    ),
    Case(
        "400-always",
        "evaluator answers 400 until the deadline",
        [400] * 30,
        False,
        15,
        "retried 1, 2, 4 … 32 s, then every 60 s; stopped before the deadline with a final "
        "error quoting the last answer",
        error="last answer HTTP 400: scripted 400",
    ),
    Case(
        "slow",
        "evaluator slow to answer (3 s, client timeout 1 s)",
        [Answer(200, {"status": "ok"}, delay=3.0), 200],
        True,
        2,
        "first attempt timed out and was retried; accepted",
        timeout=1.0,
    ),
    Case(
        "down-past-deadline",
        "evaluator down past the 10-minute deadline",
        [500] * 30,
        False,
        15,
        "retried 1, 2, 4 … 32 s, then every 60 s; stopped before the deadline with a final error",
        error="before the deadline",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_evaluator_fault_ends_notified_once_or_with_a_final_error(
    case: Case, reliability: Recorder
) -> None:
    t, logs = FakeTime(), list[str]()
    deadline = START + DEADLINE_SECONDS
    with FakeEvaluator(list(case.script)) as ev, httpx.Client() as http:
        try:
            result = notify(
                http,
                ev.url,
                BODY,
                deadline=deadline,
                clock=t.clock,
                sleep=t.sleep,
                timeout=case.timeout,
                log=logs.append,
            )
            error = ""
            attempts = result.attempts
        except NotifyError as exc:
            error, attempts = str(exc), len(ev.bodies)
        received = len(ev.bodies)
    accepted = 1 if not error else 0
    reliability.record(
        "Evaluator",
        case.fault,
        case.behaviour,
        sent=1,
        notified=accepted,
        lost=0,
        duplicated=max(0, accepted - 1),
        final=(f"error: {error}" if error else f"HTTP 2xx after {attempts} attempts")
        + f"; evaluator received {received} POST(s)",
    )
    assert bool(accepted) == case.accepted, error
    assert attempts == case.attempts
    assert case.error in error
    assert ev.url not in error
    assert all(b == BODY for b in ev.bodies)
    assert t.now <= deadline  # no attempt started after the deadline
    assert t.sleeps == [min(2.0**i, 60.0) for i in range(len(t.sleeps))]
    assert len(logs) == received  # one line per attempt that reached the evaluator


def test_evaluator_refusing_connections_until_the_deadline(reliability: Recorder) -> None:
    """Nothing listens at all: every attempt fails fast, and the last error is final."""
    t = FakeTime()
    url = f"http://127.0.0.1:{free_port()}/notify"
    with httpx.Client() as http, pytest.raises(NotifyError) as info:
        notify(
            http,
            url,
            BODY,
            deadline=START + DEADLINE_SECONDS,
            clock=t.clock,
            sleep=t.sleep,
            log=lambda line: None,
        )
    assert "ConnectError" in str(info.value) and url not in str(info.value)
    assert info.value.status == 0  # no HTTP answer at all
    assert len(t.sleeps) == 14 and sum(t.sleeps) == 543.0
    reliability.record(
        "Evaluator",
        "evaluator down (connection refused) past the deadline",
        "15 attempts over 543 s, then a final error that hides the URL",
        sent=1,
        final=f"error: {info.value}",
    )
