"""End to end in local mode: an app whose own push workflow deploys Pages (``Analyze``).

The scripted model answers with the corpus ``Analyze`` app, whose ``ci.yml`` runs ruff, runs
``execute.py > result.json`` and deploys the site (result.json included) to Pages. With a push
token configured the Action commits that workflow, leaves the site to it, and the local runner
starts it on the push, as GitHub would. The evaluator looks at the site the moment the
notification arrives: it must already serve ``result.json`` of the notified commit at the
notified ``pages_url``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from receiver.app import create_app
from receiver.config import Settings
from tests.e2e_support import (
    app_files,
    free_socket,
    link_tool_cache,
    load_request,
    prebuild_action_venv,
    serve,
    wait_for,
)
from tests.fakes.evaluator import Answer, FakeEvaluator
from tests.fakes.llm import FakeLLM

SECRET = "e2e-app-pages-secret"
STEM = "Analyze-r1"
# The corpus app installs pandas from PyPI in its CI; this one reads the CSV with the standard
# library, so the test needs no network. ruff comes from the test venv (setup-python's stand-in
# puts the receiver's interpreter first on PATH).
EXECUTE = """import csv
import json


def main():
    totals = {}
    with open("data.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            revenue = float(row["units"]) * float(row["price"])
            totals[row["region"]] = round(totals.get(row["region"], 0.0) + revenue, 2)
    print(json.dumps(totals, sort_keys=True))


if __name__ == "__main__":
    main()
"""


def _offline_app(gate: Path) -> dict[str, str]:
    files = app_files(STEM)
    ci = files[".github/workflows/ci.yml"]
    pip = '      - run: pip install "pandas==2.3.*" openpyxl ruff\n'
    assert pip in ci
    # The build waits for the test to open a gate once the Action is in its notify step, so a
    # notification that did not wait for the deployment would find no result.json.
    wait = f"      - run: while [ ! -e '{gate}' ]; do sleep 0.1; done\n"
    files[".github/workflows/ci.yml"] = ci.replace(pip, wait)
    files["execute.py"] = EXECUTE
    del files["data.csv"]  # the Action converts data.xlsx itself
    return files


def _answer_with(gate: Path) -> Callable[[dict[str, Any]], str]:
    def answer(request: dict[str, Any]) -> str:
        files = _offline_app(gate).items()
        return "".join(f'<file path="{p}">\n{t}</file>\n' for p, t in files)

    return answer


class LookingEvaluator(FakeEvaluator):
    """An evaluator that fetches ``<pages_url>result.json`` before it answers a notification."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[int, bytes]] = []

    def next_answer(self, raw: bytes) -> Answer:
        answer = super().next_answer(raw)
        body = json.loads(raw)
        page = httpx.get(body["pages_url"] + "result.json", timeout=10)
        with self._lock:
            self.seen.append((page.status_code, page.content))
        return answer


def _run_record(data: Path, workflow: str) -> dict[str, Any] | None:
    for path in sorted((data / "runs").glob("*.json")):
        if path.stem.isdigit():
            record = json.loads(path.read_text("utf-8"))
            if record.get("workflow") == workflow:
                return dict(record)
    return None


def _notifying(data: Path) -> bool:
    record = _run_record(data, "llm-deploy.yml") or {}
    return any(s["name"].startswith("action: Wait for the page") for s in record.get("steps", []))


def _finished(data: Path, workflow: str) -> dict[str, Any] | None:
    record = _run_record(data, workflow)
    return record if record and record["state"] in ("success", "failure") else None


def test_analyze_is_notified_only_once_its_own_workflow_serves_result_json(
    tmp_path: Path,
) -> None:
    prebuild_action_venv()
    data = tmp_path / "data"
    link_tool_cache(data)
    request = load_request(STEM)
    sock = free_socket()
    port = sock.getsockname()[1]
    gate = tmp_path / "gate"
    with FakeLLM(default=_answer_with(gate)) as llm, LookingEvaluator() as ev:
        settings = Settings.from_environ(
            {
                "DEPLOY_SECRET": SECRET,
                "LLM_API_KEY": llm.api_key,
                "LLM_BASE_URL": llm.base_url,
                "LLM_DEPLOY_DATA": str(data),
                "PORT": str(port),
                "GITHUB_WORKFLOW_TOKEN": "local-push-token-0123456789",
            }
        )
        app = create_app(settings)
        with serve(app, sock) as base, httpx.Client(timeout=30) as http:
            sites = app.state.mode.pages_url  # the sites' own origin (a listener of their own)
            body = {**request, "secret": SECRET, "evaluation_url": ev.url}
            assert http.post(f"{base}/api-deploy", json=body).status_code == 200
            wait_for(lambda: _notifying(data), 240, "the Action's notify step")
            # Give a notify step that does not wait its chance to notify too early (it would
            # find no result.json); one that waits is only held up, never failed, by this.
            held = time.monotonic() + 3.0
            while not ev.bodies and time.monotonic() < held:
                time.sleep(0.05)
            gate.touch()
            # seen is filled after the evaluator looked at the site, before it answers.
            wait_for(lambda: next(iter(ev.seen), None), 240, "the notification")
            note = ev.bodies[0]
            ci = wait_for(lambda: _run_record(data, "ci.yml"), 10, "the ci.yml run")
            action = wait_for(lambda: _finished(data, "llm-deploy.yml"), 120, "the Action's run")
            auth = {"Authorization": f"Bearer {SECRET}"}
            entry = http.get(f"{base}/api-deploy/{request['task']}", headers=auth).json()
            entry = entry["rounds"][0]
            row = http.get(f"{base}/api/dashboard", headers=auth).json()["tasks"][0]
    assert sites != settings.public_url
    assert note["pages_url"] == f"{sites}/pages/{request['task']}/"
    # The site served result.json when the notification arrived, built from the notified commit.
    status, served = ev.seen[0]
    assert status == 200, served
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", note["repo_url"], str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "checkout", "--quiet", note["commit_sha"]], check=True)
    expected = subprocess.run(
        [sys.executable, "execute.py"], cwd=clone, capture_output=True, check=True
    ).stdout
    assert json.loads(served) == json.loads(expected) and json.loads(served)
    assert not (clone / "result.json").exists()
    # The app's workflow ran ruff and execute.py for that commit, and deployed it.
    assert ci["state"] == "success", ci
    log = (data / "runs" / f"{ci['run_id']}.log").read_text("utf-8")
    assert "ruff check" in log and "All checks passed!" in log and note["commit_sha"][:12] in log
    # The Action left the site to it: its own upload and deploy were skipped.
    assert action is not None
    states = {s["name"]: s["state"] for s in action["steps"]}
    assert states["action: Upload the site"] == "skipped"
    assert states["action: Deploy to GitHub Pages"] == "skipped"
    report = json.loads(action["outputs"]["report"])
    assert report["page_url"] == note["pages_url"]
    assert report["pages_by"] == [".github/workflows/ci.yml"]
    # The status and the dashboard say how the round ended, although another evaluator took it.
    outcome = entry["outcome"]
    assert outcome["conclusion"] == "success" and entry["notified"] is True
    assert outcome["commit_sha"] == note["commit_sha"]
    assert outcome["page_url"] == note["pages_url"]
    assert outcome["evaluator_status"] == 200
    assert outcome["started_at"] <= outcome["evaluator_accepted_at"] <= outcome["ended_at"]
    assert row["outcome"] == outcome and not row["running"]
    # The row's elapsed_s is rounded to 0.1 s; the run starts just after the request arrives.
    assert row["elapsed_s"] + 0.05 >= outcome["ended_at"] - outcome["started_at"] > 0
