"""action/install.py: cache keys, the uv pin, the locks, and real installs into a temp tool cache.

uv is served from a package index on 127.0.0.1 (a simple-index folder behind http.server; the real
uv binary of the test venv, zipped the way the package index ships it), and pip is pointed at it
with PIP_INDEX_URL and no other configuration, so no test here reaches a real index: the fake
Action's lock is empty.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import re
import subprocess
import threading
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import pytest
import uv
from packaging.requirements import Requirement

from action import install

ROOT = Path(__file__).resolve().parent.parent
LOCKS = ROOT / "action" / "locks"


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
        sha, wheel = pin
        assert re.fullmatch(r"[0-9a-f]{64}", sha)
        assert re.fullmatch(r"uv-\d+\.\d+\.\d+-py3-none-[a-z0-9_.]+\.whl", wheel), wheel


def test_the_uv_lock_names_files_not_places() -> None:
    """pip finds the wheel on whatever index it is configured with; the lock names no server."""
    text = (LOCKS / "uv.txt").read_text()
    assert "/" not in text  # no URL, no path: file names only


def test_the_test_extra_pins_the_locked_uv() -> None:
    """The uv the tests run is the uv the Action installs, so a uv upgrade moves both."""
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    pins = [Requirement(r) for r in extra["test"] if Requirement(r).name == "uv"]
    assert [str(p.specifier) for p in pins] != [] and len(pins) == 1
    versions = {
        line.split()[3].split("-")[1]
        for line in (LOCKS / "uv.txt").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert {str(pins[0].specifier)} == {f"=={v}" for v in versions}
    assert metadata.version("uv") == versions.pop()  # the venv holds it: `pip install -e '.[test]'`


def test_uv_pin_skips_comments_and_short_lines() -> None:
    pins = "# Linux x86_64 aa x.whl\nLinux x86_64\nLinux x86_64 bb uv-1.2.3-py3-none-any.whl\n"
    assert install.uv_pin(pins, "Linux", "x86_64") == ("bb", "uv-1.2.3-py3-none-any.whl")


@pytest.mark.parametrize(
    ("wheel", "line"),
    [
        ("uv-0.13.9-py3-none-macosx_11_0_arm64.whl", "uv==0.13.9 --hash=sha256:ab\n"),
        ("uv-1.0.0-py3-none-any.whl", "uv==1.0.0 --hash=sha256:ab\n"),
    ],
    ids=["platform-wheel", "any-wheel"],
)
def test_wheel_requirement_pins_the_version_and_the_hash(wheel: str, line: str) -> None:
    assert install.wheel_requirement("ab", wheel) == line


@pytest.mark.parametrize(
    ("wheel", "argv"),
    [
        (
            "uv-0.13.9-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            "--implementation py --abi none"
            " --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64",
        ),
        (
            "uv-0.13.9-py3-none-manylinux_2_17_aarch64.manylinux2014_aarch64"
            ".musllinux_1_1_aarch64.whl",
            "--implementation py --abi none --platform manylinux_2_17_aarch64"
            " --platform manylinux2014_aarch64 --platform musllinux_1_1_aarch64",
        ),
        (
            "uv-0.13.9-py3-none-macosx_11_0_arm64.whl",
            "--implementation py --abi none --platform macosx_11_0_arm64",
        ),
        ("uv-1.0.0-py3-none-any.whl", "--implementation py --abi none --platform any"),
        (
            "x-1.0-cp312-cp312-manylinux_2_28_x86_64.whl",
            "--implementation cp --abi cp312 --platform manylinux_2_28_x86_64",
        ),
    ],
    ids=["linux-x64", "linux-arm64-three-tags", "macos", "any", "cpython-wheel"],
)
def test_wheel_target_tells_pip_the_wheels_own_tags(wheel: str, argv: str) -> None:
    assert install.wheel_target(wheel) == argv.split()


def test_every_shipped_uv_wheel_gives_pip_a_target() -> None:
    """Each pinned wheel's file name parses, so pip is never asked about the interpreter."""
    for line in (LOCKS / "uv.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            argv = install.wheel_target(line.split()[3])
            assert argv[:4] == ["--implementation", "py", "--abi", "none"]
            assert argv.count("--platform") >= 1 and "any" not in argv


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


def uv_wheel(
    folder: Path, version: str = "0.0.0", with_uv: bool = True, binary: bytes | None = None
) -> tuple[str, str]:
    """The test venv's uv (or other bytes in its place) zipped like the package index's wheel:
    (file name, sha256)."""
    name = f"uv-{version}-py3-none-any.whl"
    info = f"uv-{version}.dist-info"
    with zipfile.ZipFile(folder / name, "w") as wheel:
        wheel.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: uv\nVersion: {version}\n")
        tags = "Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: py3-none-any\n"
        wheel.writestr(f"{info}/WHEEL", tags)
        wheel.writestr(f"{info}/RECORD", "")
        if binary is not None:
            wheel.writestr(f"uv-{version}.data/scripts/uv", binary)
        elif with_uv:
            wheel.write(uv.find_uv_bin(), f"uv-{version}.data/scripts/uv")
    return name, hashlib.sha256((folder / name).read_bytes()).hexdigest()


@dataclass
class Index:
    """A package index on 127.0.0.1 that pip is configured to use, and the paths it served."""

    url: str
    files: Path
    seen: list[str] = field(default_factory=list)

    def publish(
        self, version: str = "0.0.0", with_uv: bool = True, binary: bytes | None = None
    ) -> tuple[str, str]:
        """Add a uv wheel to the index; its (file name, sha256)."""
        name, sha = uv_wheel(self.files, version, with_uv, binary)
        links = "".join(
            f'<a href="../../files/{w.name}#sha256={hashlib.sha256(w.read_bytes()).hexdigest()}">'
            f"{w.name}</a>\n"
            for w in sorted(self.files.iterdir())
        )
        page = self.files.parent / "simple" / "uv" / "index.html"
        page.write_text(f"<!DOCTYPE html><html><body>\n{links}</body></html>\n")
        return name, sha


@pytest.fixture
def index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Index]:
    """A simple index on 127.0.0.1 as pip's only source: this machine's pip settings are off."""
    root = tmp_path / "www"
    (root / "simple" / "uv").mkdir(parents=True)
    (root / "files").mkdir()
    served = Index(url="", files=root / "files")

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(root), **kwargs)  # type: ignore[arg-type]

        def log_message(self, *args: object) -> None:
            served.seen.append(self.path)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    served.url = f"http://127.0.0.1:{server.server_address[1]}/simple/"
    for name in [n for n in os.environ if n.startswith("PIP_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)  # pip then reads no configuration file
    monkeypatch.setenv("PIP_INDEX_URL", served.url)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()


def test_fetch_uv_takes_the_pinned_wheel_from_pips_index_once(tmp_path: Path, index: Index) -> None:
    wheel, sha = index.publish()
    downloads = tmp_path / "downloads"
    binary = install.fetch_uv(downloads, sha, wheel)
    assert subprocess.run(
        [binary, "--version"], capture_output=True, text=True, check=True
    ).stdout.startswith("uv ")
    assert "/simple/uv/" in index.seen and f"/files/{wheel}" in index.seen
    assert sorted(p.name for p in binary.parent.iterdir()) == ["uv"]  # no wheel kept beside it
    before = list(index.seen)
    assert install.fetch_uv(downloads, sha, wheel) == binary
    assert index.seen == before  # the second call reuses the checked binary


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"sha256": "0" * 64}, "Could not fetch uv: pip could not download"),
        ({"wheel": "uv-0.0.1-py3-none-any.whl"}, "Could not fetch uv: pip could not download"),
        (
            {"wheel": "uv-0.0.0-py3-none-manylinux_2_17_x86_64.whl"},
            "pip did not download the pinned uv-0.0.0-py3-none-manylinux_2_17_x86_64.whl",
        ),
    ],
    ids=["wrong-sha", "version-not-on-index", "other-file-than-pinned"],
)
def test_fetch_uv_refuses_what_the_lock_does_not_pin(
    tmp_path: Path, index: Index, change: dict[str, str], error: str
) -> None:
    wheel, sha = index.publish()
    pin = {"sha256": sha, "wheel": wheel, **change}
    downloads = tmp_path / "downloads"
    with pytest.raises(install.InstallError, match=error):
        install.fetch_uv(downloads, **pin)
    assert list(downloads.iterdir()) == []  # nothing half-fetched is left behind


