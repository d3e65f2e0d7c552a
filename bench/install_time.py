"""Print how long installing the Action takes on a fresh runner: today's pip path, uv cold and warm.

    python bench/install_time.py [--runs 3] [--python PYTHON] [--base] [--keep]
                                 [--only uv-cold --only uv-warm ...]

Every timed run starts from nothing the previous run left: a fresh copy of the Action's sources,
a new, empty tool cache and, for pip, an empty pip cache and no pip configuration (so this
machine's local wheel folders are not used). Downloads come from the package index pip and uv use
by default, through this machine's network access. Variants, each for `[verify]` (the Action's
default; `--base` adds the plain install):

- pip, before: what action.yml did before the lock: `python -m venv` then `pip install
  <action path>[verify]`, resolving from the index and building the Action's own wheel.
- pip, lock: action/install.py forced to its pip fallback (`python -m venv`, `pip install
  --require-hashes -r action/locks/verify.txt`, the Action linked by a .pth file).
- uv, cold: action/install.py as action.yml runs it on a fresh runner with no Actions cache
  entry: the base interpreter's `pip download` of the pinned uv wheel (sha256-checked), `uv venv`,
  `uv pip install` from the index.
- uv, warm: the same with the tool cache's `llm-deploy/downloads` folder (uv and its download
  cache) copied in from an earlier, untimed run, as actions/cache restores it. The restore
  itself is not timed (it happens on GitHub's side); nor is the copy.

Printed: the base interpreter and its pip (pip's version changes how long uv's download takes),
the load average before and after, each run's seconds and venv size, and the median per variant.
`--only` picks variants by slug (pip-before, pip-lock, uv-cold, uv-warm) for a quicker run. No
target is set here: the script prints figures, not a verdict.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What a checkout of the Action must hold for `pip install` to build it (see pyproject.toml).
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "action", "receiver")
# What the base interpreter says about itself: path, version and its pip's version.
INTERPRETER = "sys._base_executable, sys.version.split()[0], 'pip', pip.__version__"


def copy_sources(dest: Path) -> Path:
    """The Action's files, without caches or build leftovers (as a fresh checkout has them)."""
    junk = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
    for name in SOURCES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=junk)
        else:
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


def clean_env(scratch: Path) -> dict[str, str]:
    """No pip or uv settings of this machine, an empty pip cache; PIP_CERT (CA bundle) kept."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "LLMD_"))}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_CACHE_DIR=str(scratch / "pip-cache"))
    if "PIP_CERT" in os.environ:
        env["PIP_CERT"] = os.environ["PIP_CERT"]
    return env


def pip_before(python: str, scratch: Path, verify: bool) -> Path:
    """The venv step as it was: python -m venv, then pip install <checkout>[verify]."""
    src = copy_sources(scratch / "checkout")
    venv, env = scratch / "venv", clean_env(scratch)
    subprocess.run([python, "-m", "venv", str(venv)], check=True, env=env, cwd=scratch)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    target = f"{src}[verify]" if verify else str(src)
    subprocess.run([*pip, "--disable-pip-version-check", target], check=True, env=env, cwd=scratch)
    return venv


def installer(python: str, scratch: Path, verify: bool, how: str) -> Path:
    """action/install.py's `install`, as action.yml runs it, into a new tool cache."""
    src = copy_sources(scratch / "checkout")
    out = scratch / "github-output"
    env = clean_env(scratch) | {
        "LLMD_ACTION_PATH": str(src),
        "LLMD_TOOL_CACHE": str(scratch / "tool-cache"),
        "LLMD_VERIFY": "true" if verify else "false",
        "LLMD_INSTALLER": how,
        "GITHUB_OUTPUT": str(out),
    }
    script = src / "action" / "install.py"
    done = subprocess.run(
        [python, "-I", str(script), "install"], env=env, cwd=scratch, capture_output=True, text=True
    )
    if done.returncode:
        print(done.stdout + done.stderr, file=sys.stderr)
        raise subprocess.CalledProcessError(done.returncode, done.args)
    return Path(out.read_text().strip().split("=", 1)[1]).parents[1]


Timed = tuple[Path, float]  # (venv, seconds)


