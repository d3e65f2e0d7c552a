"""What the user's Action repository must hold, as ``{path: bytes}`` (pure but for one loader).

The bundle is everything ``action.yml``'s install step needs from ``github.action_path``
(``pip install <path>``: a ``pyproject.toml`` that packages only ``action``, and the ``action``
package with its templates), plus ``action.yml`` itself, the MIT ``LICENSE`` and a README saying
what the repository is and how to ``uses:`` it. ``load_sources`` is the only function that reads
the installation; everything else is computed from what it returns.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import metadata, resources
from importlib.resources.abc import Traversable
from pathlib import Path

from action.project_file import pyproject_text

DIST = "llm-deploy"
PACKAGE = "action"
PACKAGE_SUFFIXES = (".py", ".j2", ".txt")
PACKAGE_EXTRA = ("py.typed",)
_CHECKOUT = Path(__file__).resolve().parents[2]


class BundleError(Exception):
    """This installation cannot produce the Action's files; the message says what to do."""


@dataclass(frozen=True)
class Sources:
    """The installed Action, read once: its files, version and dependencies."""

    version: str
    action_yml: str
    license: bytes
    package: dict[str, bytes]  # path under action/ -> bytes
    requires: tuple[str, ...]  # importlib.metadata.requires of the distribution


def load_sources() -> Sources:
    """Read the Action as installed beside the receiver (the one function that reads files).

    ``action/`` comes from the installed package. ``action.yml`` and ``LICENSE`` live at the top
    of the repository: a wheel build must copy them into ``receiver/bundled/`` (the place the
    workflow templates travel in); an editable install reads them from the checkout.
    """
    root = resources.files(PACKAGE)
    package = dict(sorted(_walk(root, "")))
    if "__main__.py" not in package:
        raise BundleError("The installed 'action' package is incomplete: no __main__.py.")
    return Sources(
        version=metadata.version(DIST),
        action_yml=_top_level("action.yml").decode("utf-8"),
        license=_top_level("LICENSE"),
        package=package,
        requires=tuple(metadata.requires(DIST) or ()),
    )


def _walk(folder: Traversable, prefix: str) -> list[tuple[str, bytes]]:
    found: list[tuple[str, bytes]] = []
    for item in folder.iterdir():
        path = f"{prefix}{item.name}"
        if item.is_dir():
            if item.name != "__pycache__":
                found += _walk(item, f"{path}/")
        elif item.name.endswith(PACKAGE_SUFFIXES) or item.name in PACKAGE_EXTRA:
            found.append((path, item.read_bytes()))
    return found


def _top_level(name: str) -> bytes:
    for candidate in (
        Path(str(resources.files("receiver").joinpath("bundled", name))),
        _CHECKOUT / name,
    ):
        if candidate.is_file():
            return candidate.read_bytes()
    raise BundleError(
        f"This installation has no {name} to publish (a wheel built without it); install "
        "llm-deploy from a source checkout or set LLM_DEPLOY_ACTION_REF to a published Action."
    )


def blob_sha(data: bytes) -> str:
    """The git blob id of ``data``, as GitHub's trees list it."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def readme_text(repo: str, version: str) -> str:
    """The README of the Action repository ``owner/name``: what it is and how to use it."""
    return f"""# llm-deploy Action {version}

This repository holds the llm-deploy GitHub Action (a composite action plus its Python package),
published here by your own llm-deploy receiver. The receiver creates one repository per task and
writes a workflow into it that runs this Action, pinned by commit. The Action generates the app
from the brief with an LLM, checks it in a headless browser, commits it and deploys it to GitHub
Pages, then notifies the evaluator.

The receiver rewrites this repository only when its own version of the Action differs, in one
commit, and tags it `v{version}` (and the moving major tag). Do not edit it by hand: the next
receiver start would replace your changes.

## Use

Pin the Action to a full commit SHA (a tag can be moved; some organisations require SHAs):

```yaml
    steps:
      - uses: actions/checkout@v7
        with:
          persist-credentials: true
      - uses: {repo}@<commit sha of tag v{version}>  # v{version}
        with:
          brief: A page that shows today's date.
          llm-api-key: ${{{{ secrets.LLM_API_KEY }}}}
```

The job needs `permissions: contents: write, pages: write, id-token: write` and the
`github-pages` environment. Every input, with its description and default, is in
[action.yml](action.yml). The Action's own `uses:` lines are pinned by commit, with the tag they
were resolved from as a comment.

## License

MIT, see [LICENSE](LICENSE).
"""


def build_bundle(sources: Sources, repo: str, action_yml: str) -> dict[str, bytes]:
    """Every file the Action repository ``owner/name`` must hold; ``action_yml`` as published."""
    files = {f"{PACKAGE}/{path}": data for path, data in sources.package.items()}
    files["action.yml"] = action_yml.encode("utf-8")
    files["pyproject.toml"] = pyproject_text(sources.version, sources.requires).encode("utf-8")
    files["LICENSE"] = sources.license
    files["README.md"] = readme_text(repo, sources.version).encode("utf-8")
    return dict(sorted(files.items()))
