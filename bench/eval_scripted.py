"""Run ``llm-deploy eval`` on the whole bundled corpus with scripted models, and keep the report.

    python bench/eval_scripted.py [--out DIR] [TASK …]

The figures in docs/evaluation.md come from this script. A fake OpenAI-compatible server on
127.0.0.1 answers by model name: ``scripted-good`` with the hand-written apps of tests/apps,
``scripted-bad`` with each app's known-bad variant (its ``wrong.json``), and ``--floor`` adds
``offline``, the Action's generator without a model. Everything else is the real command: the
local pipeline, the Action, our evaluator, Chromium (offline: CDN requests fail at once, as in
the test suite). Costs are $0: the scripted model names are not in the price list.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from receiver import cli
from tests.apps.build import wrong_spec
from tests.e2e_support import TOOL_CACHE, app_files, prebuild_action_venv, request_stem
from tests.fakes.llm import FakeLLM


def bad_files(stem: str) -> dict[str, str]:
    """The app of `stem` with the defect its wrong.json describes."""
    files = app_files(stem)
    spec = wrong_spec(stem)
    for path, search, replace in spec.get("edit", []):
        files[path] = files[path].replace(search, replace)
    files.update(spec.get("write", {}))
    return files


def scripted(request: dict[str, Any]) -> str:
    prompt = "\n".join(str(m.get("content", "")) for m in request.get("messages", []))
    stem = request_stem(prompt)
    if stem is None:
        return "I do not know this task."
    files = bad_files(stem) if request.get("model") == "scripted-bad" else app_files(stem)
    return "".join(f'<file path="{p}">\n{text}</file>\n' for p, text in files.items())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "tasks", nargs="*", default=[str(Path(cli.__file__).parent / "evaluation" / "tasks")]
    )
    parser.add_argument("--out", type=Path, default=Path("eval-scripted"))
    args = parser.parse_args()
    prebuild_action_venv()
    with tempfile.TemporaryDirectory() as tmp, FakeLLM(default=scripted) as llm:
        data = Path(tmp) / "data"
        data.mkdir()
        (data / "tool-cache").symlink_to(TOOL_CACHE, target_is_directory=True)
        for name in ("GITHUB_TOKEN", "AIPIPE_TOKEN", "LLM_DEPLOY_DATA", "LLM_MODEL"):
            os.environ.pop(name, None)
        os.environ.update({"LLM_API_KEY": llm.api_key, "LLM_BASE_URL": llm.base_url})
        return cli.main(
            [
                "eval",
                *args.tasks,
                "--model",
                "scripted-good",
                "--model",
                "scripted-bad",
                "--floor",
                "--offline-browser",
                "--data",
                str(data),
                "--out",
                str(args.out),
                "--json",
                str(args.out / "eval.json"),
                "--round-timeout",
                "300",
            ]
        )


if __name__ == "__main__":
    sys.exit(main())
