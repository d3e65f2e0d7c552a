"""The README quick start, verbatim, in a fresh copy of the repo with a fresh venv.

The serve command and the curl lines are read from README.md's "Quick start" section; only the
port changes (PORT set, and the curl URLs rewritten to it) so the test never collides with a
receiver already on 8000. The Action's venv comes from the shared pre-built tool cache.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.e2e_support import (
    CHECKOUT_COPY_IGNORE,
    ROOT,
    free_socket,
    link_tool_cache,
    prebuild_action_venv,
    wait_for,
)


def quickstart_blocks(readme: str) -> list[str]:
    """The fenced bash blocks of the Quick start section, in order."""
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)```", section, flags=re.S)


def test_readme_quickstart_works_verbatim(tmp_path: Path) -> None:
    if shutil.which("curl") is None:
        pytest.fail("curl is not installed (apt-get install curl)")
    serve_block, curl_block = quickstart_blocks((ROOT / "README.md").read_text("utf-8"))[:2]
    serve_cmd = serve_block.strip()
    assert "llm-deploy serve" in serve_cmd and "pip install" in serve_cmd
    curls = [line for line in curl_block.splitlines() if line.startswith("curl")]
    assert len(curls) == 3
    repo = tmp_path / "repo"
    shutil.copytree(ROOT, repo, ignore=CHECKOUT_COPY_IGNORE, symlinks=True)
    prebuild_action_venv()
    link_tool_cache(repo / "llm-deploy-data")
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    # The examples notify the receiver itself at :8000; they follow the port like the curls do.
    for example in (repo / "examples").glob("*.json"):
        text = example.read_text("utf-8")
        example.write_text(text.replace("127.0.0.1:8000", f"127.0.0.1:{port}"), "utf-8")
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "GITHUB_TOKEN",
            "LLM_API_KEY",
            "AIPIPE_TOKEN",
            "LLM_DEPLOY_DATA",
            "VIRTUAL_ENV",
            "DEPLOY_SECRET",
        )
    }
    env["PORT"] = str(port)
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if ".venv" not in p)
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        ["bash", "-c", serve_cmd],
        cwd=repo,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"

    def curl(line: str) -> str:
        line = line.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        return subprocess.run(
            ["bash", "-c", line],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout

    def up() -> bool:
        try:
            return httpx.get(f"{base}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return server.poll() is not None

    try:
        wait_for(up, 240, "the receiver to start (pip install included)", every=0.5)
        assert server.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
        assert '"accepted"' in curl(curls[0])
        page = f"{base}/pages/sum-of-sales-601/"
        first = wait_for(lambda: _page(page), 120, "the round-1 page", every=0.3)
        assert "sum-of-sales-601" in curl(curls[1])
        assert '"accepted"' in curl(curls[2])
        wait_for(lambda: (_page(page) or first) != first, 120, "the page to change", every=0.3)
        auth = {"authorization": "Bearer change-me"}  # the README's secret
        status = httpx.get(f"{base}/api-deploy/sum-of-sales-601", headers=auth, timeout=5).json()
        wait_for(
            lambda: all(
                r["notified"]
                for r in httpx.get(
                    f"{base}/api-deploy/sum-of-sales-601", headers=auth, timeout=5
                ).json()["rounds"]
            ),
            60,
            "both local notifications",
        )
        assert len(status["rounds"]) == 2
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(5)
        log.close()
    first_line = next(
        line
        for line in (tmp_path / "serve.log").read_text("utf-8").splitlines()
        if " llm_deploy" in line and " INFO " in line
    )
    assert "local mode" in first_line


def _page(url: str) -> bytes | None:
    try:
        answer = httpx.get(url, timeout=5, follow_redirects=True)  # to the sites' own port
    except httpx.HTTPError:
        return None
    return answer.content if answer.status_code == 200 else None
