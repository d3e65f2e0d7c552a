"""The app's own Pages workflow and derived attachments: pure rules, then the generate step."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from action.app_workflows import pages_workflows
from action.attachment_policy import conversions
from tests.fakes.llm import FakeLLM, default_app_answer
from tests.test_generate import LLM_KEY, Repo, git, job_for, repo, run_step

__all__ = ["repo"]  # the fixture

PAGES_CI = """name: ci
on:
  push:
    branches: [main]
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v5
      - run: python execute.py > result.json
      - uses: actions/upload-pages-artifact@v5
        with: {path: .}
      - uses: actions/deploy-pages@v5
"""


@pytest.mark.parametrize(
    ("brief", "expected"),
    [
        ("Convert data.xlsx to data.csv and commit it.", {"data.csv": "data.xlsx"}),
        ("- converting `Data.XLSX` into out.csv", {"out.csv": "Data.XLSX"}),
        ("Convert other.xlsx to data.csv.", {}),  # not an attachment
        ("Read data.xlsx and show a CSV.", {}),
        ("Convert data.xlsx to data.xlsx.csv", {"data.xlsx.csv": "data.xlsx"}),
    ],
)
def test_conversions_follow_the_brief(brief: str, expected: dict[str, str]) -> None:
    names = ["Data.XLSX"] if "Data.XLSX" in brief else ["data.xlsx", "execute.py"]
    assert conversions(brief, names) == expected


@pytest.mark.parametrize(
    ("name", "text", "found"),
    [
        ("ci.yml", PAGES_CI, True),
        (
            "ci.yaml",
            "on: [push, pull_request]\njobs: {d: {steps: [{uses: actions/deploy-pages@v4}]}}",
            True,
        ),
        ("pages.yml", "on: push\nsteps:\n  - uses: 'actions/deploy-pages@v5'\n", True),
        ("manual.yml", "on: workflow_dispatch\n  - uses: actions/deploy-pages@v5\n", False),
        ("lint.yml", "on: push\njobs: {}\n", False),
        ("llm-deploy.yml", PAGES_CI, False),  # the Action's own workflow is not the app's
        ("notes.txt", PAGES_CI, False),
    ],
)
def test_pages_workflows_are_found_by_trigger_and_deploy_step(
    tmp_path: Path, name: str, text: str, found: bool
) -> None:
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True)
    (folder / name).write_text(text)
    expected = [f".github/workflows/{name}"] if found else []
    assert pages_workflows(tmp_path, ".github/workflows/llm-deploy.yml") == expected


def test_no_workflow_folder_means_no_owner(tmp_path: Path) -> None:
    assert pages_workflows(tmp_path, ".github/workflows/llm-deploy.yml") == []


def _xlsx_rows(data: bytes) -> list[list[str]]:
    """The first sheet read by openpyxl: an independent oracle for the Action's own reader."""
    sheet = openpyxl.load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
    rows = []
    for row in sheet.iter_rows(values_only=True):
        cells = [
            ""
            if v is None
            else (str(int(v)) if isinstance(v, float) and v.is_integer() else str(v))
            for v in row
        ]
        rows.append(cells)
    return rows


def _analyze_answer(request: dict[str, Any]) -> str:
    # A model that also retypes data.csv (badly) and writes the CI workflow the brief asks for.
    return (
        default_app_answer(request)
        + '<file path="data.csv">month,revenue\nJan,1\n</file>\n'
        + f'<file path=".github/workflows/ci.yml">{PAGES_CI}</file>\n'
    )


@pytest.mark.parametrize("push_token", ["", "ghp_fake_push_token_789"], ids=["no-push", "push"])
def test_analyze_commits_the_converted_csv_and_leaves_pages_to_its_ci(
    repo: Repo, capsys: pytest.CaptureFixture[str], push_token: str
) -> None:
    job = job_for("Analyze-r1")
    xlsx = next(a.data for a in job.attachments if a.name == "data.xlsx")
    with FakeLLM(default=_analyze_answer, api_key=LLM_KEY) as llm:
        run = run_step(repo, job, llm, capsys, push_token=push_token)
    assert run["code"] == 0, run["summary"]
    committed = git(repo.bare, "show", "main:data.csv")
    assert list(csv.reader(io.StringIO(committed))) == _xlsx_rows(xlsx)
    refused = dict(map(tuple, run["report"]["files_refused"]))
    assert "byte-for-byte" in refused["data.csv"]  # the model's retyped copy lost
    tree = git(repo.bare, "ls-tree", "-r", "--name-only", "main").split("\n")
    assert "data.xlsx" in tree and "execute.py" in tree
    if push_token:
        assert ".github/workflows/ci.yml" in tree
        assert run["outputs"]["deploy"] == "false"
        assert run["report"]["pages_by"] == [".github/workflows/ci.yml"]
        assert any("leaves the site to it" in n for n in run["report"]["notes"])
    else:
        assert ".github/workflows/ci.yml" not in tree and run["outputs"]["deploy"] == "true"
        assert "pages_by" not in run["report"]
