"""Every way of starting a run, in local mode: re-runs resume, rounds never overlap.

One receiver (the real ``create_app``, local mode, under uvicorn) with a fake model and a fake
evaluator. ``POST /runs/{id}/rerun`` is the Actions tab's "Re-run jobs": a new attempt of the
same run with the same inputs, its earlier attempts' artifacts kept. Each test uses its own task:

- a run whose deploy failed, re-run: the dispatch's commit is deployed and notified, no model call;
- a round-1 run re-run after round 2 landed: superseded, nothing changes;
- round 2 dispatched while round 1's run is at work: it waits, then revises round 1's app.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from receiver.app import create_app
from receiver.config import Settings
from tests.e2e_support import (
    app_files,
    check_notification,
    corpus_answer,
    free_socket,
    link_tool_cache,
    load_request,
    prebuild_action_venv,
    request_stem,
    serve,
    wait_for,
)
from tests.fakes.evaluator import FakeEvaluator
from tests.fakes.llm import FakeLLM

pytestmark = pytest.mark.e2e
SECRET = "rerun-secret"
RUN_TIMEOUT = 240.0


@dataclass
class Harness:
    base: str
    data: Path
    llm: FakeLLM
    ev: FakeEvaluator
    http: httpx.Client
    gates: dict[str, threading.Event]  # corpus stem → released when set (absent: answer now)
    asked: dict[str, threading.Event]  # corpus stem → set once the model was asked about it

    def post(self, stem: str) -> dict[str, Any]:
        request = load_request(stem)
        answer = self.http.post(
            f"{self.base}/api-deploy",
            json={**request, "secret": SECRET, "evaluation_url": self.ev.url},
        )
        assert answer.status_code == 200, answer.text
        return request

    def round_entry(self, request: dict[str, Any]) -> dict[str, Any] | None:
        status = self.http.get(
            f"{self.base}/api-deploy/{request['task']}",
            headers={"Authorization": f"Bearer {SECRET}"},
        ).json()
        return next((r for r in status.get("rounds", []) if r["nonce"] == request["nonce"]), None)

    def run_id(self, request: dict[str, Any]) -> int:
        def found() -> int | None:
            entry = self.round_entry(request)
            run = (entry or {}).get("run") or {}
            return int(run["id"]) if run.get("id") else None

        return wait_for(found, 60, f"the run of {request['nonce']}")

    def record(self, run_id: int) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.data / "runs" / f"{run_id}.json").read_text())
        return data

    def finished(self, run_id: int, attempt: int = 1) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            try:
                rec = self.record(run_id)
            except (OSError, ValueError):
                return None
            ended = rec.get("state") not in ("queued", "running")
            return rec if ended and int(rec.get("attempt", 1)) == attempt else None

        return wait_for(done, RUN_TIMEOUT, f"run {run_id} attempt {attempt} to end", every=0.2)

    def notes_for(self, nonce: str) -> list[dict[str, Any]]:
        return [b for b in list(self.ev.bodies) if b.get("nonce") == nonce]

    def rerun(self, run_id: int) -> dict[str, Any]:
        url = f"{self.base}/runs/{run_id}/rerun"
        refused = self.http.post(url)  # it spends what a run spends: the secret's bearer only
        assert refused.status_code == 401 and refused.json()["field"] == "authorization"
        answer = self.http.post(url, headers={"Authorization": f"Bearer {SECRET}"})
        assert answer.status_code == 202, answer.text
        body: dict[str, Any] = answer.json()
        return self.finished(run_id, int(body["attempt"]))

    def head(self, repo: str) -> str:
        return subprocess.run(
            ["git", "-C", str(self.data / "repos" / f"{repo}.git"), "rev-parse", "refs/heads/main"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    def repo_of(self, request: dict[str, Any]) -> str:
        entry = wait_for(
            lambda: (e := self.round_entry(request)) and e.get("repo_url") and e,
            60,
            "the round's repo",
        )
        return str(entry["repo_url"]).rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")


def _prompt(body: dict[str, Any]) -> str:
    return "\n".join(str(m.get("content", "")) for m in body.get("messages", []))


def _report(record: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(record["outputs"]["report"])
    return data


def _steps(record: dict[str, Any]) -> dict[str, str]:
    return {s["name"]: s["state"] for s in record["steps"]}


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    prebuild_action_venv()
    data = tmp_path_factory.mktemp("reruns") / "data"
    link_tool_cache(data)
    gates: dict[str, threading.Event] = {}
    asked: dict[str, threading.Event] = {}

    def answer(request: dict[str, Any]) -> str:
        stem = request_stem(_prompt(request)) or ""
        asked.setdefault(stem, threading.Event()).set()
        gate = gates.get(stem)
        if gate is not None:
            assert gate.wait(RUN_TIMEOUT), f"the gate of {stem} was never opened"
        return corpus_answer(request)

    sock = free_socket()
    port = sock.getsockname()[1]
    with FakeLLM(default=answer) as llm, FakeEvaluator() as ev, httpx.Client(timeout=30) as http:
        settings = Settings.from_environ(
            {
                "DEPLOY_SECRET": SECRET,
                "LLM_API_KEY": llm.api_key,
                "LLM_BASE_URL": llm.base_url,
                "LLM_DEPLOY_DATA": str(data),
                "PORT": str(port),
                "LLM_DEPLOY_WORKERS": "4",
            }
        )
        with serve(create_app(settings), sock) as base:
            yield Harness(base, data, llm, ev, http, gates, asked)
            for gate in gates.values():
                gate.set()


def test_a_rerun_after_a_failed_deploy_deploys_the_commit_without_the_model(
    harness: Harness, tmp_path: Path
) -> None:
    stem = "github-user-created-9b2c4-r1"
    harness.gates[stem] = gate = threading.Event()
    request = harness.post(stem)
    repo = harness.repo_of(request)
    wait_for(lambda: stem in harness.asked, 120, "the run to ask the model")
    # Pages cannot publish while a plain file stands where the site's link goes.
    blocker = harness.data / "sites" / repo
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("not a site")
    gate.set()
    run_id = harness.run_id(request)
    first = harness.finished(run_id)
    steps = _steps(first)
    assert first["state"] == "failure"
    assert steps["action: Deploy to GitHub Pages"] == "failure"
    assert steps["action: Wait for the page, then notify the evaluator"] == "skipped"
    committed = harness.head(repo)
    assert committed == first["outputs"]["commit-sha"]
    assert harness.notes_for(request["nonce"]) == []
    calls = len(harness.llm.requests)

    blocker.unlink()
    second = harness.rerun(run_id)
    assert second["state"] == "success", second.get("error")
    report = _report(second)
    assert report["outcome"] == "reused" and report["commit_sha"] == committed
    assert len(harness.llm.requests) == calls, "the re-run asked the model again"
    assert harness.head(repo) == committed, "the re-run pushed"
    # The first attempt's artifact is still there: the per-attempt name is what tells them apart.
    kept = sorted(
        p.relative_to(harness.data / "runs").as_posix()
        for p in (harness.data / "runs" / f"{run_id}.artifacts").glob("*/github-pages*")
    )
    assert kept == [
        f"{run_id}.artifacts/1/github-pages-{run_id}-1",
        f"{run_id}.artifacts/2/github-pages-{run_id}-2",
    ]
    notes = wait_for(lambda: harness.notes_for(request["nonce"]) or None, 60, "the notification")
    assert len(notes) == 1 and notes[0]["commit_sha"] == committed
    deployed = check_notification(notes[0], request, tmp_path, harness.http)
    assert deployed.sha == committed
    assert (harness.data / "runs" / f"{run_id}.attempt-1.json").is_file()


def test_a_rerun_of_a_superseded_round_changes_nothing(harness: Harness) -> None:
    first_req = harness.post("markdown-to-html-3f1a2-r1")
    first_id = harness.run_id(first_req)
    assert harness.finished(first_id)["state"] == "success"
    repo = harness.repo_of(first_req)
    second_req = harness.post("markdown-to-html-3f1a2-r2a")
    second_id = harness.run_id(second_req)
    assert harness.finished(second_id)["state"] == "success"
    wait_for(lambda: harness.notes_for(second_req["nonce"]) or None, 60, "round 2's notification")
    head, site = harness.head(repo), (harness.data / "sites" / repo).resolve()
    calls, notes = len(harness.llm.requests), len(list(harness.ev.bodies))

    again = harness.rerun(first_id)
    assert again["state"] == "success", again.get("error")
    report = _report(again)
    assert report["outcome"] == "superseded" and report["commit_sha"] == ""
    assert any("round 2" in n for n in report["notes"]), report["notes"]
    steps = _steps(again)
    for name in (
        "action: Upload the site",
        "action: Deploy to GitHub Pages",
        "action: Wait for the page, then notify the evaluator",
    ):
        assert steps[name] == "skipped", name
    assert harness.head(repo) == head, "a superseded round pushed"
    assert (harness.data / "sites" / repo).resolve() == site, "a superseded round deployed"
    assert len(harness.llm.requests) == calls and len(list(harness.ev.bodies)) == notes


def test_round_two_during_round_one_waits_then_revises_round_one(
    harness: Harness, tmp_path: Path
) -> None:
    first_stem, second_stem = "sum-of-sales-601-r1", "sum-of-sales-601-r2a"
    harness.gates[first_stem] = gate = threading.Event()
    first_req = harness.post(first_stem)
    first_id = harness.run_id(first_req)
    wait_for(lambda: first_stem in harness.asked, 120, "round 1 to ask the model")
    second_req = harness.post(second_stem)
    second_id = harness.run_id(second_req)
    log = harness.data / "runs" / f"{second_id}.log"
    wait_for(
        lambda: log.is_file() and f"Waiting for earlier run(s) {first_id}" in log.read_text(),
        120,
        "round 2 to wait for round 1",
    )
    assert second_stem not in harness.asked, "round 2 asked the model before round 1 finished"
    gate.set()
    assert harness.finished(first_id)["state"] == "success"
    second = harness.finished(second_id)
    assert second["state"] == "success", second.get("error")
    report = _report(second)
    assert report["outcome"] == "generated" and report["waited_for"] == [first_id]
    assert report["waited_s"] > 0
    # Round 2's model saw round 1's app, and its commit sits on top of round 1's.
    prompts = [_prompt(r.json) for r in harness.llm.requests if isinstance(r.json, dict)]
    prompt = next(p for p in prompts if request_stem(p) == second_stem)
    first_page = app_files(first_stem)["index.html"]
    line = max(first_page.splitlines(), key=len).strip()
    assert line in prompt, "round 2's model did not see round 1's index.html"
    notes = wait_for(lambda: harness.notes_for(second_req["nonce"]) or None, 60, "round 2 notes")
    deployed = check_notification(notes[0], second_req, tmp_path, harness.http)
    first_note = harness.notes_for(first_req["nonce"])[0]
    assert first_note["commit_sha"] in deployed.parents()[1:]
    shutil.rmtree(deployed.clone, ignore_errors=True)
