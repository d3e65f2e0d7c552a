"""Leak scanning: ``scan_for_leaks`` and an end-to-end chain scanned with it.

Other tests import the helper: ``from tests.test_leaks import scan_for_leaks``.
"""

from __future__ import annotations

import base64
import json
import logging
import subprocess
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import pytest

from action.__main__ import notify_main
from receiver.config import Settings
from receiver.github.forge import GitHubForge
from receiver.journal import Journal
from receiver.request import parse_request
from receiver.worker import PAYLOAD_SECRET, Worker
from tests.fakes.evaluator import FakeEvaluator
from tests.fakes.github import FakeGitHub
from tests.fakes.llm import FakeLLM

if TYPE_CHECKING:
    from tests.reliability import Recorder

pytest_plugins = ["tests.reliability"]

Source = str | bytes | Path
MIN_SECRET = 6  # shorter values match by chance


def _forms(value: str) -> set[bytes]:
    """The raw value and the encodings it could hide behind in logs, JSON and URLs."""
    forms = {value, json.dumps(value)[1:-1], quote(value, safe=""), quote(value)}
    return {f.encode("utf-8") for f in forms if len(f) >= MIN_SECRET}


def _git_objects(repo: Path) -> Iterator[tuple[str, bytes]]:
    """Every object of a repository (all refs, unreachable and packed ones too)."""
    listing = subprocess.run(
        ["git", "cat-file", "--batch-all-objects", "--batch-check=%(objectname)"],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    if not listing:
        return
    out = subprocess.run(
        ["git", "cat-file", "--batch"],
        cwd=repo,
        check=True,
        capture_output=True,
        input="\n".join(listing).encode() + b"\n",
    ).stdout
    pos = 0
    while pos < len(out):
        header_end = out.index(b"\n", pos)
        sha, kind, size = out[pos:header_end].decode().split()
        start = header_end + 1
        yield f"{kind} {sha[:10]}", out[start : start + int(size)]
        pos = start + int(size) + 1


def _is_git(path: Path) -> bool:
    return (path / ".git").exists() or ((path / "objects").is_dir() and (path / "HEAD").is_file())


def _chunks(source: Source, index: int) -> Iterator[tuple[str, bytes]]:
    if isinstance(source, bytes):
        yield f"item {index}", source
    elif isinstance(source, str):
        yield f"item {index}", source.encode("utf-8", "surrogatepass")
    elif source.is_dir():
        if _is_git(source):
            for where, data in _git_objects(source):
                yield f"{source.name}: {where}", data
        for file in sorted(p for p in source.rglob("*") if p.is_file() and ".git" not in p.parts):
            yield str(file), file.read_bytes()
    elif source.is_file():
        yield str(source), source.read_bytes()


def scan_for_leaks(
    texts_or_paths: Iterable[Source],
    secrets: Mapping[str, str] | Iterable[str],
    *,
    allow_masks: bool = False,
) -> list[str]:
    """Where any secret appears: texts, files, directories, and every object of git repos.

    ``secrets`` maps a label to its value (or is a list of values); findings name the label,
    never the value. With ``allow_masks``, ``::add-mask::`` lines (how a runner hides a value)
    are not findings.
    """
    labelled = (
        dict(secrets)
        if isinstance(secrets, Mapping)
        else {f"secret #{i}": v for i, v in enumerate(secrets)}
    )
    wanted = {label: _forms(value) for label, value in labelled.items() if value}
    found: list[str] = []
    for index, source in enumerate(texts_or_paths):
        for where, data in _chunks(source, index):
            if allow_masks:
                data = b"\n".join(
                    line
                    for line in data.split(b"\n")
                    if not line.lstrip().startswith(b"::add-mask::")
                )
            found += [
                f"{label} in {where}"
                for label, forms in wanted.items()
                if any(form in data for form in forms)
            ]
    return found


# ----- the helper itself ---------------------------------------------------------------------


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


@pytest.mark.parametrize(
    ("where", "planted"),
    [
        ("text", "token=ghp_SECRETVALUE1 in a log line"),
        ("json-escaped", json.dumps({"u": 'http://x/ev?a=1&b="ghp_SECRETVALUE1"'})),
        ("url-encoded", "GET /?next=" + quote("ghp_SECRETVALUE1 x", safe="")),
    ],
    ids=["text", "json-escaped", "url-encoded"],
)
def test_scan_finds_a_secret_in_text(where: str, planted: str) -> None:
    assert scan_for_leaks([planted], {"token": "ghp_SECRETVALUE1"}) == ["token in item 0"]


def test_scan_finds_a_secret_deleted_from_history_and_ignores_masks(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "leak.txt").write_text("password: hunter2-very-secret\n")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "oops")
    (tmp_path / "leak.txt").unlink()
    _git(tmp_path, "commit", "-qam", "remove")
    found = scan_for_leaks([tmp_path], {"password": "hunter2-very-secret"})
    assert len(found) == 1 and found[0].startswith("password in ") and "blob" in found[0]
    masked = "::add-mask::hunter2-very-secret\nclean line\n"
    assert scan_for_leaks([masked], ["hunter2-very-secret"], allow_masks=True) == []
    assert scan_for_leaks([masked], ["hunter2-very-secret"]) == ["secret #0 in item 0"]