def timed(install: Callable[[], Path]) -> Timed:
    """Run an install; the venv and the seconds it took."""
    started = time.monotonic()
    venv = install()
    return venv, time.monotonic() - started


def run_pip_before(python: str, scratch: Path, verify: bool, downloads: Path) -> Timed:
    """Today's pip path (before the lock), cold from the index."""
    return timed(lambda: pip_before(python, scratch, verify))


def run_pip_lock(python: str, scratch: Path, verify: bool, downloads: Path) -> Timed:
    """The installer's pip fallback, cold from the index."""
    return timed(lambda: installer(python, scratch, verify, "pip"))


def run_uv_cold(python: str, scratch: Path, verify: bool, downloads: Path) -> Timed:
    """The installer with uv on an empty tool cache: uv and every wheel from the package index."""
    return timed(lambda: installer(python, scratch, verify, "uv"))


def run_uv_warm(python: str, scratch: Path, verify: bool, downloads: Path) -> Timed:
    """The installer with uv after the downloads folder was restored (the copy is not timed)."""
    shutil.copytree(downloads, scratch / "tool-cache" / "llm-deploy" / "downloads")
    return timed(lambda: installer(python, scratch, verify, "uv"))


VARIANTS: list[tuple[str, Callable[[str, Path, bool, Path], Timed]]] = [
    ("pip, before", run_pip_before),
    ("pip, lock", run_pip_lock),
    ("uv, cold", run_uv_cold),
    ("uv, warm", run_uv_warm),
]


def slug(name: str) -> str:
    """A variant's name as --only spells it: "uv, cold" -> "uv-cold"."""
    return name.replace(", ", "-")


def disk_usage(path: Path) -> int:
    """Bytes of the regular files under path (symlinks not followed, hard links counted each)."""
    return sum(f.lstat().st_size for f in path.rglob("*") if not f.is_symlink() and f.is_file())


def loadavg() -> str:
    """The first three fields of /proc/loadavg, or a dash where there is none."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "-"


def main(argv: list[str] | None = None) -> int:
    """Time every variant and print a table; 0 unless an install fails."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--python", default=sys.executable, help="the base interpreter")
    parser.add_argument("--base", action="store_true", help="time the install without [verify]")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir and print its path")
    parser.add_argument(
        "--only",
        action="append",
        choices=[slug(name) for name, _ in VARIANTS],
        help="time only this variant (repeatable); all four by default",
    )
    args = parser.parse_args(argv)
    variants = [(n, v) for n, v in VARIANTS if not args.only or slug(n) in args.only]
    python: str = args.python
    tmp = Path(tempfile.mkdtemp(prefix="llmd-install-"))
    version = subprocess.run(
        [python, "-c", f"import sys, pip; print({INTERPRETER})"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    print(f"python: {version}")
    print(f"load average at start: {loadavg()}")
    try:
        for verify in (True, False) if args.base else (True,):
            suffix = "[verify]" if verify else ""
            seed = tmp / f"seed{suffix}"  # the downloads an earlier run left, for "uv, warm"
            installer(python, seed, verify, "uv")
            downloads = seed / "tool-cache" / "llm-deploy" / "downloads"
            print(
                f"downloads folder (what actions/cache keeps): {disk_usage(downloads) / 1e6:.0f} MB"
            )

            print(f"{'variant':24} {'run':>3} {'seconds':>8} {'venv MB':>8}")
            for name, variant in variants:
                label, totals = f"{name} {suffix}", []
                for run in range(1, args.runs + 1):
                    scratch = tmp / f"{slug(name)}{suffix}-{run}"
                    scratch.mkdir()
                    try:
                        venv, seconds = variant(python, scratch, verify, downloads)
                    except subprocess.CalledProcessError as exc:
                        print(f"{label}: run {run} failed (exit {exc.returncode})", file=sys.stderr)
                        return 1
                    totals.append(seconds)
                    size = disk_usage(venv) / 1e6
                    print(f"{label:24} {run:>3} {seconds:>8.2f} {size:>8.1f}")
                print(
                    f"{label:24} median of {len(totals)}: {statistics.median(totals):.2f} s"
                    f" (min {min(totals):.2f}, max {max(totals):.2f})"
                )
    finally:
        print(f"load average at end: {loadavg()}")
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
