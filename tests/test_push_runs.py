"""Local mode runs an app's push-triggered workflows as GitHub does, as far as it can."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from starlette.applications import Starlette

from receiver.local import github_api
from receiver.local.forge import LocalForge
from receiver.local.github_api import LOCAL_API_PREFIX
from receiver.local.pages import read_deployment, site_url
from receiver.local.push_runs import job_order, runs_on_push, unsupported_step
from receiver.local.run_model import RunResult
from receiver.local.runner import LocalRunner
from receiver.worker import PUSH_SECRET
from tests.fakes import openapi_check
from tests.support import serve, wait_for

URL = "http://127.0.0.1:9"
SITES = "http://127.0.0.1:10"  # the sites' own origin (LocalMode.pages_url)


class _Mode:
    """What the local API's handlers read of LocalMode."""

    def __init__(self, data_dir: Path) -> None:
        self.settings = type("S", (), {"data_dir": data_dir})()
        self.pages_url = SITES


def _api_app(data_dir: Path) -> Starlette:
    app = Starlette(routes=github_api.routes())
    app.state.mode = _Mode(data_dir)
    return app


PAGES_CI = """\
name: ci
on:
  push:
    branches: [main]
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v5
      - uses: actions/setup-python@v6
      - run: mkdir -p site && python -c 'print(1 + 2)' > site/result.json
      - uses: actions/upload-pages-artifact@v4
        with:
          path: site
  deploy:
    needs: build
    runs-on: ubuntu-latest
    steps:
      - uses: actions/deploy-pages@v4
"""


@pytest.mark.parametrize(
    ("on", "expected"),
    [
        ("push", True),
        (["pull_request", "push"], True),
        ({"push": {"branches": ["main"]}}, True),
        ({"push": {"branches": ["ma*"]}}, True),
        ({"push": {"branches": ["release"]}}, False),
        ({"push": {"branches-ignore": ["main"]}}, False),
        ({"push": {"tags": ["v*"]}}, False),
        ({"push": None, "workflow_dispatch": None}, True),
        ({"workflow_dispatch": {"inputs": {}}}, False),
    ],
    ids=[
        "bare",
        "list",
        "branch",
        "glob",
        "other-branch",
        "ignored",
        "tags-only",
        "null",
        "dispatch-only",
    ],
)
def test_runs_on_push(on: Any, expected: bool) -> None:
    assert runs_on_push({True: on}, "main") is expected  # YAML 1.1 reads `on` as True
    assert runs_on_push({"on": on}, "main") is expected


@pytest.mark.parametrize(
    ("steps", "problem"),
    [
        (
            [{"uses": "actions/checkout@v5"}, {"run": "make"}, {"uses": "actions/deploy-pages@v4"}],
            None,
        ),
        ([{"uses": "actions/cache@v4"}], "Step 1 of the job 'build' uses 'actions/cache@v4'"),
        ([{"run": "x"}, {"uses": "docker://alpine"}], "Step 2 of the job 'build' uses"),
        ([{"uses": "someone/else@v1"}], "which the local runner cannot run"),
    ],
    ids=["supported", "cache", "docker", "third-party"],
)
def test_unsupported_steps_are_named(steps: list[dict[str, str]], problem: str | None) -> None:
    found = unsupported_step({"jobs": {"build": {"steps": steps}}})
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found
        assert "actions/checkout, actions/setup-python" in found


def test_job_order_follows_needs() -> None:
    jobs = {"deploy": {"needs": "build"}, "build": {}, "notify": {"needs": ["deploy", "build"]}}
    assert job_order(jobs) == ["build", "deploy", "notify"]
    with pytest.raises(ValueError, match="need each other"):
        job_order({"a": {"needs": "b"}, "b": {"needs": "a"}})


def _forge(tmp_path: Path) -> tuple[LocalForge, LocalRunner, list[RunResult]]:
    data = tmp_path / "data"
    finished: list[RunResult] = []
    forge = LocalForge(data, public_url=URL)
    runner = LocalRunner(
        data,
        action_path=tmp_path,
        public_url=URL,
        secrets_for=forge.secrets_for,
        on_finish=finished.append,
    )
    return forge, runner, finished


def _records(runner: LocalRunner, workflow: str) -> list[dict[str, Any]]:
    found = []
    for path in sorted(runner.runs_dir.glob("*.json")):
        if path.stem.isdigit():
            record = json.loads(path.read_text("utf-8"))
            if record.get("workflow") == workflow and record["state"] in ("success", "failure"):
                found.append(record)
    return found


