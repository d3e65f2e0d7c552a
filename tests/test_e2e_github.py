"""The pipeline once through the GitHub adapter: receiver in GitHub mode against the fake GitHub.

The fake GitHub's dispatch hands the job to the local runner: the files the receiver stored
through the Contents API are mirrored into a local bare repo, the secrets it sealed to the repo's
key are decrypted with the fake's private key, and the run deploys to a local Pages server. So the
whole GitHub path (create repo, workflow commit, sealed secrets, Pages, registration lag,
dispatch) runs, ending with a notification at the fake evaluator.
"""

from __future__ import annotations

import threading
from pathlib import Path

import httpx

from receiver.app import create_app
from receiver.config import Settings
from receiver.github.forge import GitHubForge
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
from tests.fakes.github import FakeGitHub
from tests.fakes.llm import FakeLLM

SECRET = "e2e-github-secret"
STEM = "sum-of-sales-601-r1"


def test_github_mode_end_to_end(tmp_path: Path) -> None:
    prebuild_action_venv()
    mirror_dir = tmp_path / "mirror"
    pages_sock = free_socket()
    pages_url = f"http://127.0.0.1:{pages_sock.getsockname()[1]}"
    runs: list[threading.Thread] = []

    def secrets_for(name: str) -> dict[str, str]:
        repo = fake.repo(f"{fake.user}/{name}")
        return {key: fake.secret(repo.full_name, key) for key in repo.secrets}

    runner = LocalRunner(mirror_dir, action_path=default_action_path(), public_url=pages_url,
                         secrets_for=secrets_for, tool_cache=TOOL_CACHE)
    mirror = LocalForge(mirror_dir, public_url=pages_url)

    def run_job(full_name: str, workflow: str, inputs: dict[str, str]) -> None:
        name = full_name.split("/", 1)[1]
        if not mirror.task_repos(name):
            repo = mirror.create_repo(name, "mirror of the fake GitHub repo")
            files = dict(fake.repo(full_name).files["main"])
            mirror.commit_files(repo, files, "Files stored through the Contents API")
        runner.run(name, workflow, inputs)

    def on_dispatch(full_name: str, workflow: str, inputs: dict[str, str]) -> None:
        # Called under the fake's lock, as GitHub queues a run: the run starts on its own.
        thread = threading.Thread(target=run_job, args=(full_name, workflow, dict(inputs)))
        runs.append(thread)
        thread.start()

    request = load_request(STEM)
    with (FakeGitHub(registration_lag=2, on_dispatch=on_dispatch) as fake,
          FakeLLM(default=corpus_answer) as llm, FakeEvaluator() as ev,
          serve(pages_app(mirror_dir), pages_sock), httpx.Client(timeout=30) as http):
        settings = Settings.from_environ({
            "DEPLOY_SECRET": SECRET, "GITHUB_TOKEN": fake.token, "GITHUB_API_URL": fake.url,
            "LLM_API_KEY": llm.api_key, "LLM_BASE_URL": llm.base_url,
            "LLM_DEPLOY_DATA": str(tmp_path / "receiver"),
        })
        forge = GitHubForge.from_settings(settings, seconds_between_writes=0)
        with serve(create_app(settings, forge=forge)) as base:
            assert http.get(f"{base}/health").json()["mode"] == "github"
            assert http.post(f"{base}/local/notify", json={}).status_code == 404
            body = {**request, "secret": SECRET, "evaluation_url": ev.url}
            assert http.post(f"{base}/api-deploy", json=body).status_code == 200
            note = wait_for(lambda: next(iter(ev.bodies), None), 120, "the notification")
            status = http.get(f"{base}/api-deploy/{request['task']}",
                              headers={"authorization": f"Bearer {SECRET}"}).json()
        for thread in runs:
            thread.join(60)
        deployed = check_notification(note, request, tmp_path, http)
        full_name = f"{fake.user}/{request['task']}"
        assert fake.violations == []
        assert len(fake.dispatches) == 1 and fake.dispatches[0].repo == full_name
        assert fake.secret(full_name, "LLM_API_KEY") == llm.api_key
        assert "LLM_DEPLOY_PAYLOAD_KEY" in fake.repo(full_name).secrets
        assert fake.repo(full_name).pages
        lookups = [r.status for r in fake.calls("GET", "/actions/workflows/")]
        assert lookups[:2] == [404, 404] and lookups[-1] == 200  # the registration lag
        assert status["repo"] == full_name and status["rounds"][0]["state"] == "dispatched"
        assert request["email"] not in str(status)
        assert b"MIT License" in deployed.show("LICENSE")
        assert all(r.authorized for r in llm.requests) and llm.requests