def test_fetch_uv_refuses_a_wheel_without_uv(tmp_path: Path, index: Index) -> None:
    wheel, sha = index.publish(with_uv=False)
    with pytest.raises(install.InstallError, match=f"Could not unpack uv from {wheel}"):
        install.fetch_uv(tmp_path / "downloads", sha, wheel)
    assert list((tmp_path / "downloads").iterdir()) == []


@pytest.mark.parametrize(
    ("binary", "error"),
    [
        (b"\x7fELF not a program for this machine", r"does not run on this machine: .*Exec format"),
        (b"#!/bin/sh\nexit 3\n", r"does not run on this machine \(exit 3\)"),
    ],
    ids=["cannot-start", "exits-non-zero"],
)
def test_fetch_uv_refuses_a_uv_that_does_not_run_here(
    tmp_path: Path, index: Index, binary: bytes, error: str
) -> None:
    """pip is told the wheel's tags, not this machine's, so uv itself must show it runs here
    (a manylinux uv in a musl container) before it is kept for later runs."""
    wheel, sha = index.publish(binary=binary)
    with pytest.raises(install.InstallError, match=error):
        install.fetch_uv(tmp_path / "downloads", sha, wheel)
    assert list((tmp_path / "downloads").iterdir()) == []  # nothing kept to fail again


