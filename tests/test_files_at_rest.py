"""Issue 11 item 6: the data folder is 0700 and what the receiver writes there is 0600.

A request is journaled (journal, WAL and shm files), a local run writes its record, log and
dispatch record, the local evaluator keeps a notification; then every one of those files is
checked for group or other permission bits, with the umask left wide open so only the code's own
modes can keep them private.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from receiver.journal import Journal
from receiver.local.forge import LocalForge
from receiver.local.notify import LocalNotifications
from receiver.local.runner import LocalRunner
from receiver.request import DeployRequest
from tests.support import wait_for

URL = "http://127.0.0.1:9"
WORKFLOW = b"""\
on:
  workflow_dispatch:
    inputs:
      who: {}
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: echo "hello ${{ inputs.who }}"
"""


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0o002)  # a shared-group umask: files would be 0664 and folders 0775
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_journal_runs_logs_and_notifications_are_private(tmp_path: Path, open_umask: None) -> None:
    data = tmp_path / "data"
    journal = Journal(data / "journal.sqlite3")
    request = DeployRequest(
        email="s@example.com",
        secret="s",
        task="t",
        round=1,
        nonce="n",
        brief="b",
        evaluation_url="https://eval.example/n",
    )
    journal.record(request)
    done: list[object] = []
    runner = LocalRunner(
        data, action_path=tmp_path, public_url=URL, secrets_for=lambda n: {}, on_finish=done.append
    )
    forge = LocalForge(data, public_url=URL, runner=runner)
    repo = forge.create_repo("t", "d")
    forge.commit_files(repo, {".github/workflows/llm-deploy.yml": WORKFLOW}, "init")
    forge.set_secret(repo, "LLM_API_KEY", "sk-x")
    forge.dispatch(repo, "llm-deploy.yml", {"who": "you"})
    wait_for(lambda: done, 60, "the run")
    notes = LocalNotifications(data)
    code, _ = notes.receive(
        {
            "email": "s@example.com",
            "task": "t",
            "round": 1,
            "nonce": "n",
            "repo_url": repo.html_url,
            "commit_sha": "0" * 40,
            "pages_url": repo.pages_url,
        },
        journal,
    )
    assert code == 200
    files = [
        data / "journal.sqlite3",
        data / "journal.sqlite3-wal",
        data / "journal.sqlite3-shm",
        data / "journal.sqlite3-bodies",
        data / "runs" / "1.json",
        data / "runs" / "1.log",
        data / "runs" / "1.dispatch.json",
        data / "local-notifications.jsonl",
        data / "secrets" / "t.json",
        data / "repos" / "t.git" / "llm-deploy.json",
    ]
    try:
        modes = {p.relative_to(data).as_posix(): oct(_mode(p)) for p in files}
    finally:
        journal.close()
    assert modes == {name: oct(0o600) for name in modes}
    for folder in (data, data / "runs", data / "secrets", data / "repos"):
        assert _mode(folder) == 0o700, folder
