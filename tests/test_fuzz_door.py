"""``POST /api-deploy`` fuzzed from its own ``/openapi.json`` (schemathesis) and hostile shapes.

The receiver runs under uvicorn on 127.0.0.1 (no network needed). Schemathesis reads the served
description and generates bodies that follow it (positive) and bodies that break it (negative);
half of those that carry a string secret get the right one, so field validation is reached, not
only the 403. The hand-written strategy adds what a schema-driven fuzzer does not think of: deep
nesting on both sides of the parser's recursion limit, integers and floats out of every range,
huge arrays, odd Unicode (lone surrogates, NUL, BOM, right-to-left marks, overlong UTF-8).

Every answer must be below 500, JSON, and for errors the one ``{"error", "field"}`` shape; the
total of cases per run is recorded in docs/reliability.md. Hypothesis is derandomized, so each
run sends the same cases and a failure reproduces. Marked ``fuzz``; needs nothing from
``../shared``, so the self-test workflow runs it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from receiver.app import create_app
from receiver.config import Settings
from receiver.journal import Journal
from receiver.throttle import Throttle
from receiver.worker import Worker
from tests.fakes.memory_forge import MemoryForge
from tests.support import ServerThread, free_socket

if TYPE_CHECKING:
    from tests.reliability import Recorder

pytest_plugins = ["tests.reliability"]
pytestmark = [pytest.mark.fuzz, pytest.mark.timeout(1800)]  # minutes on a loaded 2-core box

SECRET = "fuzz-door-secret-0123456789"
# Negative cases cost schemathesis about 50 ms each to generate (positive ones 15 ms, hostile
# shapes next to nothing), so the 5,000 are weighted towards the cheap ones.
SCHEMA_CASES = {GenerationMode.POSITIVE: 1200, GenerationMode.NEGATIVE: 400}
HOSTILE_CASES = 3400
LIMIT = 1024 * 1024
_COUNT = {"schemathesis": 0, "hostile": 0}


class Served:
    """The receiver with a memory forge; its OpenAPI ``servers`` URL is where it listens."""

    def __init__(self, tmp_path: Path) -> None:
        sock = free_socket()
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.settings = Settings(
            deploy_secret=SECRET,
            data_dir=tmp_path,
            max_body_bytes=LIMIT,
            action_ref="octo/llm-deploy-action@" + "d4" * 20,
            public_url=self.url,
            github_token="ghp_f",
        )
        self.journal = Journal(tmp_path / "journal.sqlite3")
        self.forge = MemoryForge()
        worker = Worker(self.settings, self.journal, self.forge, threads=1)
        # Thousands of wrong secrets from one address on purpose: a bucket they never empty.
        app = create_app(
            self.settings,
            forge=self.forge,
            journal=self.journal,
            worker=worker,
            throttle=Throttle(burst=10**9),
        )
        self.server = ServerThread(app, sock)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    s = Served(tmp_path_factory.mktemp("fuzz"))
    s.server.start()
    yield s
    s.server.stop()
    s.journal.close()


def assert_clean(status: int, content_type: str, text: str) -> None:
    """Below 500, JSON, the error shape for errors, the secret never echoed."""
    assert status < 500, text[:300]
    assert content_type == "application/json", (status, content_type, text[:300])
    data = json.loads(text)
    assert isinstance(data, dict)
    if status != 200:
        assert set(data) == {"error", "field"} and isinstance(data["error"], str), data
        assert status in (400, 403, 408, 413, 429), status
    assert SECRET not in text


def fuzz_settings(cases: int) -> settings:
    """Same cases every run (derandomized), no example database, no deadline on a busy machine."""
    return settings(
        max_examples=cases,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )


def test_schemathesis_from_the_served_openapi(served: Served) -> None:
    schema = schemathesis.openapi.from_url(f"{served.url}/openapi.json")
    operation = schema["/api-deploy"]["POST"]
    session = requests.Session()

    for mode, cases in SCHEMA_CASES.items():

        @fuzz_settings(cases)
        @given(case=operation.as_strategy(generation_mode=mode))
        def one(case: schemathesis.Case) -> None:
            _COUNT["schemathesis"] += 1
            body = case.body
            if (
                isinstance(body, dict)
                and isinstance(body.get("secret"), str)
                and (len(body["secret"]) % 2 == 0)
            ):
                body["secret"] = SECRET
            response = case.call(session=session)
            content_type = response.headers.get("content-type") or [""]  # a list per header
            try:
                assert_clean(response.status_code, content_type[0], response.text)
            except AssertionError as exc:
                raise AssertionError(f"{exc}; request body {case.body!r:.1000}") from None

        one()
    session.close()


# ----- hand-written hostile shapes -------------------------------------------------------------


def _nested(depth: int, kind: str) -> bytes:
    if kind == "array":
        return b"[" * depth + b"]" * depth
    if kind == "object":
        return b'{"a":' * depth + b"1" + b"}" * depth
    return b'{"secret":"' + SECRET.encode() + b'","checks":' + b"[" * depth + b"]" * depth + b"}"


def _good(**changes: Any) -> dict[str, Any]:
    body = {
        "email": "e@example.com",
        "secret": SECRET,
        "task": "fuzz-hostile",
        "round": 1,
        "nonce": "n",
        "brief": "Make a page.",
        "evaluation_url": "https://e.example/n",
    }
    body.update(changes)
    return body


def _with_raw(field: str, raw: str, secret: str) -> bytes:
    """A good body whose ``field`` value is the raw JSON text ``raw`` (numbers, escapes)."""
    text = json.dumps({**_good(secret=secret), field: "@@RAW@@"})
    return text.replace('"@@RAW@@"', raw).encode("utf-8", "surrogatepass")


NUMBERS = st.sampled_from(
    [
        "9223372036854775808",
        "-9223372036854775809",
        "18446744073709551616",
        "2147483648",
        "1e400",
        "-1e400",
        "1e-400",
        "-0",
        "0.0",
        "1.0",
        "1E2",
        "NaN",
        "Infinity",
        "-Infinity",
        "9" * 4300,
        "9" * 4301,
        "1" + "0" * 100,
        "1." + "0" * 10000,
        "0x10",
        "01",
        "+1",
    ]
) | st.integers(min_value=-(2**200), max_value=2**200).map(str)
ODD = st.sampled_from(
    [
        "\\ud800",
        "\\udfff",
        "\\ud83d\\ude00",
        "\\u0000",
        "\\ufeff",
        "\\u202e",
        "\\u200b",
        "\\uffff",
        "\\ud800\\ud800",
        "a\\u0000b",
        "\\\\ud800",
    ]
) | st.text(alphabet=st.characters(codec="utf-8"), max_size=30).map(lambda t: json.dumps(t)[1:-1])
FIELD = st.sampled_from(
    [
        "secret",
        "task",
        "round",
        "nonce",
        "brief",
        "email",
        "evaluation_url",
        "checks",
        "attachments",
        "extra",
    ]
)
SECRET_CHOICE = st.sampled_from([SECRET, "wrong"])
RAW_BYTES = st.sampled_from(
    [
        b"\xef\xbb\xbf" + json.dumps(_good()).encode(),  # a UTF-8 BOM in front
        json.dumps(_good()).encode("utf-16"),
        b"\xc0\xaf",
        b"\xed\xa0\x80",
        b"\xf4\x90\x80\x80",
        b"",
        b" ",
        b"null",
        b"[]",
        b'"str"',
        b"1e999",
        b"{}" * 1000,
        b'{"a":1}{"b":2}',
        b'{"secret":"' + SECRET.encode() + b'","secret":"wrong"}',
        b'{"secret": "' + SECRET.encode() + b'", "round": 1, "round": 2}',
    ]
) | st.binary(max_size=200)

HOSTILE = st.one_of(
    st.tuples(st.integers(1, 5000), st.sampled_from(["array", "object", "checks"])).map(
        lambda t: _nested(*t)
    ),
    st.tuples(NUMBERS, st.sampled_from(["round", "secret", "checks", "extra"]), SECRET_CHOICE).map(
        lambda t: _with_raw(t[1], t[0], t[2])
    ),
    st.tuples(ODD, FIELD, SECRET_CHOICE).map(lambda t: _with_raw(t[1], f'"{t[0]}"', t[2])),
    st.tuples(
        st.integers(0, 3000),
        st.sampled_from(["checks", "attachments", "extra"]),
        st.sampled_from(
            ['"x"', "[]", "{}", "null", "1", '{"js":"1"}', '{"name":"a","url":"data:,x"}']
        ),
    ).map(lambda t: _with_raw(t[1], "[" + ",".join([t[2]] * t[0]) + "]", SECRET)),
    RAW_BYTES,
)


def test_hostile_shapes(served: Served) -> None:
    with httpx.Client(base_url=served.url, timeout=60) as client:

        @fuzz_settings(HOSTILE_CASES)
        @given(payload=HOSTILE)
        def one(payload: bytes) -> None:
            _COUNT["hostile"] += 1
            answer = client.post(
                "/api-deploy", content=payload, headers={"content-type": "application/json"}
            )
            assert_clean(answer.status_code, answer.headers.get("content-type", ""), answer.text)

        one()


def test_fuzzing_sent_enough_and_left_the_receiver_healthy(
    served: Served, reliability: Recorder
) -> None:
    total = _COUNT["schemathesis"] + _COUNT["hostile"]
    with httpx.Client(base_url=served.url, timeout=60) as client:
        assert client.get("/health").json()["status"] == "ok"
        after = client.post("/api-deploy", json=_good(task="after-fuzz", nonce="after"))
    assert after.status_code == 200, after.text
    assert total >= 5000, _COUNT
    reliability.record(
        "Hostile input",
        f"/api-deploy fuzzed: schemathesis from the served /openapi.json ({_COUNT['schemathesis']} "
        f"positive and negative cases) + hand-written hostile shapes ({_COUNT['hostile']}: "
        "nesting up to 5,000 deep, 4,301-digit and 2**63 integers, 1e400, arrays of 3,000, "
        "lone surrogates, NUL, BOM, UTF-16, overlong UTF-8, duplicate keys)",
        "every answer below 500 and JSON in the one error shape; still healthy after",
        sent=total,
    )
