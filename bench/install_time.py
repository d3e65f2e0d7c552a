"""Print the time to install the Action into a fresh venv from a local wheel cache.

    python bench/install_time.py [--runs 3] [--python PYTHON] [--keep]

This is what action.yml's `id: venv` step does on a runner without a reusable venv:
`python -m venv` then `pip install <action path>[verify]` (or without the extra when the input
verify is false), with pip's output quiet and its version check off. Here every run is offline, so
the figure leaves the network out: first, untimed, `pip wheel` fills a wheel cache in a temp dir
with the Action's dependencies and the build backend (through pip's normal configuration); then
each timed run creates a new venv and runs `pip install --no-index --find-links <cache>` on a
fresh copy of the repository's sources (the Action's checkout; a copy, so setuptools' in-tree
build never writes into the repo, and each run builds the Action's own wheel from scratch). The
timed pip runs see no pip configuration and an empty pip cache of their own, as on a fresh
runner. Everything lives in one temp dir, removed at the end (unless `--keep`); the repo's .venv
and the runner tool cache are never touched.

Printed per variant (base, `[verify]`): each run's seconds split into venv creation and pip, the
median, and the venv's size on disk. No target is set: the script prints figures, not a verdict.
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
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What a checkout of the Action must hold for `pip install` to build it (see pyproject.toml).
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "action", "receiver")
VARIANTS = ("", "[verify]")


def copy_sources(dest: Path) -> Path:
    """The files pip builds the Action from, without caches or build leftovers."""
    junk = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
    for name in SOURCES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=junk)
        else:
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


def fill_cache(python: str, src: Path, cache: Path, env: dict[str, str]) -> None:
    """Wheels of the build backend and of every dependency of both variants (not timed)."""
    build_requires = tomllib.loads((src / "pyproject.toml").read_text())["build-system"]["requires"]
    command = [python, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check"]
    done = subprocess.run(
        [*command, "--wheel-dir", str(cache), *build_requires, f"{src}[verify]"],
        env=env,
        cwd=cache.parent,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        print(done.stdout + done.stderr, file=sys.stderr)
        raise subprocess.CalledProcessError(done.returncode, done.args)
    # Timed runs build the Action from its sources, as the venv step does; drop its own wheel.
    for wheel in cache.glob("llm_deploy-*.whl"):
        wheel.unlink()


def offline_env(pip_cache: Path) -> dict[str, str]:
    """The environment of a timed run: no pip configuration, an empty pip cache of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_CACHE_DIR=str(pip_cache))
    return env


def install(python: str, src: Path, cache: Path, venv: Path, extras: str) -> tuple[float, float]:
    """Create the venv and install the Action offline; (venv seconds, pip seconds)."""
    env = offline_env(venv.with_name(venv.name + "-pip-cache"))
    started = time.monotonic()
    subprocess.run([python, "-m", "venv", str(venv)], check=True, env=env, cwd=venv.parent)
    created = time.monotonic()
    subprocess.run(
        [
            str(venv / "bin" / "python"),
            *("-m", "pip", "install", "--quiet", "--disable-pip-version-check"),
            *("--no-index", "--find-links", str(cache), f"{src}{extras}"),
        ],
        check=True,
        env=env,
        cwd=venv.parent,
    )
    return created - started, time.monotonic() - created


def disk_usage(path: Path) -> int:
    """Bytes of the regular files under path (symlinks not followed)."""
    return sum(
        file.lstat().st_size for file in path.rglob("*") if not file.is_symlink() and file.is_file()
    )


def base_python(python: str) -> str:
    """The interpreter a venv made by `python` is based on (a venv's python makes a plain one)."""
    return subprocess.run(
        [python, "-c", "import sys; print(sys._base_executable, sys.version.split()[0])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def main(argv: list[str] | None = None) -> int:
    """Fill the cache, time the installs and print a table; 0 unless an install fails."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--python", default=sys.executable, help="interpreter that makes the venvs")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir and print its path")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="llmd-install-"))
    try:
        src = copy_sources(tmp / "action-checkout")
        cache = tmp / "wheels"
        cache.mkdir()
        started = time.monotonic()
        fill_env = {**os.environ, "PIP_CACHE_DIR": str(tmp / "fill-pip-cache")}
        try:
            fill_cache(args.python, src, cache, fill_env)
        except subprocess.CalledProcessError as exc:
            print(f"filling the wheel cache failed (exit {exc.returncode})", file=sys.stderr)
            return 2
        wheels = sorted(p.name for p in cache.glob("*.whl"))
        print(f"python: {base_python(args.python)}")
        print(
            f"wheel cache (not timed; dependencies and build backend): {len(wheels)} wheels, "
            f"{disk_usage(cache) / 1e6:.1f} MB, filled in {time.monotonic() - started:.1f} s"
        )
        for wheel in wheels:
            print(f"  {wheel}")
        print(f"{'variant':18} {'run':>3} {'venv s':>7} {'pip s':>7} {'total s':>8} {'venv MB':>8}")
        for extras in VARIANTS:
            label = f"llm-deploy{extras}"
            totals = []
            for run in range(1, args.runs + 1):
                name = f"{extras.strip('[]') or 'base'}-{run}"
                checkout = copy_sources(tmp / f"checkout-{name}")  # fresh, as on a new runner
                venv = tmp / f"venv-{name}"
                try:
                    made, pip = install(args.python, checkout, cache, venv, extras)
                except subprocess.CalledProcessError as exc:
                    print(f"{label}: run {run} failed (exit {exc.returncode})", file=sys.stderr)
                    return 1
                totals.append(made + pip)
                print(
                    f"{label:18} {run:>3} {made:>7.2f} {pip:>7.2f} {made + pip:>8.2f}"
                    f" {disk_usage(venv) / 1e6:>8.1f}"
                )
            print(
                f"{label:18} median of {len(totals)}: {statistics.median(totals):.2f} s"
                f" (min {min(totals):.2f}, max {max(totals):.2f})"
            )
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
