"""The local forge keeps bare git repos, secrets and Pages in a folder; local Pages serves them."""

from __future__ import annotations

import socket
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from receiver.forge import Forge, ForgeError, NameTaken, WorkflowNotRegistered
from receiver.local.forge import LocalForge
from receiver.local.pages import pages_app, publish_site, stage_artifact
from receiver.naming import description, task_tag
from tests.support import serve

URL = "http://127.0.0.1:9"


def _clone(url: str, dest: Path, branch: str = "main") -> Path:
    subprocess.run(["git", "clone", "-q", "-b", branch, url, str(dest)], check=True)
    return dest


@pytest.fixture
def forge(tmp_path: Path) -> LocalForge:
    return LocalForge(tmp_path / "data", public_url=URL)


def test_is_a_forge(forge: LocalForge) -> None:
    port: Forge = forge
    assert port.task_repos("nothing", task_tag("nothing")) == []


def test_create_repo_and_name_taken(forge: LocalForge) -> None:
    before = time.time()
    repo = forge.create_repo("app", "llm-deploy: app (round 1)")
    assert repo.name == "app" and repo.owner == "repos"
    assert repo.pages_url == f"{URL}/pages/app/"
    assert before <= repo.created_at <= time.time()
    with pytest.raises(NameTaken):
        forge.create_repo("app", "again")
    with pytest.raises(NameTaken):
        forge.create_repo("APP", "GitHub names are case-insensitive")


def test_commit_nested_paths_is_cloneable(forge: LocalForge, tmp_path: Path) -> None:
    repo = forge.create_repo("site", "d")
    files = {
        "index.html": b"<h1>hi</h1>",
        ".github/workflows/llm-deploy.yml": b"name: x\n",
        "assets/img/logo.bin": bytes(range(256)),
        "dir with space/a b.txt": "ünï\n".encode(),
    }
    first = forge.commit_files(repo, files, "round 1")
    second = forge.commit_files(repo, {"index.html": b"<h1>v2</h1>"}, "round 2")
    work = _clone(repo.html_url, tmp_path / "clone")
    head = subprocess.run(
        ["git", "-C", str(work), "log", "--format=%H %P %s"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert head == [f"{second} {first} round 2", f"{first}  round 1"]
    assert (work / "index.html").read_bytes() == b"<h1>v2</h1>"
    for path, content in files.items():
        if path != "index.html":
            assert (work / path).read_bytes() == content, path


@pytest.mark.parametrize(
    "path",
    ["../x", "/abs", "a//b", ".git/config", "a/./b", '"q'],
    ids=["dotdot", "absolute", "empty-part", "dot-git", "dot", "quote"],
)
def test_commit_refuses_unsafe_paths(forge: LocalForge, path: str) -> None:
    repo = forge.create_repo("safe", "d")
    with pytest.raises(ForgeError):
        forge.commit_files(repo, {path: b"x"}, "bad")


def test_side_file_on_its_own_branch(forge: LocalForge, tmp_path: Path) -> None:
    repo = forge.create_repo("side", "d")
    main = forge.commit_files(repo, {"README.md": b"r"}, "init")
    forge.put_side_file(repo, "llm-deploy-payloads", "payloads/1.bin", b"sealed")
    work = _clone(repo.html_url, tmp_path / "c", branch="llm-deploy-payloads")
    assert (work / "payloads/1.bin").read_bytes() == b"sealed"
    assert not (work / "README.md").exists()
    assert forge.commit_files(repo, {"b": b"b"}, "next") != main


def test_secrets_file_is_private(forge: LocalForge) -> None:
    repo = forge.create_repo("sec", "d")
    assert forge.secrets_for("sec") == {}
    forge.set_secret(repo, "LLM_API_KEY", "sk-123")
    forge.set_secret(repo, "LLM_DEPLOY_PAYLOAD_KEY", "k")
    path = forge.data_dir / "secrets" / "sec.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert forge.secrets_for("sec") == {"LLM_API_KEY": "sk-123", "LLM_DEPLOY_PAYLOAD_KEY": "k"}


def test_task_repos_recovered_from_the_folder(tmp_path: Path) -> None:
    first = LocalForge(tmp_path / "d", public_url=URL)
    for name, task in (
        ("task", "task"),
        ("task-2", "task"),
        ("task-3", "task"),
        ("task-4", "TASK"),
        ("taskish", "task"),
        ("other", "task"),
    ):
        first.create_repo(name, description(task, 1))
        time.sleep(0.01)
    first.enable_pages(first.get_repo("task-2"))
    fresh = LocalForge(tmp_path / "d", public_url=URL)
    assert [r.name for r in fresh.task_repos("task", task_tag("task"))] == [
        "task",
        "task-2",
        "task-3",
    ]
    assert fresh.pages_enabled(fresh.get_repo("task-2"))
    assert not fresh.pages_enabled(fresh.get_repo("task"))


def test_wait_for_workflow(forge: LocalForge) -> None:
    repo = forge.create_repo("wf", "d")
    with pytest.raises(WorkflowNotRegistered):
        forge.wait_for_workflow(repo, "llm-deploy.yml", timeout=0.1)
    forge.commit_files(repo, {".github/workflows/llm-deploy.yml": b"on: push\n"}, "wf")
    forge.wait_for_workflow(repo, "llm-deploy.yml", timeout=1)


class _Runner:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, str], int]] = []
        self.done = threading.Event()

    def allocate_run_id(self) -> int:
        return 7

    def run(self, repo: str, wf: str, inputs: dict[str, str], *, run_id: int) -> Any:
        self.calls.append((repo, wf, inputs, run_id))
        self.done.set()


