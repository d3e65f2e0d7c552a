"""The local runner runs a workflow and a real composite action.yml the way GitHub would."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path

import pytest

from receiver.local.forge import LocalForge
from receiver.local.run_model import RunResult, StepFailed, parse_env_file
from receiver.local.runner import LocalRunner

URL = "http://127.0.0.1:9"
SECRET = "s3cr3t-payload-key"

ACTION = """\
name: fixture
description: a composite action shaped like ours
inputs:
  payload: {description: p, default: ""}
  payload-key: {description: k, default: ""}
  greeting: {description: g, default: "hello"}
  deploy: {description: d, default: "true"}
  fail: {description: f, default: "false"}
  github-token: {description: t, default: "${{ github.token }}"}
outputs:
  page-url: {description: u, value: "${{ steps.deploy.outputs.page_url }}"}
  commit-sha: {description: c, value: "${{ steps.build.outputs.sha }}"}
  report: {description: r, value: "${{ steps.build.outputs.report }}"}
runs:
  using: composite
  steps:
    - id: py
      uses: actions/setup-python@v7
      with: {python-version: "3.12"}
    - id: build
      name: Build ${{ inputs.greeting }}
      shell: bash
      env:
        PY: ${{ steps.py.outputs.python-path }}
        INPUT_GREETING: ${{ inputs.greeting }}
        INPUT_PAYLOAD_KEY: ${{ inputs.payload-key }}
        INPUT_GITHUB_TOKEN: ${{ inputs.github-token }}
      run: |
        mkdir -p _site/.git
        echo "<h1>$INPUT_GREETING</h1>" > _site/index.html
        echo "not published" > _site/.git/x
        echo "key is $INPUT_PAYLOAD_KEY, token is $INPUT_GITHUB_TOKEN"
        "$PY" -c "import sys; print(sys.version_info[0])" > _site/v.txt
        git config user.name t && git config user.email t@t
        git add -A && git commit -qm site && git push -q origin HEAD:main
        echo "sha=$(git rev-parse HEAD)" >> "$GITHUB_OUTPUT"
        { echo "report<<EOF"; echo "line1"; echo "line2"; echo "EOF"; } >> "$GITHUB_OUTPUT"
        test -f "$GITHUB_ACTION_PATH/action.yml"
        test -d "$RUNNER_TEMP" && test "$GITHUB_WORKSPACE" = "$PWD"
        echo "## Built" >> "$GITHUB_STEP_SUMMARY"
    - if: inputs.fail == 'true'
      shell: bash
      run: echo boom; exit 3
    - if: inputs.deploy == 'true'
      uses: actions/upload-pages-artifact@v5
      with: {path: _site}
    - id: deploy
      if: inputs.deploy == 'true'
      uses: actions/deploy-pages@v5
    - if: failure()
      shell: bash
      run: echo "cleanup after failure"
    - if: always()
      shell: bash
      run: echo "always ran for $GITHUB_REPOSITORY"
"""

WORKFLOW = """\
name: llm-deploy
on:
  workflow_dispatch:
    inputs:
      payload: {default: ""}
      greeting: {default: "hi"}
      fail: {default: "false"}
jobs:
  deploy:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v7
        with: {persist-credentials: true}
      - id: llm-deploy
        uses: someone/llm-deploy@v1
        with:
          payload: ${{ inputs.payload }}
          payload-key: ${{ secrets.LLM_DEPLOY_PAYLOAD_KEY }}
          greeting: ${{ inputs.greeting }}
          fail: ${{ inputs.fail }}
      - name: Report
        env:
          URL: ${{ steps.llm-deploy.outputs.page-url }}
        run: echo "deployed to $URL"
