"""The pipeline once through the GitHub adapter: receiver in GitHub mode against the fake GitHub.

The fake GitHub's dispatch hands the job to the local runner: the files the receiver stored
through the Contents API are mirrored into a local bare repo, the secrets it sealed to the repo's
key are decrypted with the fake's private key, and the run deploys to a local Pages server. So the
whole GitHub path (create repo, workflow commit, sealed secrets, Pages, registration lag,
dispatch) runs, ending with a notification at the fake evaluator.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from types import SimpleNamespace

import httpx
from starlette.applications import Starlette
from starlette.routing import Mount

from receiver.app import create_app
from receiver.config import Settings
from receiver.github.forge import GitHubForge
from receiver.github.mode import GitHubMode
from receiver.github.outcomes import RunOutcomes
from receiver.local import github_api
from receiver.local.forge import LocalForge
from receiver.local.pages import pages_app
from receiver.local.runner import LocalRunner, default_action_path
from tests.e2e_support import (
    TOOL_CACHE,
    check_notification,
    corpus_answer,
    free_socket,
    load_request,
    prebuild_action_venv,
    serve,
    wait_for,
)
from tests.fakes.evaluator import FakeEvaluator
from tests.fakes.github import FakeGitHub, finish_run
from tests.fakes.llm import FakeLLM

SECRET = "e2e-github-secret"
STEM = "sum-of-sales-601-r1"


def _mirror_server(mirror_dir: Path, pages_url: str) -> Starlette:
    """The mirror's sites and run pages, and the local GitHub API its runs name (their
    ``GITHUB_API_URL`` is ``<public url>/local/github``): the Pages reads and the run listing."""
    app = Starlette(routes=[*github_api.routes(), Mount("/", pages_app(mirror_dir))])
    app.state.mode = SimpleNamespace(
        settings=SimpleNamespace(data_dir=mirror_dir), pages_url=pages_url
    )
    return app


def test_github_mode_end_to_end(tmp_path: Path) -> None:
    prebuild_action_venv()
    mirror_dir = tmp_path / "mirror"
    pages_sock = free_socket()
    pages_url = f"http://127.0.0.1:{pages_sock.getsockname()[1]}"
    runs: list[threading.Thread] = []

    def secrets_for(name: str) -> dict[str, str]:
        repo = fake.repo(f"{fake.user}/{name}")
        return {key: fake.secret(repo.full_name, key) for key in repo.secrets}

    runner = LocalRunner(
        mirror_dir,
        action_path=default_action_path(),
        public_url=pages_url,
        secrets_for=secrets_for,
        tool_cache=TOOL_CACHE,
    )
    mirror = LocalForge(mirror_dir, public_url=pages_url)

    def run_job(full_name: str, workflow: str, inputs: dict[str, str]) -> None:
        name = full_name.split("/", 1)[1]
        if not mirror.repo_dir(name).exists():
            repo = mirror.create_repo(name, "mirror of the fake GitHub repo")
            files = dict(fake.repo(full_name).files["main"])
            mirror.commit_files(repo, files, "Files stored through the Contents API")
        result = runner.run(name, workflow, inputs)
        # The run ends on "GitHub" with its conclusion and the report artifact it uploaded.
        kept = (
            mirror_dir
            / "runs"
            / f"{result.run_id}.artifacts"
            / str(result.attempt)
            / "llm-deploy-report-deploy"
        )
        report = json.loads((kept / "report.json").read_text("utf-8"))
        finish_run(fake, fake.dispatches[-1].run_id, result.state, report)

    def on_dispatch(full_name: str, workflow: str, inputs: dict[str, str]) -> None:
        # Called under the fake's lock, as GitHub queues a run: the run starts on its own.
        thread = threading.Thread(target=run_job, args=(full_name, workflow, dict(inputs)))
        runs.append(thread)
        thread.start()

    request = load_request(STEM)
    with (
        FakeGitHub(registration_lag=2, on_dispatch=on_dispatch) as fake,
        FakeLLM(default=corpus_answer) as llm,
        FakeEvaluator() as ev,
        serve(_mirror_server(mirror_dir, pages_url), pages_sock),
        httpx.Client(timeout=30) as http,
    ):
        settings = Settings.from_environ(
            {
                "DEPLOY_SECRET": SECRET,
                "GITHUB_TOKEN": fake.token,
                "GITHUB_API_URL": fake.url,
                "LLM_API_KEY": llm.api_key,
                "LLM_BASE_URL": llm.base_url,
                "LLM_DEPLOY_DATA": str(tmp_path / "receiver"),
            }
        )
        forge = GitHubForge.from_settings(settings, seconds_between_writes=0)
        # Outcomes read on every view here (GitHub mode waits 30 s between reads of a run).
        outcomes = RunOutcomes(
            GitHubForge.from_settings(settings, max_retries=0).read,
            http,
            api_url=fake.url,
            token=fake.token,
            every=0,
        )
        mode = GitHubMode(settings, outcomes=outcomes)
        with serve(create_app(settings, forge=forge, mode=mode)) as base:
            assert http.get(f"{base}/health").json()["mode"] == "github"
            assert http.post(f"{base}/local/notify", json={}).status_code == 404
            body = {**request, "secret": SECRET, "evaluation_url": ev.url}
            assert http.post(f"{base}/api-deploy", json=body).status_code == 200
            note = wait_for(lambda: next(iter(ev.bodies), None), 120, "the notification")
            auth = {"authorization": f"Bearer {SECRET}"}
            status_url = f"{base}/api-deploy/{request['task']}"
            status = http.get(status_url, headers=auth).json()
            for thread in runs:
                thread.join(120)
            ended = http.get(status_url, headers=auth).json()["rounds"][0]
            reads = len(fake.requests)
            again = http.get(status_url, headers=auth).json()["rounds"][0]
            assert again == ended and len(fake.requests) == reads  # kept in the journal
        for thread in runs:
            thread.join(60)
        deployed = check_notification(note, request, tmp_path, http)
        full_name = f"{fake.user}/{request['task']}"
        assert fake.violations == []
        assert len(fake.dispatches) == 1 and fake.dispatches[0].repo == full_name
        assert fake.secret(full_name, "LLM_API_KEY") == llm.api_key
        assert "LLM_DEPLOY_PAYLOAD_KEY" in fake.repo(full_name).secrets
        assert fake.repo(full_name).pages
        # The workflow runs the Action the receiver published into the user's account at start,
        # pinned by commit (no actions/* repos in this fake: their tags stay tags, with a warning).
        action_head = fake.repo(f"{fake.user}/llm-deploy-action").branches["main"]
        workflow = fake.file(full_name, ".github/workflows/llm-deploy.yml").decode()
        assert f"uses: {fake.user}/llm-deploy-action@{action_head}\n" in workflow
        lookups = [r.status for r in fake.calls("GET", "/actions/workflows/")]
        assert lookups[:2] == [404, 404] and lookups[-1] == 200  # the registration lag
        assert status["repo"] == full_name and status["rounds"][0]["state"] == "dispatched"
        assert request["email"] not in str(status)
        # How the round ended, read from the run and its report artifact (then kept).
        outcome = ended["outcome"]
        assert outcome["conclusion"] == "success" and ended["notified"] is True
        assert outcome["commit_sha"] == note["commit_sha"] == deployed.sha
        assert outcome["page_url"] == note["pages_url"]
        assert outcome["evaluator_status"] == 200 and outcome["evaluator_accepted_at"]
        assert outcome["tokens"] and outcome["cost_usd"] is not None
        run_reads = [r.path.rsplit("/", 1)[-1] for r in fake.calls("GET", "/actions/runs/")]
        assert run_reads[-2:] == [str(fake.dispatches[0].run_id), "artifacts"]
        assert len(fake.calls("GET", "/actions/artifacts/")) == 1  # the zip, once
        assert b"MIT License" in deployed.show("LICENSE")
        assert all(r.authorized for r in llm.requests) and llm.requests
