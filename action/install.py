"""Install the Action's dependencies into a private venv, quickly, before anything else runs.

    python <action path>/action/install.py key       # the Actions-cache key and path
    python <action path>/action/install.py install   # the venv; prints its python

action.yml runs this file with the base interpreter, before any dependency exists, so it imports
the standard library only and is run as a script (not as ``action.install``). It installs the
exact, hash-checked versions in ``action/locks/`` (``verify.txt`` adds Playwright) with uv, whose
wheel pip downloads from the package index it is configured to use (PIP_INDEX_URL, pip.conf) and
which is checked against the sha256 pinned in ``action/locks/uv.txt``; it falls back to pip when
uv is unavailable for the platform or cannot be fetched. The Action's own code is not installed:
a ``.pth`` file puts the Action's checkout on the venv's path, which spares building a wheel.

uv and its download cache live in ``<tool cache>/llm-deploy/downloads``, the folder action.yml
restores and saves with ``actions/cache`` under the key printed by ``key``; the venv lives beside
it, keyed by the lock, the interpreter and the Action's path, so a runner that keeps its tool cache
(local mode, self-hosted) builds it once. Installs are serialised by a lock and built aside, then
renamed into place, so concurrent runs never see a half-built venv.

Environment (set by action.yml): LLMD_ACTION_PATH, LLMD_TOOL_CACHE, LLMD_VERIFY ('true' adds
Playwright), LLMD_RUNNER_OS, LLMD_RUNNER_ARCH, and LLMD_INSTALLER (auto, uv or pip; auto unless a
benchmark or test forces one path). Outputs go to $GITHUB_OUTPUT.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

CACHE_FORMAT = "1"  # bump when the layout of the downloads folder changes


class InstallError(Exception):
    """The install cannot go on; the message says what to do. (Not an ActionError: this script
    runs before the Action's package is importable.)"""


def lock_file(action_path: Path, verify: bool) -> Path:
    """The lock of the Action's dependencies, with Playwright when verify is on."""
    return action_path / "action" / "locks" / ("verify.txt" if verify else "base.txt")


def digest(*parts: bytes) -> str:
    """A short, stable hex digest of the parts (length-prefixed, so they cannot run together)."""
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "big") + part)
    return h.hexdigest()[:16]


def action_version(action_path: Path) -> str:
    """The version in the Action's pyproject.toml."""
    return str(
        tomllib.loads((action_path / "pyproject.toml").read_text("utf-8"))["project"]["version"]
    )


def cache_key(
    runner_os: str, arch: str, python: str, version: str, locks: bytes
) -> tuple[str, str]:
    """(key, restore prefix) for actions/cache: one entry per platform, Python, version and lock.

    The prefix lets a new version or lock start from the previous entry's downloads."""
    prefix = f"llm-deploy-install-{CACHE_FORMAT}-{runner_os}-{arch}-py{python}-"
    return f"{prefix}{version}-{digest(locks)}", prefix


def uv_pin(pins: str, system: str, machine: str) -> tuple[str, str] | None:
    """(sha256, wheel file name) of the uv wheel for this platform from uv.txt's lines, or None."""
    for line in pins.splitlines():
        fields = line.split()
        if len(fields) == 4 and not line.startswith("#") and fields[:2] == [system, machine]:
            return fields[2], fields[3]
    return None


def wheel_target(wheel: str) -> list[str]:
    """pip options that describe the platform this wheel was built for, from its file name.

    Told the wheel's own tags (``py3``, ``none``, ``manylinux_2_17_x86_64`` …), pip compares each
    of the ~6,000 files on uv's index page with a handful of tags instead of the several hundred
    the running interpreter supports, and does not probe the interpreter for them. Which file is
    right for this machine was decided by ``uv.txt`` (keyed by system and machine); the hash pin,
    not the tags, decides which file pip takes."""
    python, abi, platforms = wheel.removesuffix(".whl").split("-")[-3:]
    implementation = python.split(".")[0].rstrip("0123456789")  # py3 -> py, cp312 -> cp
    argv = ["--implementation", implementation, "--abi", abi]
    for tag in platforms.split("."):
        argv += ["--platform", tag]
    return argv


def wheel_requirement(sha256: str, wheel: str) -> str:
    """A hash-pinned requirements line for exactly this wheel (its name and version come from
    the file name, as in ``uv-0.13.9-py3-none-….whl``)."""
    name, version = wheel.split("-")[:2]
    return f"{name}=={version} --hash=sha256:{sha256}\n"


def venv_dir(home: Path, lock: bytes, python: str, action_path: Path, verify: bool) -> Path:
    """Where the venv for this lock, interpreter and Action checkout lives."""
    key = digest(lock, python.encode(), sys.version.encode(), str(action_path).encode())
    return home / f"venv-{key}{'-verify' if verify else ''}"


