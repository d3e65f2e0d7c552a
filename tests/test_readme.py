"""README.md and docs/ stay true to the code: settings, Action inputs, links, commands."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml

from action.defaults import DEFAULT_BASE_URL, DEFAULT_FALLBACK_MODEL, DEFAULT_MODEL
from receiver.config import Settings
from receiver.request import parse_request

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCS = sorted((ROOT / "docs").glob("*.md"))
MARKDOWN = [ROOT / "README.md", *DOCS]
SERVE = (
    "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[receiver]' && "
    "DEPLOY_SECRET=change-me llm-deploy serve"
)


def _section(text: str, heading: str) -> str:
    """The text under a heading, up to the next heading of the same or a higher level."""
    level = heading.split(" ")[0]
    start = text.index(heading + "\n")
    rest = text[start + len(heading) + 1 :]
    stop = re.search(rf"^#{{1,{len(level)}}} ", rest, re.M)
    return rest[: stop.start()] if stop else rest


def _table_names(section: str) -> set[str]:
    """Backticked names in the first column of the section's table rows."""
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            names.update(re.findall(r"`([^`]+)`", line.split("|")[1]))
    return names


def _settings_read() -> set[str]:
    """Every environment name receiver/config.py reads, found in its syntax tree."""
    tree = ast.parse((ROOT / "receiver/config.py").read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        if called in ("_opt", "_int", "get"):
            names.update(
                a.value
                for a in node.args
                if isinstance(a, ast.Constant)
                and isinstance(a.value, str)
                and re.fullmatch(r"[A-Z][A-Z0-9_]+", a.value)
            )
    return names


def test_config_reads_what_we_think() -> None:
    assert {"DEPLOY_SECRET", "GITHUB_TOKEN", "AIPIPE_TOKEN", "PORT"} <= _settings_read()


@pytest.mark.parametrize("name", sorted(_settings_read()))
def test_every_setting_is_in_the_configuration_table(name: str) -> None:
    assert name in _table_names(_section(README, "## Configuration"))


DEFAULTS = [
    ("GITHUB_API_URL", Settings.github_api_url),
    ("LLM_BASE_URL", Settings.llm_base_url),
    ("LLM_MODEL", Settings.llm_model),
    ("LLM_FALLBACK_MODEL", Settings.llm_fallback_model),
    ("LLM_DEPLOY_ACTION_REPO", Settings.action_repo),
    ("LLM_DEPLOY_MAX_BODY_MB", str(Settings.max_body_bytes // (1024 * 1024))),
    ("LLM_DEPLOY_WORKFLOW_TIMEOUT", str(int(Settings.workflow_timeout))),
    ("LLM_DEPLOY_WORKERS", str(Settings.worker_threads)),
    ("HOST", Settings.host),
    ("PORT", str(Settings.port)),
    ("LLM_DEPLOY_DATA", f"./{Settings.data_dir}"),
]


@pytest.mark.parametrize(("name", "default"), DEFAULTS, ids=[d[0] for d in DEFAULTS])
def test_documented_defaults_match_the_code(name: str, default: str) -> None:
    rows = [
        line
        for line in _section(README, "## Configuration").splitlines()
        if line.startswith(f"| `{name}`")
    ]
    assert len(rows) == 1, f"{name} needs exactly one row"
    assert f"`{default}`" in rows[0].split("|")[2]


ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(ACTION["inputs"]))
def test_every_action_input_is_in_the_inputs_table(name: str) -> None:
    section = _section(README, "### Action inputs")
    assert name in _table_names(section)
    default = str(ACTION["inputs"][name].get("default", ""))
    row = next(line for line in section.splitlines() if line.startswith(f"| `{name}`"))
    if default:
        assert f"`{default}`" in row, f"{name}: default {default!r} is not in its row"


def test_every_action_output_is_named() -> None:
    for name in ACTION["outputs"]:
        assert f"`{name}`" in README


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    return {_slug(h) for h in re.findall(r"^#{1,6} (.+)$", text, re.M)}


def _links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    return re.findall(r"\]\(([^)\s]+)\)", text)


LINKS = [(p, target) for p in MARKDOWN for target in _links(p) if not re.match(r"[a-z]+:", target)]


def test_the_documents_link_to_each_other() -> None:
    assert len(LINKS) >= 10
    for doc in ("architecture", "security", "performance", "hosting", "releasing"):
        assert f"docs/{doc}.md" in {t for p, t in LINKS if p.name == "README.md"}


@pytest.mark.parametrize(("source", "target"), LINKS, ids=[f"{p.name}->{t}" for p, t in LINKS])
def test_relative_links_resolve(source: Path, target: str) -> None:
    file_part, _, anchor = target.partition("#")
    resolved = (source.parent / file_part).resolve() if file_part else source
    assert resolved.is_relative_to(ROOT), f"{target} leaves the repository"
    assert resolved.exists(), f"{target} does not exist"
    if anchor and resolved.suffix == ".md":
        assert anchor in _anchors(resolved), f"no heading #{anchor} in {resolved.name}"


def _python_extract(text: str) -> str:
    after = text.split("<!-- test-command -->\n", 1)[1]
    match = re.match(r"```bash\n(.*?)\n```", after, re.S)
    assert match, "the marker must be followed directly by a ```bash block"
    return match.group(1)


def test_ci_runs_the_readme_test_command() -> None:
    script = (ROOT / ".ci/run").read_text(encoding="utf-8")
    line = next(x for x in script.splitlines() if x.startswith("cmd=$(awk"))
    out = subprocess.run(
        ["bash", "-c", f'{line}\nprintf %s "$cmd"'],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    assert out.stdout == _python_extract(README)
    assert "pip install" in out.stdout and "python -m pytest" in out.stdout
    assert out.stdout.startswith("python3 -m venv .venv && . .venv/bin/activate")


def test_quick_start_commands_are_intact() -> None:
    quick = _section(README, "## Quick start (fresh machine, no GitHub token: local mode)")
    assert f"```bash\n{SERVE}\n```" in quick
    curls = [line for line in quick.splitlines() if line.startswith("curl ")]
    assert len(curls) == 3
    for line in curls:
        assert "http://127.0.0.1:8000/api-deploy" in line


@pytest.mark.parametrize("name", ["sum-of-sales-r1", "sum-of-sales-r2"])
def test_quick_start_examples_are_valid_requests(name: str) -> None:
    assert f"-d @examples/{name}.json" in README
    body = json.loads((ROOT / "examples" / f"{name}.json").read_text(encoding="utf-8"))
    req = parse_request(body)
    # The serve command's secret and port, so the quick start is answered 200.
    assert req.secret == "change-me"
    assert req.evaluation_url.startswith("http://127.0.0.1:8000/")
    assert f"api-deploy/{req.task}" in README


def _front_matter(text: str) -> dict[str, object]:
    block = re.search(r"^( *)```yaml\n((?:\1.*\n)*?)\1```", text, re.M)
    assert block, "no Spaces front-matter block"
    body = textwrap.dedent(block.group(2))
    assert body.startswith("---\n") and body.endswith("---\n")
    loaded: dict[str, object] = yaml.safe_load(body.strip("-\n"))
    return loaded


def test_spaces_front_matter_matches_hosting_doc_and_image() -> None:
    readme = _front_matter(README)
    assert readme == _front_matter((ROOT / "docs/hosting.md").read_text(encoding="utf-8"))
    assert readme["sdk"] == "docker"
    assert f"PORT={readme['app_port']}" in (ROOT / "Dockerfile").read_text(encoding="utf-8")


def test_performance_doc_covers_every_bench_script() -> None:
    perf = (ROOT / "docs/performance.md").read_text(encoding="utf-8")
    for script in sorted((ROOT / "bench").glob("*.py")):
        assert f"bench/{script.name}" in perf, f"{script.name} is not in docs/performance.md"
    for named in re.findall(r"bench/([\w.-]+\.py)", perf):
        assert (ROOT / "bench" / named).exists(), f"docs/performance.md names bench/{named}"


@pytest.mark.parametrize("lint", ["ruff check .", "ruff format --check .", "mypy"])
def test_ci_lints_before_the_test_command(lint: str) -> None:
    lines = (ROOT / ".ci/run").read_text(encoding="utf-8").splitlines()
    assert f".venv/bin/{lint}" in lines
    test_command = next(i for i, x in enumerate(lines) if x.startswith("cmd=$(awk"))
    assert lines.index(f".venv/bin/{lint}") < test_command


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LLM_BASE_URL", DEFAULT_BASE_URL),
        ("LLM_MODEL", DEFAULT_MODEL),
        ("LLM_FALLBACK_MODEL", DEFAULT_FALLBACK_MODEL),
        ("llm-base-url", DEFAULT_BASE_URL),
        ("model", DEFAULT_MODEL),
    ],
    ids=[
        "receiver-base-url",
        "receiver-model",
        "receiver-fallback",
        "input-base-url",
        "input-model",
    ],
)
def test_readme_tables_show_the_llm_defaults(name: str, value: str) -> None:
    """The defaults' single source is action.defaults; the README's tables must quote it."""
    assert f"| `{name}` | `{value}` |" in README