def test_dispatch_hands_the_run_to_the_runner(tmp_path: Path) -> None:
    runner = _Runner()
    forge = LocalForge(tmp_path, public_url=URL, runner=runner)
    repo = forge.create_repo("d", "d")
    dispatch = forge.dispatch(repo, "llm-deploy.yml", {"payload": "x"})
    assert dispatch.run_id == 7 and dispatch.run_url == f"{URL}/runs/7"
    assert runner.done.wait(5)
    assert runner.calls == [("d", "llm-deploy.yml", {"payload": "x"}, 7)]


def test_concurrent_commits_all_land(forge: LocalForge, tmp_path: Path) -> None:
    repo = forge.create_repo("busy", "d")
    threads = [
        threading.Thread(target=forge.commit_files, args=(repo, {f"f{i}": b"x"}, f"c{i}"))
        for i in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    work = _clone(repo.html_url, tmp_path / "c")
    assert sorted(p.name for p in work.iterdir() if p.name != ".git") == [f"f{i}" for i in range(8)]


# -- local Pages -------------------------------------------------------------------------------
@pytest.fixture
def site(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / ".git").mkdir()
    (src / ".git" / "config").write_text("secret")
    (src / "index.html").write_text("<h1>home</h1>")
    (src / "sub" / "index.html").write_text("<p>sub</p>")
    (src / "app.js").write_text("1")
    (src / "link").symlink_to("/etc/hostname")
    (tmp_path / "outside.txt").write_text("private")
    data = tmp_path / "data"
    staged = tmp_path / "staged"
    assert stage_artifact(src, staged) == 3
    publish_site(data, "app", staged, "1")
    return data


@pytest.fixture
def server(site: Path) -> Iterator[str]:
    with serve(pages_app(site)) as base:
        yield base


def _raw_get(base: str, path: str) -> tuple[int, dict[str, str], str]:
    """GET without client-side URL normalisation, so '..' reaches the server as sent."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body.decode()


@pytest.mark.parametrize(
    ("path", "status", "body", "ctype"),
    [
        ("/pages/app/", 200, "<h1>home</h1>", "text/html"),
        ("/pages/app/index.html", 200, "<h1>home</h1>", "text/html"),
        ("/pages/app/sub/", 200, "<p>sub</p>", "text/html"),
        ("/pages/app/app.js", 200, "1", "javascript"),
        ("/pages/app/missing.html", 404, None, None),
        ("/pages/app/.git/config", 404, None, None),
        ("/pages/app/link", 404, None, None),
        ("/pages/app/../../outside.txt", 404, None, None),
        ("/pages/app/%2e%2e/%2e%2e/outside.txt", 404, None, None),
        ("/pages/app/..%2f..%2foutside.txt", 404, None, None),
        ("/pages/.versions/", 404, None, None),
        ("/pages/nope/", 404, None, None),
        ("/runs/99", 404, None, None),
    ],
    ids=[
        "root",
        "index",
        "subdir",
        "js",
        "missing",
        "dot-git",
        "symlink",
        "traversal",
        "encoded-traversal",
        "encoded-slash",
        "versions-dir",
        "no-site",
        "no-run",
    ],
)
def test_pages_app(
    server: str, path: str, status: int, body: str | None, ctype: str | None
) -> None:
    code, headers, text = _raw_get(server, path)
    assert code == status
    assert "no-cache" in headers["cache-control"]
    assert "private" not in text
    if body is not None:
        assert text == body and ctype in headers["content-type"]


def test_pages_redirects_to_folder_and_republishes(server: str, site: Path, tmp_path: Path) -> None:
    new = tmp_path / "v2"
    new.mkdir()
    (new / "index.html").write_text("<h1>v2</h1>")
    publish_site(site, "app", new, "2")
    with httpx.Client(base_url=server) as client:
        redirect = client.get("/pages/app")
        page = client.get("/pages/app/")
    assert redirect.status_code == 307 and redirect.headers["location"] == "/pages/app/"
    assert page.text == "<h1>v2</h1>"
