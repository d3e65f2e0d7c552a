"""Render the workflow written into every generated repo (pure, from workflow-templates/).

The templates travel inside the wheel; ``receiver.bundled`` finds them in either install.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import jinja2

from receiver.bundled import bundled_path
from receiver.config import Settings

WORKFLOW_PATH = ".github/workflows/llm-deploy.yml"
WORKFLOW_FILE = "llm-deploy.yml"  # how GitHub's workflow API names it
TEMPLATE = "llm-deploy.yml.j2"
TEMPLATES_DIR = bundled_path("workflow-templates")

# owner/repo[/path]@ref, or a local ./path: anything else would not be a valid `uses:`.
_ACTION_REF = re.compile(r"^(\./[\w./-]*|[\w.-]+/[\w.-]+(/[\w./-]+)?@[\w./-]+)$")

# `uses: owner/name[/path]@ref`, with an optional trailing comment; local (./) and docker:// uses
# do not match and are left alone.
USES = re.compile(
    r"^(?P<lead>\s*(?:-\s+)?uses:\s*)(?P<action>[\w.-]+/[\w.-]+(?:/[\w./-]+)?)@(?P<ref>[\w./+-]+)"
    r"(?P<tail>\s*(?:#.*)?)$"
)


def pin_uses(text: str, pins: Mapping[str, str]) -> str:
    """``text`` with each ``uses: x@tag`` found in ``pins`` rewritten to ``x@<sha> # tag``.

    An organisation may require every action pinned to a full commit SHA; the tag it was resolved
    from stays as a comment (``receiver.github.pins`` finds the tags and resolves them).
    """
    out = []
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        m = USES.match(body)
        sha = pins.get(f"{m['action']}@{m['ref']}") if m else None
        if m and sha:
            line = f"{m['lead']}{m['action']}@{sha} # {m['ref']}{line[len(body) :]}"
        out.append(line)
    return "".join(out)


@dataclass(frozen=True)
class ActionChoice:
    """The Action new workflows use, and why; ``pins`` pin the workflow's other ``uses:`` lines."""

    ref: str  # what `uses:` says: owner/repo@<full commit sha>, an override, or a mode's own
    source: str  # for the log: "published", "LLM_DEPLOY_ACTION_REF", or the mode that chose it
    pins: Mapping[str, str] = field(default_factory=dict)  # "owner/name@tag" -> commit sha

    def describe(self) -> str:
        """One log line saying which Action reference new repos will use."""
        return f"new repos will use the Action {self.ref} ({self.source})"


FIX_ACTION = "run `llm-deploy doctor --fix`, or set LLM_DEPLOY_ACTION_REF"


def override_choice(settings: Settings) -> ActionChoice | None:
    """``LLM_DEPLOY_ACTION_REF`` when set: used as given, with no call to anyone."""
    if settings.action_ref:
        return ActionChoice(settings.action_ref, "LLM_DEPLOY_ACTION_REF")
    return None


def _yaml_str(value: str) -> str:
    # A JSON string is a valid YAML double-quoted scalar, and escapes anything YAML would misread.
    return json.dumps(str(value), ensure_ascii=False)


@cache
def _environment(templates_dir: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # YAML, not HTML
    )
    env.filters["yaml_str"] = _yaml_str
    return env


def render_workflow(
    action_ref: str,
    llm_base_url: str,
    model: str,
    fallback_model: str,
    pins: Mapping[str, str] | None = None,
) -> str:
    """The generated repo's workflow text, using the Action at ``action_ref``.

    ``pins`` maps other ``uses:`` references (``actions/checkout@v7``) to commit SHAs.
    """
    if not _ACTION_REF.match(action_ref):
        raise ValueError(
            f"The Action reference {action_ref!r} is not of the form owner/repo@ref or ./path."
        )
    template = _environment(TEMPLATES_DIR).get_template(TEMPLATE)
    text = template.render(
        action_ref=action_ref, llm_base_url=llm_base_url, model=model, fallback_model=fallback_model
    )
    return pin_uses(text, pins or {})


def template_text() -> str:
    """The workflow template as written (its ``uses:`` lines are resolved to pins once a start)."""
    return (TEMPLATES_DIR / TEMPLATE).read_text("utf-8")
