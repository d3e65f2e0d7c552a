"""``llm-deploy run REQUEST.json`` as a user runs it: a subprocess that prints the notification."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e_support import ROOT, link_tool_cache, load_request, prebuild_action_venv


def _run(args: list[str], data: Path) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("GITHUB_TOKEN", "LLM_API_KEY", "AIPIPE_TOKEN", "LLM_DEPLOY_DATA")
    }
    return subprocess.run(
        [sys.executable, "-m", "receiver.cli", "run", *args, "--data", str(data)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_run_prints_the_notification_and_exits_zero(tmp_path: Path) -> None:
    prebuild_action_venv()
    link_tool_cache(tmp_path / "data")
    request_file = tmp_path / "request.json"
    request = load_request("sum-of-sales-601-r1")
    request_file.write_text(json.dumps(request), "utf-8")
    proc = _run([str(request_file)], tmp_path / "data")
    assert proc.returncode == 0, proc.stderr[-3000:]
    note = json.loads(proc.stdout)
    for key in ("email", "task", "round", "nonce"):
        assert note[key] == request[key]
    assert note["repo_url"].startswith("file://") and len(note["commit_sha"]) == 40
    assert "/pages/sum-of-sales-601/" in note["pages_url"]
    assert "local mode" in proc.stderr and "notified" in proc.stderr
    site = tmp_path / "data" / "sites" / "sum-of-sales-601" / "index.html"
    shown = subprocess.run(
        [
            "git",
            "-C",
            str(tmp_path / "data" / "repos" / "sum-of-sales-601.git"),
            "show",
            f"{note['commit_sha']}:index.html",
        ],
        capture_output=True,
        check=True,
    ).stdout
    assert site.read_bytes() == shown


BAD = [
    ("missing", None, "cannot read"),
    ("not-json", "{nope", "cannot read"),
    ("not-object", "[1, 2]", "not a JSON object"),
    ("invalid-request", json.dumps({"task": "x"}), "answered 400"),
]


@pytest.mark.parametrize(("name", "content", "message"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_file_exits_non_zero_with_a_clear_message(
    tmp_path: Path, name: str, content: str | None, message: str
) -> None:
    path = tmp_path / f"{name}.json"
    if content is not None:
        path.write_text(content, "utf-8")
    proc = _run([str(path)], tmp_path / "data")
    assert proc.returncode != 0
    assert message in proc.stderr
    assert proc.stdout == ""
