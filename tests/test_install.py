"""action/install.py: cache keys, the uv pin, the locks, and real installs into a temp tool cache.

uv is served as a wheel from an HTTP server on 127.0.0.1 (the real uv binary of the test venv,
zipped the way PyPI ships it), so no test here reaches PyPI: the fake Action's lock is empty.
"""

from __future__ import annotations

import hashlib
import http.server
import re
import shutil
import subprocess
import threading
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from action import install

ROOT = Path(__file__).resolve().parent.parent
LOCKS = ROOT / "action" / "locks"
UV = shutil.which("uv")


@pytest.mark.parametrize(
    ("change", "index"),
    [
        ({"runner_os": "macOS"}, 0),
        ({"arch": "ARM64"}, 1),
        ({"python": "3.12.2"}, 2),
        ({"version": "0.2.0"}, 3),
        ({"locks": b"httpx==0.28.2"}, 4),
    ],
    ids=["os", "arch", "python", "version", "lock"],
)
def test_every_input_of_the_cache_key_changes_it(change: dict[str, object], index: int) -> None:
    base: dict[str, object] = {
        "runner_os": "Linux",
        "arch": "X64",
        "python": "3.12.1",
        "version": "0.1.0",
        "locks": b"httpx==0.28.1",
    }
    key, prefix = install.cache_key(**base)  # type: ignore[arg-type]
    assert re.fullmatch(r"llm-deploy-install-1-Linux-X64-py3\.12\.1-0\.1\.0-[0-9a-f]{16}", key)
    assert key.startswith(prefix) and prefix.endswith("py3.12.1-")
    other, other_prefix = install.cache_key(**{**base, **change})  # type: ignore[arg-type]
    assert other != key
    # The restore prefix spans versions and locks, so a new release starts from old downloads.
    assert (other_prefix == prefix) == (index >= 3)


@pytest.mark.parametrize(
    ("system", "machine", "found"),
    [
        ("Linux", "x86_64", True),
        ("Linux", "aarch64", True),
        ("Darwin", "arm64", True),
        ("Windows", "AMD64", False),
        ("Linux", "riscv64", False),
    ],
    ids=["linux-x64", "linux-arm64", "macos-arm64", "windows", "riscv"],
)
def test_the_shipped_uv_pin(system: str, machine: str, found: bool) -> None:
    pin = install.uv_pin((LOCKS / "uv.txt").read_text(), system, machine)
    assert (pin is not None) == found
    if pin:
        sha, url = pin
        assert re.fullmatch(r"[0-9a-f]{64}", sha)
        assert url.startswith("<the wheel on the package index>") and url.endswith(".whl")


def test_uv_pin_skips_comments_and_short_lines() -> None:
    pins = "# Linux x86_64 aa http://x\nLinux x86_64\nLinux x86_64 bb https://y/uv.whl\n"
    assert install.uv_pin(pins, "Linux", "x86_64") == ("bb", "https://y/uv.whl")


