"""The file writer: hostile paths are refused with reasons; allowed files land atomically."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from action.boilerplate import ensure_license, ensure_readme
from action.errors import ActionError, AttachmentError
from action.job import Attachment
from action.writer import (
    WORKFLOW_REASON,
    WriteResult,
    check_path,
    ensure_attachments,
    write_files,
)


def snapshot(top: Path) -> dict[str, str]:
    """Every entry under top, never following symlinks: kind plus content hash or link target."""
    state: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = path.lstat()
            key = str(path.relative_to(top))
            if stat.S_ISLNK(st.st_mode):
                state[key] = "link:" + os.readlink(path)
            elif stat.S_ISDIR(st.st_mode):
                state[key] = "dir"
            elif stat.S_ISREG(st.st_mode):
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                state[key] = f"file:{oct(st.st_mode)}:{digest}"
            else:
                state[key] = f"other:{oct(st.st_mode)}"
    return state


@pytest.mark.parametrize(
    ("path", "normal", "refused"),
    [
        ("index.html", "index.html", None),
        ("./a//b/./c.js", "a/b/c.js", None),
        ("../x", "../x", "'..'"),
        ("a/../../x", "a/../../x", "'..'"),
        ("/etc/passwd", "/etc/passwd", "absolute"),
        ("C:/x", "C:/x", "drive"),
        ("a\\b", "a\\b", "backslash"),
        ("a\x00b", "a\x00b", "NUL"),
        (".git/config", ".git/config", ".git"),
        (".GIT/hooks/x", ".GIT/hooks/x", ".git"),
        ("sub/.Git/x", "sub/.Git/x", ".git"),
        (".git./x", ".git./x", ".git"),
        (".gitignore", ".gitignore", None),
        ("", "", "empty"),
        ("./", "./", "root"),
    ],
    ids=[
        "plain",
        "normalised",
        "dotdot",
        "deep-dotdot",
        "absolute",
        "drive",
        "backslash",
        "nul",
        "git",
        "git-upper",
        "git-deep",
        "git-trailing-dot",
        "gitignore",
        "empty",
        "root",
    ],
)
def test_check_path(path: str, normal: str, refused: str | None) -> None:
    got_path, reason = check_path(path)
    assert got_path == normal
    if refused is None:
        assert reason is None
    else:
        assert reason is not None and refused in reason


def test_hostile_answer_writes_only_the_allowed_files(tmp_path: Path) -> None:
    root, outside = tmp_path / "repo", tmp_path / "outside"
    (root / ".git").mkdir(parents=True)
    (root / ".git" / "config").write_text("[core]\n")
    outside.mkdir()
    (outside / "secret.txt").write_text("keep me")
    (root / "link").symlink_to(outside)
    (root / "target.txt").symlink_to(outside / "secret.txt")
    (root / "uid.txt").write_bytes(b"12345\n")
    (root / "sub").mkdir()
    (root / "sub" / "inner").symlink_to(outside)
    etc_before = hashlib.sha256(Path("/etc/passwd").read_bytes()).hexdigest()
    before = snapshot(tmp_path)

    allowed: dict[str, str | bytes] = {
        "index.html": "<h1>ok</h1>\n",
        "assets/js/app.js": "console.log(1)\n",
        "data.bin": b"\x00\x01",
        "copy.txt": b"12345\n",
        ".github/ISSUE_TEMPLATE.md": "ok\n",
    }
    hostile: dict[str, str | bytes] = {
        "../x": "escape",
        "/etc/passwd": "root::0:0::/:/bin/sh\n",
        ".git/config": "[core]\n\thooksPath = /tmp\n",
        ".GIT/hooks/x": "#!/bin/sh\n",
        ".github/workflows/x.yml": "on: push\n",
        ".github/workflows/llm-deploy.yml": "on: push\n",
        "big.bin": b"\x00" * 50_000_000,
        "link/evil": "evil",
        "sub/inner/evil": "evil",
        "target.txt": "overwritten",
        "uid.txt": b"99999\n",
        "C:\\win.txt": "x",
    }
    result = write_files(
        root, {**hostile, **allowed}, protected={"uid.txt": b"12345\n", "copy.txt": b"12345\n"}
    )

    assert sorted(result.written) == sorted(allowed)
    assert sorted(p for p, _ in result.refused) == sorted(hostile)
    assert all(reason for _, reason in result.refused)
    reasons = dict(result.refused)
    assert "GITHUB_TOKEN" in reasons[".github/workflows/x.yml"]
    assert "push-token" in reasons[".github/workflows/x.yml"]
    assert "own workflow" in reasons[".github/workflows/llm-deploy.yml"]
    assert "50000000 bytes" in reasons["big.bin"]
    assert "symlink" in reasons["link/evil"] and "symlink" in reasons["sub/inner/evil"]
    assert "symlink" in reasons["target.txt"]
    assert "byte-for-byte" in reasons["uid.txt"]

    after = snapshot(tmp_path)
    assert {k: v for k, v in after.items() if not k.startswith("repo/")} == {
        k: v for k, v in before.items() if not k.startswith("repo/")
    }
    changed = {k for k in after.keys() | before.keys() if after.get(k) != before.get(k)}
    assert changed == {f"repo/{p}" for p in allowed} | {
        "repo/assets",
        "repo/assets/js",
        "repo/.github",
    }
    assert (root / "data.bin").read_bytes() == b"\x00\x01"
    assert (root / "assets/js/app.js").read_text() == "console.log(1)\n"
    assert hashlib.sha256(Path("/etc/passwd").read_bytes()).hexdigest() == etc_before


def test_workflows_allowed_when_asked_but_never_our_own(tmp_path: Path) -> None:
    result = write_files(
        tmp_path,
        {".github/workflows/ci.yml": "on: push\n", ".GitHub/Workflows/LLM-Deploy.yml": "x"},
        allow_workflows=True,
    )
    assert result.written == [".github/workflows/ci.yml"]
    assert [p for p, _ in result.refused] == [".GitHub/Workflows/LLM-Deploy.yml"]
    assert any("workflow" in note for note in result.notes)
    assert "GITHUB_TOKEN" in WORKFLOW_REASON


@pytest.mark.parametrize(
    ("setup", "files", "refused_word"),
    [
        (lambda r: (r / "a").write_text("file"), {"a/b.txt": "x"}, "not a directory"),
        (lambda r: (r / "d").mkdir(), {"d": "x"}, "not a regular file"),
        (lambda r: os.mkfifo(r / "fifo"), {"fifo": "x"}, "not a regular file"),
        (lambda r: (r / "in").symlink_to(r), {"in/x.txt": "x"}, "symlink"),
        (lambda r: (r / "dangling").symlink_to(r / "nowhere"), {"dangling": "x"}, "symlink"),
    ],
    ids=["file-in-the-way", "dir-at-target", "fifo", "symlink-inside-root", "dangling-link"],
)
def test_unwritable_targets_are_refused(
    tmp_path: Path, setup: Callable[[Path], object], files: dict[str, str], refused_word: str
) -> None:
    setup(tmp_path)
    before = snapshot(tmp_path)
    result = write_files(tmp_path, files)
    assert result.written == []
    assert refused_word in result.refused[0][1]
    assert snapshot(tmp_path) == before


def test_overwrite_is_atomic_and_keeps_the_executable_bit(tmp_path: Path) -> None:
    script = tmp_path / "run.sh"
    script.write_text("old\n")
    script.chmod(0o755)
    inode = script.stat().st_ino
    result = write_files(tmp_path, {"run.sh": "#!/bin/sh\necho new\n", "new.txt": "n"})
    assert result == WriteResult(written=["run.sh", "new.txt"], refused=[], notes=[])
    assert script.read_text() == "#!/bin/sh\necho new\n"
    assert stat.S_IMODE(script.stat().st_mode) == 0o755
    assert script.stat().st_ino != inode  # replaced by rename, not rewritten in place
    assert stat.S_IMODE((tmp_path / "new.txt").stat().st_mode) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.txt", "run.sh"]  # no temp files


def test_root_reached_through_a_symlink_still_works(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    assert write_files(tmp_path / "alias", {"a.txt": "x"}).written == ["a.txt"]
    assert (tmp_path / "real" / "a.txt").read_text() == "x"


def test_ensure_attachments_byte_for_byte(tmp_path: Path) -> None:
    data = bytes(range(256)) * 10_000  # 2.5 MB: over the model-file cap, fine for attachments
    written = ensure_attachments(
        tmp_path, [Attachment("uid.txt", b"8172\n"), Attachment("../sheet.xlsx", data)]
    )
    assert written == ["uid.txt", "sheet.xlsx"]
    assert (tmp_path / "uid.txt").read_bytes() == b"8172\n"
    assert (tmp_path / "sheet.xlsx").read_bytes() == data


def test_ensure_attachments_refuses_a_planted_symlink(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("keep")
    root = tmp_path / "repo"
    root.mkdir()
    (root / "uid.txt").symlink_to(outside)
    with pytest.raises(AttachmentError, match=r"uid\.txt"):
        ensure_attachments(root, [Attachment("uid.txt", b"x")])
    assert outside.read_text() == "keep"


@pytest.mark.parametrize(
    ("existing", "written"),
    [
        (None, True),
        ("MIT License\n\nPermission is hereby granted, free of charge ...", False),
        ("Apache License\nVersion 2.0", True),
        ("", True),
    ],
    ids=["missing", "mit", "apache", "empty"],
)
def test_ensure_license(tmp_path: Path, existing: str | None, written: bool) -> None:
    if existing is not None:
        (tmp_path / "LICENSE").write_text(existing)
    assert ensure_license(tmp_path, "Octo  Cat", 2025) is written
    text = (tmp_path / "LICENSE").read_text()
    assert "is hereby granted" in text
    if written:
        assert text.startswith("MIT License") and "Copyright (c) 2025 Octo Cat" in text
    else:
        assert text == existing


def test_ensure_license_never_follows_a_symlink(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("not yours")
    root = tmp_path / "repo"
    root.mkdir()
    (root / "LICENSE").symlink_to(target)
    with pytest.raises(ActionError, match="symlink"):
        ensure_license(root, "x", 2025)
    assert target.read_text() == "not yours"


@pytest.mark.parametrize(
    ("existing", "written"),
    [(None, True), ("# App\n", True), ("# App\n\n" + "Real documentation. " * 20, False)],
    ids=["missing", "stub", "complete"],
)
def test_ensure_readme(tmp_path: Path, existing: str | None, written: bool) -> None:
    (tmp_path / "index.html").write_text("<h1>x</h1>")
    (tmp_path / "data.csv").write_text("a\n1\n")
    (tmp_path / ".hidden").write_text("x")
    if existing is not None:
        (tmp_path / "README.md").write_text(existing)
    assert ensure_readme(tmp_path, "Sales Summary", "Sums the sales in data.csv.") is written
    text = (tmp_path / "README.md").read_text()
    if not written:
        assert text == existing
        return
    assert text.startswith("# Sales Summary\n")
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == ["## Summary", "## Setup", "## Usage", "## Code explanation", "## License"]
    assert "Sums the sales in data.csv." in text
    assert "`index.html`" in text and "`data.csv`: CSV data" in text and "`LICENSE`" in text
    assert ".hidden" not in text
    assert len(text) >= 200