def download_wheel(dest: Path, sha256: str, wheel: str) -> Path:
    """The pinned wheel, downloaded into dest by the base interpreter's pip and checked.

    pip, not urllib: it follows the index, proxy and certificate settings of the runner
    (PIP_INDEX_URL, pip.conf), so no index address is written into the Action. ``--require-hashes``
    makes pip refuse any other file; the sha256 is checked again here because the lock, not pip's
    version or configuration, is what decides which uv runs."""
    requirements = dest / "uv-requirements.txt"
    requirements.write_text(wheel_requirement(sha256, wheel), "utf-8")
    # No -I here: a pip installed in the user's site-packages must still be found. No cache:
    # a fresh runner has none, and writing 18 MB into it costs time no later step gets back.
    argv = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check"]
    argv += ["--no-input", "--no-cache-dir", "--no-deps", "--only-binary=:all:"]
    argv += ["--progress-bar", "off", *wheel_target(wheel)]
    argv += ["--require-hashes", "--dest", str(dest), "-r", str(requirements)]
    done = subprocess.run(argv, cwd=dest, stdin=subprocess.DEVNULL, check=False)
    if done.returncode:
        raise InstallError(
            f"Could not fetch uv: pip could not download {wheel} with its pinned sha256 from its"
            f" package index (exit {done.returncode}; its message is above)."
        )
    path = dest / wheel
    if not path.is_file():
        raise InstallError(f"Could not fetch uv: pip did not download the pinned {wheel}.")
    with path.open("rb") as wheel_file:
        actual = hashlib.file_digest(wheel_file, "sha256").hexdigest()
    if actual != sha256:
        raise InstallError(f"The uv wheel {wheel} does not match its pinned sha256.")
    return path


def fetch_uv(downloads: Path, sha256: str, wheel: str) -> Path:
    """The uv binary of the pinned wheel, downloaded and checked once into downloads."""
    binary = downloads / f"uv-{sha256[:16]}" / "uv"
    if os.access(binary, os.X_OK):
        return binary
    # Imported here: it costs time that a run reusing its venv need not pay.
    import zipfile

    downloads.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="uv-", dir=downloads))
    try:
        path = download_wheel(tmp, sha256, wheel)
        with zipfile.ZipFile(path) as archive:
            member = next(n for n in archive.namelist() if n.endswith(".data/scripts/uv"))
            # Streamed: the binary is ~38 MB, and holding it whole in memory is slower.
            with archive.open(member) as src, (tmp / "uv").open("wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
        (tmp / "uv").chmod(0o755)
        for leftover in (path, tmp / "uv-requirements.txt"):
            leftover.unlink()
        check_runs(tmp / "uv", wheel)
        tmp.rename(binary.parent)  # atomic: a venv is never built with a half-written uv
    except (OSError, StopIteration, zipfile.BadZipFile) as exc:
        raise InstallError(f"Could not unpack uv from {wheel}: {exc}") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return binary


def check_runs(uv: Path, wheel: str) -> None:
    """Refuse a uv binary that does not start here, before it is kept for later runs.

    pip was told the wheel's tags rather than asked what this machine runs (see wheel_target),
    so a manylinux uv can land on a musl system (an Alpine container job); this is where that
    shows, as an InstallError the pip fallback catches rather than an OSError mid-install."""
    try:
        done = subprocess.run(
            [str(uv), "--version"], stdin=subprocess.DEVNULL, capture_output=True, check=False
        )
    except OSError as exc:
        raise InstallError(f"The uv in {wheel} does not run on this machine: {exc}.") from exc
    if done.returncode:
        raise InstallError(
            f"The uv in {wheel} does not run on this machine (exit {done.returncode})."
        )


def run(argv: list[str], cwd: Path, env: dict[str, str]) -> None:
    """Run an installer command; its output goes to the log, a failure becomes an InstallError."""
    try:
        done = subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, check=False)
    except OSError as exc:
        raise InstallError(f"{Path(argv[0]).name} could not be started: {exc}") from exc
    if done.returncode:
        raise InstallError(f"{Path(argv[0]).name} failed (exit {done.returncode}): {argv[1:4]}")


def build_with_uv(uv: Path, venv: Path, lock: Path, downloads: Path) -> None:
    """A venv from the lock with uv: no pip inside, wheels from uv's cache when it has them."""
    # --no-config: the workspace is the generated repo, whose uv settings are not ours to follow.
    env = {
        **os.environ,
        "UV_CACHE_DIR": str(downloads / "uv-cache"),
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_NO_PROGRESS": "1",
        # The system's certificate store, as pip uses: behind a TLS-inspecting proxy uv's own
        # bundled roots fail, and on GitHub's runners the two agree.
        "UV_NATIVE_TLS": os.environ.get("UV_NATIVE_TLS", "1"),
    }
    common = ["--quiet", "--no-config"]
    run([str(uv), "venv", *common, "--python", sys.executable, str(venv)], venv.parent, env)
    python = str(venv / "bin" / "python")
    install = [
        str(uv),
        "pip",
        "install",
        *common,
        "--python",
        python,
        "--require-hashes",
        "-r",
        str(lock),
    ]
    run(install, venv.parent, env)