# ----- an end-to-end chain, scanned ------------------------------------------------------------


def test_receiver_to_action_to_evaluator_leaks_nothing(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    reliability: Recorder,
) -> None:
    """Worker → fake GitHub dispatch → generate step on that payload → notify; scan it all."""
    from tests.test_faults_llm import GITHUB_TOKEN, Checkout, run_generate

    caplog.set_level(logging.DEBUG)
    deploy_secret, github_token = "deploy-secret-e2e-0123", "ghp_e2e_token_0123456789"
    brief = "Make a page titled 'Private brief zebra-42' that shows the current UTC date."
    attachment = b"attachment-bytes-that-are-private-777"
    with (
        FakeGitHub(token=github_token, registration_lag=0) as fake,
        FakeEvaluator() as ev,
        FakeLLM() as llm,
    ):
        body = {
            "email": "leak-check@example.com",
            "secret": deploy_secret,
            "task": "leak-e2e",
            "round": 1,
            "nonce": "nonce-leak-1",
            "brief": brief,
            "checks": ["js: 1 === 1"],
            "evaluation_url": ev.url,
            "attachments": [
                {
                    "name": "data.txt",
                    "url": "data:text/plain;base64," + base64.b64encode(attachment).decode(),
                }
            ],
        }
        settings = Settings(
            deploy_secret=deploy_secret,
            github_token=github_token,
            github_api_url=fake.url,
            llm_api_key=llm.api_key,
            data_dir=tmp_path,
            action_ref="octo/llm-deploy-action@" + "d4" * 20,
        )
        forge = GitHubForge(
            token=github_token, api_url=fake.url, seconds_between_writes=0.0, sleep=lambda s: None
        )
        journal = Journal(tmp_path / "journal.sqlite3")
        request_id, _ = journal.record(parse_request(body))
        Worker(settings, journal, forge).process(request_id)
        journal.close()
        assert len(fake.dispatches) == 1
        dispatch = fake.dispatches[0]
        payload_key = fake.secret(dispatch.repo, PAYLOAD_SECRET)
        receiver_logs = caplog.text
        caplog.clear()

        # The Action's side: a checkout of the new repo, the dispatched inputs, the stored key.
        bare, work, temp = tmp_path / "origin.git", tmp_path / "work", tmp_path / "temp"
        _git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
        _git(tmp_path, "clone", "-q", str(bare), str(work))
        temp.mkdir()
        co = Checkout(bare, work, temp)
        from tests.test_faults_llm import make_job

        run = run_generate(
            co,
            make_job(task="leak-e2e"),
            llm,
            capsys,
            payload=dispatch.inputs["payload"],
            payload_key=payload_key,
        )
        assert run.code == 0, run.logs
        sha = run.outputs["commit-sha"]
        env = dict(
            run.env,
            INPUT_PAYLOAD=dispatch.inputs["payload"],
            INPUT_PAYLOAD_KEY=payload_key,
            INPUT_DEPLOY="false",
            INPUT_COMMIT_SHA=sha,
            INPUT_PAGES_URL="https://octo-user.github.io/leak-e2e/",
            GITHUB_STEP_SUMMARY=str(temp / "notify-summary"),
        )
        assert notify_main([], env) == 0
        notify_logs = capsys.readouterr().out
        assert len(ev.bodies) == 1 and ev.bodies[0]["nonce"] == "nonce-leak-1"
        assert ev.bodies[0]["commit_sha"] == sha

    everywhere = {
        "deploy secret": deploy_secret,
        "github token": github_token,
        "llm key": llm.api_key,
        "payload key": payload_key,
        "action github token": GITHUB_TOKEN,
        "email": body["email"],
        "evaluation url": ev.url,
    }
    encrypted_only = {"brief": brief, "attachment": attachment.decode()}
    # The repo may hold the attachment (committed on purpose) but nothing else private.
    assert scan_for_leaks([bare], everywhere) == []
    files = [
        f"{p}: {c!r}" for r in fake.repos.values() for b in r.files.values() for p, c in b.items()
    ]
    assert scan_for_leaks(files, {**everywhere, **encrypted_only}) == []
    inputs = [json.dumps(d.inputs) for d in fake.dispatches]
    assert scan_for_leaks(inputs, {**everywhere, **encrypted_only}) == []
    step_texts = [
        receiver_logs,
        run.summary,
        json.dumps(run.outputs),
        (temp / "notify-summary").read_text(),
    ]
    assert scan_for_leaks(step_texts, {**everywhere, **encrypted_only}) == []
    assert (
        scan_for_leaks([run.logs, notify_logs], {**everywhere, **encrypted_only}, allow_masks=True)
        == []
    )
    reliability.record(
        "Hostile input",
        "leak scan after receiver → Action → evaluator",
        "no secret, token, email, evaluation URL or plaintext brief in any git object, dispatch "
        "input, log line, output or step summary",
        sent=1,
        dispatched=len(fake.dispatches),
        notified=len(ev.bodies),
    )
