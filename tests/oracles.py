"""Run GitHub's own code (npm @actions/workflow-parser, @actions/expressions) as test oracles.

Each harness in tests/node/ reads one JSON batch on stdin and writes one JSON answer on stdout,
so a whole table of cases costs one Node start. Without the packages the tests skip, unless
LLM_DEPLOY_REQUIRE_BROWSER is set (CI), where a missing oracle is a failure, not a skip.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
HARNESS_DIR = Path(__file__).resolve().parent / "node"


def require_oracle(package: str) -> None:
    """Skip (or, in CI, fail) when node or the npm package is not installed."""
    missing = []
    if not shutil.which("node"):
        missing.append("node")
    if not (ROOT / "node_modules" / package / "package.json").is_file():
        missing.append(package)
    if not missing:
        return
    message = (
        f"{', '.join(missing)} missing: run "
        "`npm install --silent --no-audit --no-fund --no-package-lock` in the repo root"
    )
    if os.environ.get("LLM_DEPLOY_REQUIRE_BROWSER"):
        pytest.fail(f"LLM_DEPLOY_REQUIRE_BROWSER is set but {message}", pytrace=False)
    pytest.skip(message)


def run_harness(script: str, payload: Any) -> Any:
    """Send one batch to tests/node/<script> and return its JSON answer."""
    result = subprocess.run(
        ["node", str(HARNESS_DIR / script)],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"{script} exited {result.returncode}: {result.stderr[-2000:]}")
    return json.loads(result.stdout)