def build_with_pip(venv: Path, lock: Path) -> None:
    """A venv from the lock with the standard library's venv and pip (slower: pip is copied in)."""
    env = dict(os.environ)
    run([sys.executable, "-m", "venv", str(venv)], venv.parent, env)
    pip = [
        str(venv / "bin" / "python"),
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--require-hashes",
        "-r",
        str(lock),
    ]
    run(pip, venv.parent, env)


def link_action(venv: Path, action_path: Path) -> None:
    """Put the Action's checkout on the venv's path, as an editable install would."""
    for site in venv.glob("lib/python*/site-packages"):
        (site / "llm_deploy_action.pth").write_text(f"{action_path}\n", "utf-8")
        return
    raise InstallError(f"The venv {venv} has no site-packages folder.")


def install(action_path: Path, home: Path, verify: bool, installer: str = "auto") -> Path:
    """The venv's python, building the venv first unless an earlier run left it."""
    lock = lock_file(action_path, verify)
    venv = venv_dir(home, lock.read_bytes(), os.path.realpath(sys.executable), action_path, verify)
    home.mkdir(parents=True, exist_ok=True)
    with open(home / ".install.lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        if os.access(venv / "bin" / "python", os.X_OK):
            print(f"Reusing the llm-deploy venv {venv}", flush=True)
            return venv / "bin" / "python"
        tmp = venv.with_name(f"{venv.name}.tmp.{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            build(action_path, home / "downloads", tmp, lock, installer)
            link_action(tmp, action_path)
            tmp.rename(venv)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return venv / "bin" / "python"


def build(action_path: Path, downloads: Path, venv: Path, lock: Path, installer: str) -> None:
    """Build the venv with uv when possible (unless told pip), else with pip."""
    if installer != "pip":
        pins = (action_path / "action" / "locks" / "uv.txt").read_text("utf-8")
        pin = uv_pin(pins, platform.system(), platform.machine())
        try:
            if pin is None:
                raise InstallError(f"No uv is pinned for {platform.system()} {platform.machine()}.")
            uv = fetch_uv(downloads, *pin)
            print(f"Installing {lock.name} with uv into {venv.name}", flush=True)
            build_with_uv(uv, venv, lock, downloads)
            return
        except InstallError as exc:
            if installer == "uv":
                raise
            print(f"{exc} Falling back to pip.", flush=True)
            shutil.rmtree(venv, ignore_errors=True)
    print(f"Installing {lock.name} with pip into {venv.name}", flush=True)
    build_with_pip(venv, lock)


def write_outputs(values: dict[str, str]) -> None:
    """Append step outputs to $GITHUB_OUTPUT (printed when there is none, e.g. by hand)."""
    lines = "".join(f"{k}={v}\n" for k, v in values.items())
    target = os.environ.get("GITHUB_OUTPUT")
    if target:
        with open(target, "a", encoding="utf-8") as out:
            out.write(lines)
    else:
        print(lines, end="")


def main(argv: list[str] | None = None) -> int:
    """Run `key` or `install` with settings from the environment; 1 with an ::error:: on failure."""
    # No argparse: it pulls in `re` and friends, a cost every run would pay for one word.
    args = sys.argv[1:] if argv is None else argv
    if args not in (["key"], ["install"]):
        print("usage: install.py key|install", file=sys.stderr)
        return 2
    command = args[0]
    action_path = Path(os.environ.get("LLMD_ACTION_PATH") or Path(__file__).resolve().parents[1])
    tool_cache = os.environ.get("LLMD_TOOL_CACHE") or os.environ.get("RUNNER_TOOL_CACHE")
    home = Path(tool_cache or tempfile.gettempdir()) / "llm-deploy"
    verify = os.environ.get("LLMD_VERIFY", "true") == "true"
    try:
        if command == "key":
            locks = lock_file(action_path, verify).read_bytes()
            locks += (action_path / "action" / "locks" / "uv.txt").read_bytes()
            key, prefix = cache_key(
                os.environ.get("LLMD_RUNNER_OS") or platform.system(),
                os.environ.get("LLMD_RUNNER_ARCH") or platform.machine(),
                platform.python_version(),
                action_version(action_path),
                locks,
            )
            write_outputs({"key": key, "restore-key": prefix, "path": str(home / "downloads")})
        else:
            installer = os.environ.get("LLMD_INSTALLER") or "auto"
            python = install(action_path, home, verify, installer)
            write_outputs({"python": str(python)})
    except (InstallError, OSError, KeyError, tomllib.TOMLDecodeError) as exc:
        print(f"::error::Installing llm-deploy failed: {exc}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
