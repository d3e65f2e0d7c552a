"""Issue 11 item 8: local mode runs at most ``LLM_DEPLOY_WORKERS`` runs at a time; the rest queue.

Each run's only step marks itself running in a shared folder, records how many runs it sees
there, waits a little so runs overlap, and unmarks itself. Seven dispatches against two slots
must never show more than two at once, and every run must still finish.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from receiver.local.forge import LocalForge
from receiver.local.run_model import RunResult
from receiver.local.runner import LocalRunner
from tests.support import wait_for

URL = "http://127.0.0.1:9"
WORKFLOW = """\
on:
  workflow_dispatch:
    inputs:
      who: {}
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: |
          touch "$LIVE/${{ inputs.who }}"
          ls "$LIVE" | wc -l >> "$COUNTS/${{ inputs.who }}"
          sleep 0.4
          ls "$LIVE" | wc -l >> "$COUNTS/${{ inputs.who }}"
          rm "$LIVE/${{ inputs.who }}"
        env:
          LIVE: {live}
          COUNTS: {counts}
"""


@pytest.mark.parametrize("slots", [1, 2], ids=["one-slot", "two-slots"])
def test_runs_beyond_the_slots_wait_their_turn(tmp_path: Path, slots: int) -> None:
    live, counts = tmp_path / "live", tmp_path / "counts"
    live.mkdir()
    counts.mkdir()
    data = tmp_path / "data"
    finished: list[RunResult] = []
    lock = threading.Lock()

    def on_finish(result: RunResult) -> None:
        with lock:
            finished.append(result)

    runner = LocalRunner(
        data,
        action_path=tmp_path,
        public_url=URL,
        secrets_for=lambda n: {},
        on_finish=on_finish,
        max_runs=slots,
    )
    forge = LocalForge(data, public_url=URL, runner=runner)
    repo = forge.create_repo("app", "d")
    workflow = WORKFLOW.replace("{live}", str(live)).replace("{counts}", str(counts))
    forge.commit_files(repo, {".github/workflows/llm-deploy.yml": workflow.encode()}, "init")
    for i in range(7):
        forge.dispatch(repo, "llm-deploy.yml", {"who": f"run{i}"})
    wait_for(lambda: len(finished) == 7 or None, 120, "all seven runs")
    assert {r.state for r in finished} == {"success"}, [r.error for r in finished]
    seen = [int(n) for f in counts.iterdir() for n in f.read_text().split()]
    assert len(seen) == 14 and max(seen) <= slots