def test_a_push_with_the_push_token_runs_the_app_workflow_which_deploys(tmp_path: Path) -> None:
    forge, runner, _ = _forge(tmp_path)
    repo = forge.create_repo("app", "Built by llm-deploy")
    forge.commit_files(repo, {"README.md": b"x\n"}, "first")
    forge.set_secret(repo, PUSH_SECRET, "ghp_push")
    watch = runner.watch_pushes("app", runner.clone_url_for("app"))
    try:
        sha = forge.commit_files(repo, {".github/workflows/ci.yml": PAGES_CI.encode()}, "ci")
        record = wait_for(lambda: next(iter(_records(runner, "ci.yml")), None), 60, "the ci run")
    finally:
        watch.stop()
    assert record["state"] == "success", record
    site = runner.data_dir / "sites" / "app"
    assert json.loads((site / "result.json").read_text()) == 3
    assert read_deployment(runner.data_dir, "app", sha) is not None
    log = (runner.runs_dir / f"{record['run_id']}.log").read_text()
    assert f"started by the push of {sha[:12]}" in log
    # GitHub's two Pages reads, as the Action makes them against local mode's API.
    with serve(_api_app(runner.data_dir)) as base, httpx.Client() as http:
        api = f"{base}{LOCAL_API_PREFIX}/repos/repos/app"
        pages = http.get(f"{api}/pages")
        deployment = http.get(f"{api}/pages/deployments/{sha}")
        missing = http.get(f"{api}/pages/deployments/{'0' * 40}")
    assert pages.json()["html_url"] == site_url(SITES, "app") == f"{SITES}/pages/app/"
    assert deployment.json() == {"status": "succeed"}
    assert missing.status_code == 404
    for path, answer in (("pages", pages), (f"pages/deployments/{sha}", deployment)):
        problems = openapi_check.check_exchange(
            "GET",
            f"/repos/repos/app/{path}",
            {},
            {},
            b"",
            answer.status_code,
            {"content-type": "application/json"},
            answer.content,
        )
        assert problems == [], path


def test_without_a_push_token_a_push_starts_nothing(tmp_path: Path) -> None:
    forge, runner, _ = _forge(tmp_path)
    repo = forge.create_repo("app", "Built by llm-deploy")
    forge.commit_files(repo, {"README.md": b"x\n"}, "first")
    watch = runner.watch_pushes("app", runner.clone_url_for("app"))
    forge.commit_files(repo, {".github/workflows/ci.yml": PAGES_CI.encode()}, "ci")
    watch.stop()  # looks once more before it returns
    assert _records(runner, "ci.yml") == []
    assert not list(runner.runs_dir.glob("*.json"))


def test_an_unsupported_action_fails_the_run_saying_so(tmp_path: Path) -> None:
    forge, runner, _ = _forge(tmp_path)
    repo = forge.create_repo("app", "Built by llm-deploy")
    text = PAGES_CI.replace(
        "      - uses: actions/setup-python@v6\n", "      - uses: actions/cache@v4\n"
    )
    sha = forge.commit_files(repo, {".github/workflows/ci.yml": text.encode()}, "ci")
    result = runner.run_push("app", "ci.yml", yaml.safe_load(text), sha, "0" * 40)
    assert result.state == "failure"
    assert "ci.yml: Step 2 of the job 'build' uses 'actions/cache@v4'" in result.error
    assert result.steps == []  # nothing ran
    assert not (runner.data_dir / "sites" / "app").exists()


def test_a_failed_job_skips_the_jobs_that_need_it(tmp_path: Path) -> None:
    forge, runner, _ = _forge(tmp_path)
    repo = forge.create_repo("app", "Built by llm-deploy")
    text = PAGES_CI.replace("mkdir -p site && ", "exit 4; ")
    sha = forge.commit_files(repo, {".github/workflows/ci.yml": text.encode()}, "ci")
    result = runner.run_push("app", "ci.yml", yaml.safe_load(text), sha, "0" * 40)
    assert result.state == "failure"
    assert not any(s.name.startswith("actions/deploy-pages") for s in result.steps)
    log = (runner.runs_dir / f"{result.run_id}.log").read_text()
    assert "Skipping the job deploy: a job it needs failed" in log
