"""Shared helpers of the end-to-end tests and the bench: a pre-built Action venv, a receiver
under uvicorn on 127.0.0.1, a fake model that answers with the hand-written corpus apps, and
checks of what a notification claims (git clone, Pages, repo contents)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes

import httpx
import yaml

from tests.support import free_socket, serve, wait_for

__all__ = ["free_socket", "serve", "wait_for"]  # re-exported for the e2e tests and the bench

ROOT = Path(__file__).resolve().parent.parent
TASKS = ROOT.parent / "shared" / "tasks"
APPS = ROOT / "tests" / "apps"
# Venvs in it are keyed by the lock, interpreter and Action path (as action.yml does), so sharing
# it between sessions is safe and spares repeated installs; it lives outside any data folder.
# What a copy of the checkout leaves out: environments, caches and build output, so a test that
# installs from the copy sees the tree a fresh clone would.
CHECKOUT_COPY_IGNORE = shutil.ignore_patterns(
    ".venv",
    "node_modules",
    "*.egg-info",
    "__pycache__",
    ".git",
    "llm-deploy-data",
    ".*_cache",
    "build",
    "dist",
)
TOOL_CACHE = Path(tempfile.gettempdir()) / f"llm-deploy-tool-cache-{os.getuid()}"


def load_request(stem: str) -> dict[str, Any]:
    """One request of ../shared/tasks by file stem."""
    data: dict[str, Any] = json.loads((TASKS / f"{stem}.json").read_text("utf-8"))
    return data


def prebuild_action_venv(
    tool_cache: Path = TOOL_CACHE, verify: bool = True, action_path: Path = ROOT
) -> Path:
    """Run action.yml's own venv step once into tool_cache; return the venv's python."""
    spec = yaml.safe_load((action_path / "action.yml").read_text("utf-8"))
    step = next(s for s in spec["runs"]["steps"] if s.get("id") == "venv")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "output"
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", tmp),
            "LLMD_BASE_PYTHON": sys.executable,
            "LLMD_TOOL_CACHE": str(tool_cache),
            "LLMD_ACTION_PATH": str(action_path),
            "LLMD_VERIFY": "true" if verify else "false",
            "GITHUB_OUTPUT": str(out),
        }
        subprocess.run(
            ["bash", "-euo", "pipefail", "-c", step["run"]],
            env=env,
            check=True,
            capture_output=True,
            timeout=600,
        )
        line = out.read_text("utf-8").strip()
    return Path(line.split("=", 1)[1])


def link_tool_cache(data_dir: Path, tool_cache: Path = TOOL_CACHE) -> None:
    """Point a data folder's runner tool cache at the shared, pre-built one."""
    data_dir.mkdir(parents=True, exist_ok=True)
    link = data_dir / "runner-temp"
    if not link.exists():
        link.symlink_to(tool_cache, target_is_directory=True)


# -- the fake model's answers -------------------------------------------------------------------
def app_files(stem: str) -> dict[str, str]:
    """The hand-written app for a request as the model's text files, with its own README."""
    req = load_request(stem)
    files = {
        str(p.relative_to(APPS / stem)): p.read_text("utf-8")
        for p in sorted((APPS / stem).rglob("*"))
        if p.is_file() and p.name != "wrong.json"
    }
    if "index.html" not in files:  # a repo-only app still needs a page for Pages to serve
        files["index.html"] = (
            f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{req['task']}</title></head>\n<body><h1>{req['task']}"
            "</h1><p>See the repository.</p></body></html>\n"
        )
    files["README.md"] = (
        f"# {req['task']}\n\n## Summary\nRound {req['round']} of {req['task']} ({stem}).\n\n"
        "## Setup\nNone: a static site.\n\n## Usage\nOpen index.html.\n\n"
        "## Code explanation\nThe inline script in index.html does the work.\n\n"
        "## License\nMIT, see LICENSE.\n"
    )
    return files


def request_stem(prompt: str) -> str | None:
    """The corpus request whose brief the prompt quotes (round 2 wins over round 1)."""
    found = [p.stem for p in TASKS.glob("*.json") if load_request(p.stem)["brief"] in prompt]
    found.sort(key=lambda s: (load_request(s)["round"], len(load_request(s)["brief"])))
    return found[-1] if found else None


def corpus_answer(request: dict[str, Any]) -> str:
    """FakeLLM responder: the corpus app for the request the prompt is about, as file blocks."""
    prompt = "\n".join(str(m.get("content", "")) for m in request.get("messages", []))
    stem = request_stem(prompt)
    if stem is None:
        return "I do not know this task."
    return "".join(
        f'<file path="{path}">\n{text}</file>\n' for path, text in app_files(stem).items()
    )


def attachments(stem: str) -> dict[str, bytes]:
    """The attachments of a request, decoded."""
    out = {}
    for att in load_request(stem).get("attachments", []):
        head, _, body = att["url"].partition(",")
        out[att["name"]] = (
            base64.b64decode(body) if head.endswith(";base64") else unquote_to_bytes(body)
        )
    return out


# -- what a notification claims -----------------------------------------------------------------
@dataclass
class Deployed:
    """A checked deployment: the clone at the notified commit and the page served."""

    clone: Path
    sha: str
    page: bytes

    def show(self, path: str) -> bytes:
        return git_bytes(self.clone, "show", f"{self.sha}:{path}")

    def files(self) -> list[str]:
        return git_bytes(self.clone, "ls-tree", "-r", "--name-only", self.sha).decode().split()

    def parents(self) -> list[str]:
        return git_bytes(self.clone, "rev-list", self.sha).decode().split()


def git_bytes(repo: Path, *args: str) -> bytes:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, check=True, timeout=60
    ).stdout


def check_notification(
    note: dict[str, Any], request: dict[str, Any], work: Path, http: httpx.Client
) -> Deployed:
    """Assert what the evaluator would: fields, a clonable repo, Pages serving the commit."""
    for key in ("email", "task", "round", "nonce"):
        assert note[key] == request[key], f"{key}: {note[key]!r} != {request[key]!r}"
    sha = note["commit_sha"]
    assert len(sha) == 40
    clone = work / f"clone-{request['nonce']}"
    subprocess.run(
        ["git", "clone", "--quiet", note["repo_url"], str(clone)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    head = git_bytes(clone, "rev-parse", "HEAD").decode().strip()
    assert head == sha, f"main is at {head}, the notification says {sha}"
    page = http.get(note["pages_url"])
    assert page.status_code == 200, f"GET {note['pages_url']}: {page.status_code}"
    deployed = Deployed(clone, sha, page.content)
    assert page.content == deployed.show("index.html"), "Pages does not serve the commit"
    return deployed
