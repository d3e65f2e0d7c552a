"""Once per dispatch: which commit a dispatch made, and whether a newer round has superseded it.

Every commit the Action makes carries git trailers naming the dispatch that made it, its round
and the run that made it (``LLM-Deploy-Dispatch``, ``LLM-Deploy-Round``, ``LLM-Deploy-Run``). A
dispatch is the ``dispatch-id`` input when given (the receiver sets it), else ``run-<run id>``,
which is the same for every attempt of one run, so "Re-run jobs" in the Actions tab is the same
dispatch as the attempt it repeats. Before asking the model the generate step reads the branch's
history and :func:`plan` decides, with no I/O:

- the dispatch's commit is on the branch and nothing newer from llm-deploy follows it → **reuse**:
  deploy, wait and notify that commit, without a model call;
- a newer llm-deploy commit follows it, or (no commit of ours) a commit made by a later run (by
  run id; a higher round when a run id is missing) is on the branch → **superseded**: change
  nothing, say so;
- otherwise → **generate**.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

DISPATCH_TRAILER = "LLM-Deploy-Dispatch"
ROUND_TRAILER = "LLM-Deploy-Round"
RUN_TRAILER = "LLM-Deploy-Run"
TRAILERS = (DISPATCH_TRAILER, ROUND_TRAILER, RUN_TRAILER)


@dataclass(frozen=True)
class RoundCommit:
    """A commit the Action made, as its trailers describe it."""

    sha: str
    dispatch: str
    round: int
    run_id: int | None = None  # None on commits made before the run trailer existed


@dataclass(frozen=True)
class Plan:
    """What the generate step does for this dispatch, and the commit that decided it."""

    action: Literal["generate", "reuse", "superseded"]
    commit: RoundCommit | None = None  # reuse: ours; superseded: the newer one
    reason: str = ""


def dispatch_identity(dispatch_id: str, run_id: str) -> str:
    """The dispatch this run serves: the given id, else one stable across the run's attempts."""
    if dispatch_id:
        return dispatch_id
    return f"run-{run_id}" if run_id else ""


def trailer_lines(dispatch: str, round_: int, run_id: str) -> list[str]:
    """The ``Key: value`` trailer lines a round's commit carries (none without a dispatch)."""
    if not dispatch:
        return []
    lines = [f"{DISPATCH_TRAILER}: {dispatch}", f"{ROUND_TRAILER}: {round_}"]
    if run_id.isdigit():
        lines.append(f"{RUN_TRAILER}: {run_id}")
    return lines


def with_trailers(message: str, lines: Sequence[str]) -> str:
    """The commit message with a trailer block (one blank line, then ``Key: value`` lines)."""
    return message.rstrip("\n") + ("\n\n" + "\n".join(lines) if lines else "") + "\n"


def parse_commit(sha: str, values: dict[str, str]) -> RoundCommit | None:
    """A RoundCommit from one commit's trailer values, or None when it is not one of ours."""
    dispatch, round_text = values.get(DISPATCH_TRAILER, ""), values.get(ROUND_TRAILER, "")
    if not dispatch or not round_text.isdigit():
        return None
    run = values.get(RUN_TRAILER, "")
    return RoundCommit(sha, dispatch, int(round_text), int(run) if run.isdigit() else None)


def _is_later(commit: RoundCommit, round_: int, run_id: int | None) -> bool:
    """Was ``commit`` made by something started after this run? Run ids grow with creation, so
    a later run's commit is newer whatever its round (a fresh run is never superseded; a
    manual round 1 after round 2 rebuilds). Without run ids, a higher round is newer."""
    if run_id is not None and commit.run_id is not None:
        return commit.run_id > run_id
    return commit.round > round_


def plan(history: Sequence[RoundCommit], dispatch: str, round_: int, run_id: str) -> Plan:
    """Decide for one dispatch from the branch's llm-deploy commits, newest first."""
    own_run = int(run_id) if run_id.isdigit() else None
    for index, commit in enumerate(history):
        if commit.dispatch != dispatch:
            continue
        if index > 0:
            newer = history[0]
            return Plan(
                "superseded",
                newer,
                (
                    f"this dispatch's commit {commit.sha[:12]} (round {commit.round}) is no "
                    f"longer the latest: round {newer.round} ({newer.dispatch}) landed after it "
                    f"as {newer.sha[:12]}. Nothing was changed; dispatch a new round to change "
                    "the app."
                ),
            )
        return Plan(
            "reuse",
            commit,
            (
                f"this dispatch already committed {commit.sha[:12]} (an earlier attempt); it is "
                "deployed and notified again without asking the model."
            ),
        )
    later = next((c for c in history if _is_later(c, round_, own_run)), None)
    if later is not None:
        return Plan(
            "superseded",
            later,
            (
                f"a newer round, started after this run, is already on the branch: round "
                f"{later.round} ({later.dispatch}) as {later.sha[:12]}. This round {round_} would "
                "overwrite it, so nothing was changed; dispatch a new round to change the app."
            ),
        )
    return Plan("generate")
