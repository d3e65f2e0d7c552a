"""The Action repository's files (pure): pins, the bundle, and that pip can install it."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from action.project_file import pyproject_text, split_requires
from receiver.github.action_bundle import blob_sha, build_bundle, load_sources
from receiver.github.pins import repo_of, tag_refs, unpin
from receiver.workflow import pin_uses

SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.mark.parametrize(
    ("line", "pinned"),
    [
        ("    - uses: actions/checkout@v7\n", f"    - uses: actions/checkout@{SHA} # v7\n"),
        ("      uses: actions/setup-python@v7", f"      uses: actions/setup-python@{SHA} # v7"),
        ("  uses: actions/checkout@v7  # why\n", f"  uses: actions/checkout@{SHA} # v7\n"),
        (
            "  uses: github/codeql-action/init@v3\n",
            f"  uses: github/codeql-action/init@{SHA} # v3\n",
        ),
        ("  uses: ./local\n", "  uses: ./local\n"),
        ("  uses: docker://alpine:3\n", "  uses: docker://alpine:3\n"),
        ("  uses: other/thing@v1\n", "  uses: other/thing@v1\n"),  # not in the pins: left alone
        ("  # uses: actions/checkout@v7\n", "  # uses: actions/checkout@v7\n"),
    ],
    ids=["step", "key", "comment", "subfolder", "local", "docker", "unknown", "commented-out"],
)
def test_pin_uses(line: str, pinned: str) -> None:
    pins = {
        "actions/checkout@v7": SHA,
        "actions/setup-python@v7": SHA,
        "github/codeql-action/init@v3": SHA,
    }
    assert pin_uses(line, pins) == pinned
    if "#" not in line:  # a comment of one's own is not restored, the tag is
        assert unpin(pinned) == line


def test_tag_refs_skips_shas_and_duplicates() -> None:
    text = (
        f"- uses: actions/checkout@v7\n- uses: actions/checkout@v7\n"
        f"- uses: me/action@{SHA}\n- uses: ./here\n- uses: a/b/sub@main\n"
    )
    assert tag_refs(text) == ["actions/checkout@v7", "a/b/sub@main"]
    assert repo_of("a/b/sub") == "a/b"


def test_split_requires_keeps_base_and_verify_only() -> None:
    requires = (
        "httpx>=0.27",
        "pynacl>=1.5",
        'playwright>=1.45; extra == "verify"',
        'starlette>=0.37; extra == "receiver"',
        "pytest>=8; extra == 'test'",
    )
    assert split_requires(requires) == (["httpx>=0.27", "pynacl>=1.5"], ["playwright>=1.45"])
    text = pyproject_text("1.2.3", requires)
    assert 'version = "1.2.3"' in text and "starlette" not in text and "pytest" not in text


def test_blob_sha_is_gits() -> None:
    assert blob_sha(b"") == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"  # `git hash-object`
    assert blob_sha(b"hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a"


def test_the_bundle_holds_the_action_and_nothing_else() -> None:
    sources = load_sources()
    files = build_bundle(sources, "me/llm-deploy-action", sources.action_yml)
    assert {
        "action.yml",
        "pyproject.toml",
        "LICENSE",
        "README.md",
        "action/__main__.py",
        "action/py.typed",
        "action/templates/system.j2",
    } <= set(files)
    assert all(
        p.startswith("action/") or p in {"action.yml", "pyproject.toml", "LICENSE", "README.md"}
        for p in files
    )
    assert not any("__pycache__" in p or p.endswith(".pyc") for p in files)
    assert not any(p.startswith(("receiver/", "tests/")) for p in files)
    readme = files["README.md"].decode()
    assert "uses: me/llm-deploy-action@<commit sha of tag v0.1.0>" in readme
    assert "[action.yml](action.yml)" in readme


def test_pip_builds_the_action_from_the_bundle(tmp_path: Path) -> None:
    """What action.yml's install step does: `pip install <github.action_path>`."""
    sources = load_sources()
    root = tmp_path / "action-repo"
    for path, data in build_bundle(sources, "me/llm-deploy-action", sources.action_yml).items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    out = tmp_path / "wheels"
    # With build isolation, as action.yml's install step does (setuptools from the index).
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--wheel-dir",
            str(out),
            str(root),
        ],
        check=True,
        capture_output=True,
        timeout=280,
    )
    (wheel,) = out.glob("llm_deploy_action-0.1.0-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"action/__main__.py", "action/templates/system.j2", "action/py.typed"} <= names
    assert not any(n.startswith("receiver/") for n in names)
    meta = (
        zipfile.ZipFile(wheel)
        .read(next(n for n in names if n.endswith(".dist-info/METADATA")))
        .decode()
    )
    assert "Requires-Dist: httpx>=0.27" in meta and 'extra == "verify"' in meta
