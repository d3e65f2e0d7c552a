"""The built wheel, not the checkout: ``pip wheel .`` installed into a fresh venv serves local mode.

The wheel is built and installed once per session. The installed receiver runs from a folder
with no checkout in sight, so it must find the workflow templates and ``action.yml`` inside the
package and assemble the Action's source tree for the local runner itself. The Action's venv for
that tree is pre-built into the shared tool cache (keyed by the tree's hash, as action.yml does).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.e2e_support import (
    CHECKOUT_COPY_IGNORE,
    ROOT,
    link_tool_cache,
    prebuild_action_venv,
    wait_for,
)
from tests.support import free_port

pytestmark = [pytest.mark.wheel, pytest.mark.e2e]
SECRET = "wheel-test-secret"


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Built from a clean copy: setuptools reuses an in-tree build/ folder, which could hold modules
    # that no longer exist in the source and would ship stale in the wheel.
    src = tmp_path_factory.mktemp("src") / "llm-deploy"
    shutil.copytree(ROOT, src, ignore=CHECKOUT_COPY_IGNORE, symlinks=True)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), "."],
        cwd=src,
        check=True,
        capture_output=True,
        timeout=300,
    )
    [built] = out.glob("llm_deploy-*.whl")
    return built


def test_wheel_holds_exactly_the_packages_modules(wheel: Path) -> None:
    shipped = {n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".py")}
    source = {
        p.relative_to(ROOT).as_posix()
        for d in ("action", "receiver")
        for p in (ROOT / d).rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert shipped == source


@pytest.fixture(scope="session")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the wheel with the receiver's extras; its bin folder."""
    root = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(root)], check=True, timeout=120)
    subprocess.run(
        [
            str(root / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            f"{wheel}[receiver]",
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return root / "bin"


def clean_env(bin_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a user who installed the wheel: no token, no checkout on the path."""
    keep = ("HOME", "LANG", "LC_ALL", "TMPDIR", "USER")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    path = [p for p in os.environ.get("PATH", "/bin").split(os.pathsep) if ".venv" not in p]
    return {**env, "PATH": os.pathsep.join([str(bin_dir), *path]), **extra}


@pytest.mark.parametrize(
    "name",
    [
        "receiver/bundled/action.yml",
        "receiver/bundled/workflow-templates/llm-deploy.yml.j2",
        "receiver/bundled/workflow-templates/reuse-example.yml",
        "receiver/local/mode.py",
        "receiver/github/forge.py",
        "receiver/static/dashboard.js",
        "action/templates/_task.j2",
    ],
)
def test_wheel_carries_what_the_receiver_reads(wheel: Path, name: str) -> None:
    assert name in zipfile.ZipFile(wheel).namelist()


def test_installed_cli_prints_usage(venv: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [str(venv / "llm-deploy"), "--help"],
        cwd=tmp_path,
        env=clean_env(venv),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "usage: llm-deploy" in done.stdout


def test_installed_wheel_serves_local_mode_end_to_end(venv: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    tree = subprocess.run(
        [
            str(venv / "python"),
            "-c",
            "import sys; from pathlib import Path; from receiver.local.action_source import "
            "action_path; print(action_path(Path(sys.argv[1])))",
            str(data),
        ],
        cwd=tmp_path,
        env=clean_env(venv),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    assert Path(tree) == data / "action-source" and not Path(tree, "receiver").exists()
    prebuild_action_venv(action_path=Path(tree))
    link_tool_cache(data)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = clean_env(venv, DEPLOY_SECRET=SECRET, PORT=str(port), LLM_DEPLOY_DATA=str(data))
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [str(venv / "llm-deploy"), "serve"],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    request = json.loads((ROOT / "examples" / "sum-of-sales-r1.json").read_text("utf-8"))
    request.update(secret=SECRET, evaluation_url=f"{base}/local/notify")

    def up() -> bool:
        try:
            return httpx.get(f"{base}/health", timeout=2).json() == {
                "status": "ok",
                "mode": "local",
            }
        except httpx.HTTPError:
            return server.poll() is not None

    def notified() -> dict[str, object] | None:
        rounds = httpx.get(
            f"{base}/api-deploy/{request['task']}",
            timeout=5,
            headers={"authorization": f"Bearer {SECRET}"},
        ).json()["rounds"]
        return rounds[0] if rounds[0].get("notified") else None

    try:
        wait_for(up, 60, "the installed receiver to start")
        assert server.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
        accepted = httpx.post(f"{base}/api-deploy", json=request, timeout=30)
        assert accepted.status_code == 200, accepted.text
        entry = wait_for(notified, 240, "the local notification")
        page = httpx.get(f"{base}/pages/{request['task']}/", timeout=5, follow_redirects=True)
        assert page.status_code == 200 and b"<html" in page.content.lower()
        assert entry["state"] == "notified"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            code = server.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            code = server.wait(5)
        log.close()
    assert code == 0 or code == 128 + signal.SIGTERM, (tmp_path / "serve.log").read_text()[-3000:]
