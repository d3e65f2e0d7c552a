"""The HTTP surface: answers before any forge call, JSON errors that leave nothing behind."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from receiver.app import create_app
from receiver.config import Settings
from receiver.journal import Journal
from receiver.worker import Worker
from tests.conftest import load_task
from tests.fakes.memory_forge import MemoryForge
from tests.support import ServerThread, free_socket

SECRET = "app-test-secret"
AUTH = {"authorization": f"Bearer {SECRET}"}


def settings_for(tmp_path: Path, **changes: Any) -> Settings:
    base = Settings.from_environ(
        {
            "DEPLOY_SECRET": SECRET,
            "GITHUB_TOKEN": "ghp_test",
            "LLM_DEPLOY_DATA": str(tmp_path / "data"),
            "LLM_DEPLOY_ACTION_REF": "octo/llm-deploy-action@" + "d4" * 20,
        }
    )
    return dataclasses.replace(base, **changes)


def body(name: str = "sum-of-sales-601-r1", **changes: Any) -> dict[str, Any]:
    data = load_task(name)
    data.update({"secret": SECRET, "evaluation_url": "https://eval.example/notify", **changes})
    return data


class Harness:
    """The app with an in-memory forge, served by uvicorn on an ephemeral loopback port."""

    def __init__(self, tmp_path: Path, *, inject: bool = True, **changes: Any) -> None:
        sock = free_socket()
        self.port = int(sock.getsockname()[1])
        changes.setdefault("public_url", f"http://127.0.0.1:{self.port}")
        self.settings = settings_for(tmp_path, port=self.port, **changes)
        self.forge = MemoryForge()
        self.journal = Journal(tmp_path / "journal.sqlite3")
        self.worker = Worker(self.settings, self.journal, self.forge)
        if inject:
            self.app = create_app(
                self.settings, forge=self.forge, journal=self.journal, worker=self.worker
            )
        else:
            self.app = create_app(self.settings)
        self.served = ServerThread(self.app, sock)

    def __enter__(self) -> httpx.Client:
        self.served.start()
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=10)
        return self.client

    def __exit__(self, *exc: object) -> None:
        self.client.close()
        self.served.stop()


@pytest.fixture
def make_harness(tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def make(**changes: Any) -> Harness:
        made.append(Harness(tmp_path / str(len(made)), **changes))
        return made[-1]

    yield make
    for h in made:
        h.journal.close()


@pytest.fixture
def harness(make_harness: Callable[..., Harness]) -> Harness:
    return make_harness()


def count_rows(journal: Journal, task: str) -> int:
    status = journal.status(task)
    return 0 if status is None else len(status["rounds"])


def test_accepts_then_dispatches(harness: Harness) -> None:
    with harness as client:
        answer = client.post("/api-deploy", json=body())
        assert answer.status_code == 200
        data = answer.json()
        assert data["status"] == "accepted" and "duplicate" not in data
        assert (data["task"], data["round"]) == ("sum-of-sales-601", 1)
        assert data["status_url"].endswith("/api-deploy/sum-of-sales-601")
        assert harness.worker.drain(10)
        assert harness.forge.count("dispatch") == 1
        status = client.get("/api-deploy/sum-of-sales-601", headers=AUTH)
        assert status.status_code == 200
        (round_,) = status.json()["rounds"]
        assert round_["state"] == "dispatched" and round_["run_url"]
        assert status.json()["repo"] == "octo/sum-of-sales-601"
        text = status.text
        for hidden in (SECRET, "student@example.com", "eval.example", "Bootstrap"):
            assert hidden not in text
        assert client.get("/health").json()["status"] == "ok"


def test_duplicate_delivery_does_no_new_work(harness: Harness) -> None:
    with harness as client:
        first = client.post("/api-deploy", json=body())
        assert harness.worker.drain(10)
        again = client.post("/api-deploy", json=body())
        assert harness.worker.drain(10)
    assert first.status_code == again.status_code == 200
    assert again.json()["duplicate"] is True and again.json()["nonce"] == first.json()["nonce"]
    assert harness.forge.count("dispatch") == 1 and harness.forge.count("create_repo") == 1
    assert count_rows(harness.journal, "sum-of-sales-601") == 1


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        (b"{not json", 400, None),
        (b"\xff\xfe", 400, None),
        (b"[1, 2]", 400, None),
        (json.dumps(body(round=0)).encode(), 400, "round"),
        (json.dumps(body(round="2")).encode(), 400, "round"),
        (json.dumps(body(evaluation_url="file:///etc/passwd")).encode(), 400, "evaluation_url"),
        (json.dumps(body(attachments=[{"name": "x"}])).encode(), 400, "attachments[0].url"),
        (json.dumps(body(checks=[{"py": 1}])).encode(), 400, "checks[0]"),
        (json.dumps(body(secret="wrong")).encode(), 403, "secret"),
        (json.dumps(body(secret="wröng-ünicode")).encode(), 403, "secret"),
        (json.dumps(body(secret=7)).encode(), 400, "secret"),
    ],
    ids=[
        "bad-json",
        "bad-utf8",
        "not-object",
        "round-zero",
        "round-string",
        "file-url",
        "attachment-no-url",
        "bad-check",
        "wrong-secret",
        "unicode-secret",
        "int-secret",
    ],
)
def test_every_4xx_is_json_and_leaves_nothing(
    harness: Harness, payload: bytes, status: int, field: str | None
) -> None:
    with harness as client:
        answer = client.post(
            "/api-deploy", content=payload, headers={"content-type": "application/json"}
        )
        assert harness.worker.drain(5)
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["field"] == field and answer.json()["error"].endswith(".")
    assert count_rows(harness.journal, "sum-of-sales-601") == 0
    assert harness.journal.pending() == [] and harness.forge.calls == []


def test_the_secret_is_checked_before_the_fields(harness: Harness) -> None:
    # Authentication before work: a wrong secret is a 403 however broken the rest is.
    with harness as client:
        answer = client.post("/api-deploy", json=body(secret="wrong", round=-1))
        right = client.post("/api-deploy", json=body(round=-1))
    assert (answer.status_code, answer.json()["field"]) == (403, "secret")
    assert (right.status_code, right.json()["field"]) == (400, "round")


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_over_limit_body_is_413(make_harness: Callable[..., Harness], chunked: bool) -> None:
    h = make_harness(max_body_bytes=1024 * 1024)
    big = json.dumps(body(brief="x" * (1024 * 1024 + 10))).encode()
    content: Any = iter([big[i : i + 65536] for i in range(0, len(big), 65536)]) if chunked else big
    with h as client:
        answer = client.post(
            "/api-deploy", content=content, headers={"content-type": "application/json"}
        )
        assert (answer.status_code, answer.json()["field"]) == (413, None)
        assert "1 MB" in answer.json()["error"]
        small = client.post("/api-deploy", json=body())
        assert small.status_code == 200
    assert count_rows(h.journal, "sum-of-sales-601") == 1


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/api-deploy/never-seen", 404), ("GET", "/nope", 404), ("PUT", "/api-deploy", 405)],
    ids=["unknown-task", "unknown-path", "wrong-method"],
)
def test_other_errors_are_json(harness: Harness, method: str, path: str, status: int) -> None:
    with harness as client:
        answer = client.request(method, path)
    assert answer.status_code == status and "error" in answer.json()


def test_round_two_reuses_and_repeated_round_one_gets_a_suffix(harness: Harness) -> None:
    with harness as client:
        for name, nonce in [
            ("sum-of-sales-601-r1", None),
            ("sum-of-sales-601-r1", "again"),
            ("sum-of-sales-601-r2a", None),
        ]:
            data = body(name) if nonce is None else body(name, nonce=nonce)
            assert client.post("/api-deploy", json=data).status_code == 200
        assert harness.worker.drain(10)
        rounds = client.get("/api-deploy/sum-of-sales-601", headers=AUTH).json()["rounds"]
    assert [r["repo"] for r in rounds] == [
        "octo/sum-of-sales-601",
        "octo/sum-of-sales-601-2",
        "octo/sum-of-sales-601-2",
    ]
    assert harness.forge.count("dispatch") == 3


def test_twenty_concurrent_clients_dispatch_once_each(harness: Harness) -> None:
    h = harness
    h.forge.dispatch_delay = 0.01
    bodies = [body(task=f"task-{i}", nonce=f"n{i}") for i in range(20)]
    with h as client, ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda b: client.post("/api-deploy", json=b), bodies * 2))
        assert all(a.status_code == 200 for a in answers)
        assert sum(1 for a in answers if a.json().get("duplicate")) == 20
        assert h.worker.drain(20)
        status = client.get("/api-deploy/task-7", headers=AUTH).json()
    assert status["rounds"][0]["state"] == "dispatched"
    dispatched = h.forge.all_dispatches()
    assert len(dispatched) == 20 and len({d["dispatch-id"] for _, d in dispatched}) == 20
    assert sorted(name for name, _ in dispatched) == sorted(f"task-{i}" for i in range(20))


def test_local_mode_builds_its_own_forge_and_serves_pages(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(inject=False, github_token=None)
    with h as client:
        assert client.get("/health").json() == {"status": "ok", "mode": "local"}
        moved = client.get("/pages/nothing-here/?x=1")
        # Sites live on an origin of their own (docs/security.md); the receiver only points there.
        site = moved.headers["location"]
        assert moved.status_code == 307 and site.endswith("/pages/nothing-here/?x=1")
        assert not site.startswith(str(client.base_url))
        assert httpx.get(site, timeout=5).status_code == 404
        denied = client.post("/api-deploy", json=body(secret="wrong"))
        assert (denied.status_code, denied.json()["field"]) == (403, "secret")
    assert (h.settings.data_dir / "journal.sqlite3").exists()
    assert (h.settings.data_dir / "repos").is_dir() and not list(
        (h.settings.data_dir / "repos").iterdir()
    )


def test_cli_without_deploy_secret_exits_2_with_one_sentence(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from receiver.cli import main

    monkeypatch.delenv("DEPLOY_SECRET", raising=False)
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("llm-deploy: DEPLOY_SECRET is not set") and err.count("\n") == 1


def test_cli_requires_a_command(capsys: pytest.CaptureFixture[str]) -> None:
    from receiver.cli import main

    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2 and "serve" in capsys.readouterr().err
