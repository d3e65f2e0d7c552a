"""Where the tasks of an evaluation come from: request files, the bundled corpus, the generator.

A TASK argument is one of
- a request file (``…/sum-of-sales-601-r1.json``): that task, with the ``-r2*`` files beside it;
- a folder of request files: every task in it;
- a task name of the bundled corpus (``SumOfSales``, ``sum-of-sales-601``; see ``tasks/``);
- ``gen:<template>`` or ``gen:<template>@<seed>``: a fresh instance of a course template.

Each task runs its round 1 and one round 2: with several round-2 variants (``-r2a``, ``-r2b``), run
*n* of the evaluation takes variant *n* (cycling), as the evaluator sends each task one round 2.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from receiver.evaluation.errors import EvalError
from receiver.evaluation.generator import TEMPLATES

BUNDLED = Path(__file__).resolve().parent / "tasks"
DEFAULT_TASKS = tuple(f"gen:{name}" for name in TEMPLATES)
_ROUND = re.compile(r"^(?P<base>.+)-(?P<label>r1|r2[\w-]*)$")


@dataclass
class TaskSource:
    """One task: its round 1 and the round-2 variants to pick from."""

    name: str
    round1: dict[str, Any]
    round2: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (label, request)
    origin: str = ""  # the file, folder or "gen:template@seed" it came from

    def rounds(self, run: int) -> list[tuple[str, dict[str, Any]]]:
        """The rounds to send in run `run` (1-based): r1, then one round-2 variant."""
        chosen = [("r1", self.round1)]
        if self.round2:
            chosen.append(self.round2[(run - 1) % len(self.round2)])
        return chosen


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise EvalError(f"Cannot read the request {path}: {exc}") from None
    if not isinstance(data, dict) or "brief" not in data or "task" not in data:
        raise EvalError(f"{path} is not a deploy request (a JSON object with task and brief).")
    return data


def _from_folder(folder: Path, base: str) -> TaskSource:
    first = folder / f"{base}-r1.json"
    if not first.is_file():
        raise EvalError(f"No round 1 for {base!r} in {folder} (expected {first.name}).")
    variants = sorted(folder.glob(f"{base}-r2*.json"))
    return TaskSource(
        base, _read(first), [(p.stem[len(base) + 1 :], _read(p)) for p in variants], str(folder)
    )


def _bases(folder: Path) -> list[str]:
    found = (_ROUND.match(p.stem) for p in sorted(folder.glob("*.json")))
    return list(dict.fromkeys(m["base"] for m in found if m and m["label"] == "r1"))


def _generated(spec: str, seeds: random.Random) -> TaskSource:
    name, _, seed_text = spec.removeprefix("gen:").partition("@")
    if name not in TEMPLATES:
        raise EvalError(f"No template {name!r}; known: {', '.join(TEMPLATES)}.")
    try:
        seed = int(seed_text) if seed_text else seeds.randrange(100, 10_000)
    except ValueError:
        raise EvalError(f"The seed in {spec!r} is not a whole number.") from None
    (_, first), *rest = TEMPLATES[name](seed)
    return TaskSource(str(first["task"]), first, rest, f"gen:{name}@{seed}")


def resolve(
    specs: list[str], *, seed: int | None = None, corpus: Path = BUNDLED
) -> list[TaskSource]:
    """Turn TASK arguments into task sources (the generator's templates when there are none)."""
    seeds = random.Random(seed)
    out: list[TaskSource] = []
    for spec in specs or list(DEFAULT_TASKS):
        path = Path(spec)
        if spec.startswith("gen:"):
            out.append(_generated(spec, seeds))
        elif path.is_dir():
            out += [_from_folder(path, base) for base in _bases(path)]
        elif path.suffix == ".json":
            if not path.is_file():
                raise EvalError(f"No request file {path}.")
            match = _ROUND.match(path.stem)
            if match is None:
                out.append(TaskSource(path.stem, _read(path), [], str(path)))
            else:
                out.append(_from_folder(path.parent, match["base"]))
        elif (corpus / f"{spec}-r1.json").is_file():
            out.append(_from_folder(corpus, spec))
        else:
            known = ", ".join(_bases(corpus))
            raise EvalError(
                f"Unknown task {spec!r}: give a request file, a folder, "
                f"gen:<template> ({', '.join(TEMPLATES)}) or one of: {known}."
            )
    return out