"""


def _setup(
    tmp_path: Path, workflow: str = WORKFLOW, on_finish: list[RunResult] | None = None
) -> tuple[LocalForge, LocalRunner]:
    action = tmp_path / "action"
    action.mkdir()
    (action / "action.yml").write_text(ACTION)
    data = tmp_path / "data"
    runner = LocalRunner(
        data,
        action_path=action,
        public_url=URL,
        secrets_for=lambda name: LocalForge(data, public_url=URL).secrets_for(name),
        on_finish=on_finish.append if on_finish is not None else None,
    )
    forge = LocalForge(data, public_url=URL, runner=runner)
    return forge, runner


def _repo(forge: LocalForge, name: str, workflow: str = WORKFLOW) -> None:
    repo = forge.create_repo(name, "d")
    forge.commit_files(
        repo, {".github/workflows/llm-deploy.yml": workflow.encode(), "README.md": b"r"}, "init"
    )
    forge.set_secret(repo, "LLM_DEPLOY_PAYLOAD_KEY", SECRET)


def _head(forge: LocalForge, name: str) -> str:
    return subprocess.run(
        ["git", "-C", str(forge.repo_dir(name)), "rev-parse", "main"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def _states(result: RunResult) -> dict[str, str]:
    return {s.name: s.state for s in result.steps}


def test_successful_run_deploys_and_wires_outputs(tmp_path: Path) -> None:
    forge, runner = _setup(tmp_path)
    _repo(forge, "app")
    result = runner.run("app", "llm-deploy.yml", {"greeting": "Hello world"})
    assert result.state == "success", result
    assert result.outputs["page-url"] == f"{URL}/pages/app/"
    assert result.outputs["commit-sha"] == _head(forge, "app")
    assert result.outputs["report"] == "line1\nline2"
    site = forge.data_dir / "sites" / "app"
    assert (site / "index.html").read_text() == "<h1>Hello world</h1>\n"
    assert (site / "v.txt").read_text().strip() == "3"
    assert not (site / ".git").exists()
    states = _states(result)
    assert states["action: Build Hello world"] == "success"
    assert states["action: echo boom; exit 3"] == "skipped"
    assert states['action: echo "cleanup after failure"'] == "skipped"
    assert states["Report"] == "success"
    log = (runner.runs_dir / f"{result.run_id}.log").read_text()
    assert "key is ***, token is ***" in log and SECRET not in log
    assert "always ran for repos/app" in log and f"deployed to {URL}/pages/app/" in log
    record = json.loads(runner.record_path(result.run_id).read_text())
    assert record["state"] == "success" and SECRET not in json.dumps(record)
    assert "## Built" in (runner.runs_dir / f"{result.run_id}.summary.md").read_text()
    assert not (forge.data_dir / "runner-work" / str(result.run_id)).exists()


def test_failing_step_fails_the_run_and_skips_deploy(tmp_path: Path) -> None:
    forge, runner = _setup(tmp_path)
    _repo(forge, "bad")
    result = runner.run("bad", "llm-deploy.yml", {"fail": "true"})
    assert result.state == "failure"
    states = _states(result)
    assert states["action: echo boom; exit 3"] == "failure"
    assert states["action: actions/deploy-pages@v5"] == "skipped"
    assert states['action: echo "cleanup after failure"'] == "success"
    assert states["Report"] == "skipped"
    log = (runner.runs_dir / f"{result.run_id}.log").read_text()
    assert "exited with code 3" in log and "always ran" in log
    assert not (forge.data_dir / "sites" / "bad").exists()


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ("uses: docker://alpine", "cannot run"),
        ("uses: actions/checkout", "cannot run"),
        ("run: exit 1\n        shell: fish", "not supported"),
    ],
    ids=["docker", "no-ref", "shell"],
)
def test_unrunnable_steps_fail_clearly(tmp_path: Path, step: str, message: str) -> None:
    workflow = f"on: workflow_dispatch\njobs:\n  j:\n    steps:\n      - {step}\n"
    forge, runner = _setup(tmp_path)
    _repo(forge, "odd", workflow)
    result = runner.run("odd", "llm-deploy.yml", {})
    assert result.state == "failure"
    assert message in result.steps[0].error


def test_missing_workflow_fails_the_run(tmp_path: Path) -> None:
    forge, runner = _setup(tmp_path)
    _repo(forge, "nowf")
    result = runner.run("nowf", "other.yml", {})
    assert result.state == "failure" and "not on main" in result.error


def test_dispatch_runs_concurrently_for_two_repos(tmp_path: Path) -> None:
    finished: list[RunResult] = []
    forge, _ = _setup(tmp_path, on_finish=finished)
    for name in ("one", "two"):
        _repo(forge, name)
    done = threading.Event()
    dispatches = [
        forge.dispatch(forge.get_repo(n), "llm-deploy.yml", {"greeting": n}) for n in ("one", "two")
    ]
    assert {d.run_id for d in dispatches} == {1, 2}
    assert dispatches[0].run_url == f"{URL}/runs/1"
    for _ in range(400):
        if len(finished) == 2:
            done.set()
            break
        threading.Event().wait(0.05)
    assert done.is_set()
    assert {r.state for r in finished} == {"success"}
    for name in ("one", "two"):
        html = (forge.data_dir / "sites" / name / "index.html").read_text()
        assert html == f"<h1>{name}</h1>\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a=1\nb=x=y\n", {"a": "1", "b": "x=y"}),
        ("r<<EOF\nl1\nl2\nEOF\n", {"r": "l1\nl2"}),
        ("k<<D\r\nv\r\nD\r\n", {"k": "v"}),
        ("a=b<<c\n", {"a": "b<<c"}),
        ("\n\n", {}),
    ],
    ids=["kv", "heredoc", "crlf", "kv-with-lt", "blank"],
)
def test_parse_env_file(text: str, expected: dict[str, str]) -> None:
    assert parse_env_file(text) == expected


@pytest.mark.parametrize("text", ["novalue\n", "r<<EOF\nnever closed\n"], ids=["bare", "open"])
def test_parse_env_file_errors(text: str) -> None:
    with pytest.raises(StepFailed):
        parse_env_file(text)