@pytest.mark.parametrize("lock", ["base.txt", "verify.txt"])
def test_locks_pin_every_dependency_with_hashes(lock: str) -> None:
    """Each lock satisfies pyproject.toml and pins every line to one version with hashes."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"])
    if lock == "verify.txt":
        wanted += project["optional-dependencies"]["verify"]
    text = (LOCKS / lock).read_text()
    entries = re.split(r"\n(?=[a-z])", text[text.index("\n", text.index("-o ")) + 1 :].strip())
    pins = {}
    for entry in entries:
        head = entry.split("\\")[0].split(";")[0].strip()
        name, version = head.split("==")
        assert "--hash=sha256:" in entry, name
        pins[name] = version
    for spec in map(Requirement, wanted):
        assert spec.name in pins, spec.name
        assert spec.specifier.contains(pins[spec.name]), (spec.name, pins[spec.name])
    assert ("playwright" in pins) == (lock == "verify.txt")


def uv_wheel(path: Path) -> str:
    """The test venv's uv zipped like PyPI's wheel; its sha256."""
    assert UV
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr("uv-0.0.0.dist-info/METADATA", "Name: uv\n")
        wheel.write(UV, "uv-0.0.0.data/scripts/uv")
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def wheel_server(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """(base URL, paths requested) of a static server on 127.0.0.1 over tmp_path/'www'."""
    root = tmp_path / "www"
    root.mkdir()
    seen: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(root), **kwargs)  # type: ignore[arg-type]

        def log_message(self, *args: object) -> None:
            seen.append(self.path)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.skipif(UV is None, reason="uv is not installed in the test venv")
def test_fetch_uv_checks_the_sha_and_fetches_once(
    tmp_path: Path, wheel_server: tuple[str, list[str]]
) -> None:
    url, seen = wheel_server
    sha = uv_wheel(tmp_path / "www" / "uv.whl")
    downloads = tmp_path / "downloads"
    with pytest.raises(install.InstallError, match="does not match its pinned sha256"):
        install.fetch_uv(downloads, "0" * 64, f"{url}/uv.whl")
    assert list(downloads.iterdir()) == []  # nothing half-fetched is left behind
    with pytest.raises(install.InstallError, match="Could not fetch uv"):
        install.fetch_uv(downloads, sha, f"{url}/missing.whl")
    binary = install.fetch_uv(downloads, sha, f"{url}/uv.whl")
    assert subprocess.run(
        [binary, "--version"], capture_output=True, text=True, check=True
    ).stdout.startswith("uv ")
    assert install.fetch_uv(downloads, sha, f"{url}/uv.whl") == binary
    assert seen.count("/uv.whl") == 2  # the bad-sha try and the first good one; then reused


def fake_action(root: Path, uv_line: str) -> Path:
    """An Action checkout with empty locks, a uv pin and a package that says where it is."""
    (root / "action" / "locks").mkdir(parents=True)
    for lock in ("base.txt", "verify.txt"):
        (root / "action" / "locks" / lock).write_text("# no dependencies\n")
    (root / "action" / "locks" / "uv.txt").write_text(uv_line)
    (root / "action" / "__init__.py").write_text("WHERE = __file__\n")
    (root / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "9.9"\n')
    return root


def where(python: Path, cwd: Path) -> str:
    """Which `action` package the venv's python imports, run from an unrelated folder."""
    return subprocess.run(
        [python, "-c", "import action; print(action.WHERE)"],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


@pytest.mark.skipif(UV is None, reason="uv is not installed in the test venv")
def test_install_with_uv_links_the_action_and_reuses_the_venv(
    tmp_path: Path, wheel_server: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = wheel_server
    sha = uv_wheel(tmp_path / "www" / "uv.whl")
    system, machine = install.platform.system(), install.platform.machine()
    action = fake_action(tmp_path / "checkout", f"{system} {machine} {sha} {url}/uv.whl\n")
    home = tmp_path / "tool-cache" / "llm-deploy"
    python = install.install(action, home, verify=True, installer="uv")
    assert where(python, tmp_path) == str(action / "action" / "__init__.py")
    assert python.parent.parent.name.endswith("-verify")
    assert (home / "downloads" / "uv-cache").is_dir()  # what actions/cache saves and restores
    assert not list(home.glob("*.tmp.*"))
    # A second run reuses the venv; the base lock gets a venv of its own.
    monkeypatch.setattr(install, "build", lambda *a: pytest.fail("rebuilt an existing venv"))
    assert install.install(action, home, verify=True, installer="uv") == python
    monkeypatch.undo()
    base = install.install(action, home, verify=False, installer="uv")
    assert base != python and where(base, tmp_path) == where(python, tmp_path)


def test_install_falls_back_to_pip_without_a_uv_for_the_platform(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    action = fake_action(tmp_path / "checkout", "# no uv pinned\n")
    python = install.install(action, tmp_path / "home", verify=False)
    assert "Falling back to pip" in capsys.readouterr().out
    assert (python.parent / "pip").exists()  # pip's venv, not uv's
    assert where(python, tmp_path) == str(action / "action" / "__init__.py")


def test_install_with_uv_forced_fails_plainly(
    tmp_path: Path, wheel_server: tuple[str, list[str]]
) -> None:
    url, _ = wheel_server
    system, machine = install.platform.system(), install.platform.machine()
    action = fake_action(tmp_path / "checkout", f"{system} {machine} {'0' * 64} {url}/none.whl\n")
    home = tmp_path / "home"
    with pytest.raises(install.InstallError, match="Could not fetch uv"):
        install.install(action, home, verify=False, installer="uv")
    assert sorted(p.name for p in home.iterdir()) == [".install.lock", "downloads"]


def test_main_key_writes_the_cache_outputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "output"
    for name, value in {
        "GITHUB_OUTPUT": str(out),
        "LLMD_ACTION_PATH": str(ROOT),
        "LLMD_TOOL_CACHE": str(tmp_path),
        "LLMD_VERIFY": "false",
        "LLMD_RUNNER_OS": "Linux",
        "LLMD_RUNNER_ARCH": "X64",
    }.items():
        monkeypatch.setenv(name, value)
    assert install.main(["key"]) == 0
    outputs = dict(line.split("=", 1) for line in out.read_text().splitlines())
    assert outputs["path"] == str(tmp_path / "llm-deploy" / "downloads")
    assert outputs["key"].startswith(outputs["restore-key"])
    assert outputs["restore-key"].startswith("llm-deploy-install-1-Linux-X64-py")
    monkeypatch.setenv("LLMD_VERIFY", "true")  # Playwright's lock is a different cache entry
    assert install.main(["key"]) == 0
    assert out.read_text().splitlines()[3] != f"key={outputs['key']}"


@pytest.mark.parametrize("argv", [[], ["keys"], ["key", "install"]], ids=["none", "typo", "two"])
def test_main_refuses_anything_but_one_command(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert install.main(argv) == 2
    assert "usage: install.py key|install" in capsys.readouterr().err
