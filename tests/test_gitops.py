"""gitops against real git: a temp working copy whose origin is a local bare repository."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest

from action import gitops
from action.errors import GitError


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def make_remote(tmp: Path) -> tuple[Path, Path]:
    """A bare origin with one commit on main, and a clone of it."""
    bare = tmp / "origin.git"
    git(tmp, "init", "--quiet", "--bare", "-b", "main", str(bare))
    seed = tmp / "seed"
    git(tmp, "clone", "--quiet", str(bare), str(seed))
    (seed / "README.md").write_text("seed\n")
    gitops.configure_identity(seed)
    git(seed, "checkout", "--quiet", "-b", "main")
    git(seed, "add", "-A")
    git(seed, "commit", "--quiet", "-m", "seed")
    git(seed, "push", "--quiet", "origin", "main")
    work = tmp / "work"
    git(tmp, "clone", "--quiet", str(bare), str(work))
    return bare, work


def test_commit_all_as_the_bot_with_task_and_round(tmp_path: Path) -> None:
    bare, work = make_remote(tmp_path)
    (work / "index.html").write_text("<h1>x</h1>")
    sha = gitops.commit_all(work, gitops.commit_message("Analyze", 1))
    assert git(work, "log", "-1", "--format=%an <%ae>|%s") == (
        f"{gitops.BOT_NAME} <{gitops.BOT_EMAIL}>|llm-deploy: Analyze round 1"
    )
    assert sha == git(work, "rev-parse", "HEAD")
    assert gitops.push(work, "main", log=lambda _m: None) == sha
    assert git(bare, "rev-parse", "main") == sha


def test_push_rebases_when_another_clone_moved_the_branch(tmp_path: Path) -> None:
    bare, work = make_remote(tmp_path)
    other = tmp_path / "other"
    git(tmp_path, "clone", "--quiet", str(bare), str(other))
    (other / "other.txt").write_text("from elsewhere\n")
    gitops.commit_all(other, "someone else")
    gitops.push(other, "main", log=lambda _m: None)

    (work / "index.html").write_text("<h1>mine</h1>")
    first = gitops.commit_all(work, gitops.commit_message("T", 2))
    logs: list[str] = []
    pushed = gitops.push(work, "main", log=logs.append)
    assert pushed != first  # rebased onto the moved branch
    assert git(bare, "rev-parse", "main") == pushed
    assert set(git(bare, "ls-tree", "--name-only", "main").split()) >= {"index.html", "other.txt"}
    assert logs and "rebasing" in logs[0]


def test_push_gives_up_on_a_conflicting_rebase(tmp_path: Path) -> None:
    bare, work = make_remote(tmp_path)
    other = tmp_path / "other"
    git(tmp_path, "clone", "--quiet", str(bare), str(other))
    (other / "README.md").write_text("theirs\n")
    gitops.commit_all(other, "theirs")
    gitops.push(other, "main", log=lambda _m: None)
    (work / "README.md").write_text("ours\n")
    gitops.commit_all(work, "ours")
    with pytest.raises(GitError, match="Could not rebase"):
        gitops.push(work, "main", log=lambda _m: None)
    assert not (work / ".git" / "rebase-merge").exists()


def test_push_token_travels_as_a_header_and_never_in_errors(tmp_path: Path) -> None:
    token = "ghp_supersecret123"
    config = gitops.auth_config("https://github.com/", token)
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    assert config == [
        "http.https://github.com/.extraheader=",
        f"http.https://github.com/.extraheader=AUTHORIZATION: basic {basic}",
    ]
    assert set(gitops.secret_forms(token)) == {token, basic}
    # An unreachable origin: the failure message names git's words, not the token.
    work = tmp_path / "w"
    git(tmp_path, "init", "--quiet", "-b", "main", str(work))
    git(work, "remote", "add", "origin", str(tmp_path / "missing.git"))
    gitops.commit_all(work, "x")
    with pytest.raises(GitError) as caught:
        gitops.push(work, "main", token=token, attempts=2, log=lambda _m: None)
    assert token not in str(caught.value) and basic not in str(caught.value)
    assert "failed after 2 attempts" in str(caught.value)


def test_read_side_file_and_committed_bytes(tmp_path: Path) -> None:
    bare, work = make_remote(tmp_path)
    side = tmp_path / "side"
    git(tmp_path, "clone", "--quiet", str(bare), str(side))
    git(side, "checkout", "--quiet", "--orphan", "llm-deploy-payloads")
    git(side, "rm", "-rfq", ".")
    (side / "payloads").mkdir()
    (side / "payloads" / "d1.txt").write_text("SEALED")
    gitops.commit_all(side, "payload")
    git(side, "push", "--quiet", "origin", "llm-deploy-payloads")
    assert gitops.read_side_file(work, "llm-deploy-payloads:payloads/d1.txt") == "SEALED"
    with pytest.raises(GitError, match="<branch>:<path>"):
        gitops.read_side_file(work, "no-colon")
    sha = git(work, "rev-parse", "HEAD")
    assert gitops.read_committed(work, sha, "README.md") == b"seed\n"
    assert gitops.read_committed(work, sha, "index.html") is None


def test_tracked_text_files_skips_binary_and_untracked(tmp_path: Path) -> None:
    _bare, work = make_remote(tmp_path)
    (work / "app.js").write_text("let x = 1;\n")
    (work / "img.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0")
    (work / ".github" / "workflows").mkdir(parents=True)
    (work / ".github" / "workflows" / "llm-deploy.yml").write_text("on: push\n")
    gitops.commit_all(work, "files")
    (work / "untracked.txt").write_text("new")
    files = gitops.tracked_text_files(work, skip=[".github/workflows/llm-deploy.yml"])
    assert files == {"README.md": "seed\n", "app.js": "let x = 1;\n"}


def test_current_branch_falls_back_on_detached_head(tmp_path: Path) -> None:
    _bare, work = make_remote(tmp_path)
    assert gitops.current_branch(work) == "main"
    git(work, "checkout", "--quiet", "--detach")
    assert gitops.current_branch(work, "fallback") == "fallback"
