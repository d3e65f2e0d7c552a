"""GitHub's own workflow parser (npm @actions/workflow-parser) accepts every workflow we ship.

Checked: action.yml (parseAction), the rendered workflow template, the reuse example, this
repository's workflows and the test apps' workflows. Each kind also has a deliberately broken
file the parser must reject, so a harness that silently accepts everything cannot pass.
"""

from __future__ import annotations

import pytest

from receiver.workflow import render_workflow
from tests.oracles import ROOT, require_oracle, run_harness

TEMPLATE_ARGS = (
    "llm-deploy/llm-deploy@v1",
    "https://aipipe.org/openai/v1",
    "gpt-4.1-mini",
    "gpt-4.1-nano",
)


def _shipped() -> list[tuple[str, str, str]]:
    """(name, kind, content) for every action and workflow file the project ships or commits."""
    files = [("action.yml", "action", (ROOT / "action.yml").read_text())]
    files.append(("llm-deploy.yml.j2 (rendered)", "workflow", render_workflow(*TEMPLATE_ARGS)))
    files.append(
        ("llm-deploy.yml.j2 (local ref)", "workflow", render_workflow("./", *TEMPLATE_ARGS[1:]))
    )
    paths = [ROOT / "workflow-templates" / "reuse-example.yml"]
    paths += sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
    paths += sorted((ROOT / "tests" / "apps").glob("*/.github/workflows/*.y*ml"))
    files += [(str(p.relative_to(ROOT)), "workflow", p.read_text()) for p in paths]
    return files


BROKEN = [
    pytest.param(
        "workflow",
        "on: push\njobs:\n  build:\n    runs-onn: ubuntu-latest\n"
        "    steps:\n      - run: echo hi\n",
        "runs-onn",
        id="workflow-misspelt-key",
    ),
    pytest.param(
        "workflow",
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo a\n"
        "  b:\n    runs-on: ubuntu-latest\n    needs: nowhere\n    steps:\n      - run: echo b\n",
        "nowhere",
        id="workflow-needs-unknown-job",
    ),
    pytest.param(
        "workflow",
        "on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ inputs.x == }}\n",
        "",
        id="workflow-bad-expression",
    ),
    pytest.param(
        "action",
        "name: x\ndescription: y\nruns:\n  using: composite\n  steps:\n      - run: echo hi\n",
        "shell",
        id="action-composite-run-without-shell",
    ),
    pytest.param(
        "action",
        "name: x\ndescription: y\nruns:\n  using: composite\n  stepz: []\n",
        "stepz",
        id="action-misspelt-key",
    ),
]


@pytest.fixture(scope="module")
def shipped_results() -> dict[str, list[str]]:
    require_oracle("@actions/workflow-parser")
    batch = [{"name": n, "kind": k, "content": c} for n, k, c in _shipped()]
    return {r["name"]: r["errors"] for r in run_harness("workflow_parser.mjs", batch)}


@pytest.mark.parametrize("name", [name for name, _, _ in _shipped()])
def test_github_parser_accepts_shipped_file(
    name: str, shipped_results: dict[str, list[str]]
) -> None:
    assert shipped_results[name] == []


def test_every_kind_of_shipped_file_is_checked() -> None:
    names = [name for name, _, _ in _shipped()]
    assert "action.yml" in names
    assert any(n.startswith(".github/workflows/") for n in names)
    assert any(n.startswith("tests/apps/") for n in names)
    assert "workflow-templates/reuse-example.yml" in names


@pytest.mark.parametrize(("kind", "content", "mentioned"), BROKEN)
def test_github_parser_rejects_broken_file(kind: str, content: str, mentioned: str) -> None:
    require_oracle("@actions/workflow-parser")
    [result] = run_harness(
        "workflow_parser.mjs", [{"name": f"broken.{kind}.yml", "kind": kind, "content": content}]
    )
    assert result["errors"], f"GitHub's parser accepted a broken {kind}"
    assert mentioned in "\n".join(result["errors"])