def test_download_wheel_checks_the_hash_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lock decides which uv runs, not pip's configuration: a file with another sha256 is
    refused even when pip (here a stand-in that ignores --require-hashes) reports success."""
    wheel, argvs = "uv-0.0.0-py3-none-any.whl", []

    def careless_pip(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[bytes]:
        argvs.append(argv)
        (tmp_path / wheel).write_bytes(b"some other file")
        return subprocess.CompletedProcess(argv, 0)

    monkeypatch.setattr(install.subprocess, "run", careless_pip)
    with pytest.raises(install.InstallError, match="does not match its pinned sha256"):
        install.download_wheel(tmp_path, "0" * 64, wheel)
    [argv] = argvs
    assert argv[1:4] == ["-m", "pip", "download"] and "--require-hashes" in argv
    assert argv[argv.index("--platform") + 1] == "any"


def test_run_turns_a_missing_program_into_an_install_error(tmp_path: Path) -> None:
    with pytest.raises(install.InstallError, match="uv could not be started"):
        install.run([str(tmp_path / "uv"), "venv"], tmp_path, {})


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


def test_install_with_uv_links_the_action_and_reuses_the_venv(
    tmp_path: Path, index: Index, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheel, sha = index.publish()
    system, machine = install.platform.system(), install.platform.machine()
    action = fake_action(tmp_path / "checkout", f"{system} {machine} {sha} {wheel}\n")
    home = tmp_path / "tool-cache" / "llm-deploy"
    python = install.install(action, home, verify=True, installer="uv")
    assert where(python, tmp_path) == str(action / "action" / "__init__.py")
    assert python.parent.parent.name.endswith("-verify")
    assert not (python.parent / "pip").exists()  # uv's venv, not pip's
    assert (home / "downloads" / "uv-cache").is_dir()  # what actions/cache saves and restores
    assert (home / "downloads" / f"uv-{sha[:16]}" / "uv").is_file()  # ... with uv itself
    assert not list(home.glob("*.tmp.*"))
    # A second run reuses the venv; the base lock gets a venv of its own, with the same uv.
    monkeypatch.setattr(install, "build", lambda *a: pytest.fail("rebuilt an existing venv"))
    assert install.install(action, home, verify=True, installer="uv") == python
    monkeypatch.undo()
    fetched = index.seen.count(f"/files/{wheel}")
    base = install.install(action, home, verify=False, installer="uv")
    assert base != python and where(base, tmp_path) == where(python, tmp_path)
    assert index.seen.count(f"/files/{wheel}") == fetched == 1


def test_install_falls_back_to_pip_without_a_uv_for_the_platform(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    action = fake_action(tmp_path / "checkout", "# no uv pinned\n")
    python = install.install(action, tmp_path / "home", verify=False)
    assert "Falling back to pip" in capsys.readouterr().out
    assert (python.parent / "pip").exists()  # pip's venv, not uv's
    assert where(python, tmp_path) == str(action / "action" / "__init__.py")


def test_install_falls_back_to_pip_when_uv_does_not_run_here(
    tmp_path: Path, index: Index, capsys: pytest.CaptureFixture[str]
) -> None:
    wheel, sha = index.publish(binary=b"\x7fELF not a program for this machine")
    system, machine = install.platform.system(), install.platform.machine()
    action = fake_action(tmp_path / "checkout", f"{system} {machine} {sha} {wheel}\n")
    python = install.install(action, tmp_path / "home", verify=False)
    out = capsys.readouterr().out
    assert "does not run on this machine" in out and "Falling back to pip" in out
    assert (python.parent / "pip").exists()  # pip's venv, not uv's
    assert where(python, tmp_path) == str(action / "action" / "__init__.py")


@pytest.mark.parametrize("installer", ["uv", "auto"])
def test_install_without_the_pinned_uv_on_the_index(
    tmp_path: Path, index: Index, installer: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Forced to uv, the install fails plainly; otherwise pip installs the same lock."""
    system, machine = install.platform.system(), install.platform.machine()
    wheel = "uv-0.0.0-py3-none-any.whl"  # never published
    action = fake_action(tmp_path / "checkout", f"{system} {machine} {'0' * 64} {wheel}\n")
    home = tmp_path / "home"
    if installer == "uv":
        with pytest.raises(install.InstallError, match="Could not fetch uv"):
            install.install(action, home, verify=False, installer=installer)
        assert sorted(p.name for p in home.iterdir()) == [".install.lock", "downloads"]
    else:
        python = install.install(action, home, verify=False, installer=installer)
        assert "Falling back to pip" in capsys.readouterr().out
        assert (python.parent / "pip").exists()
    assert "/simple/uv/" in index.seen  # it was asked for


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
