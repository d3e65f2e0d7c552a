"""ActionSettings: inputs from the environment, the job from a payload or plain inputs."""

from __future__ import annotations

import pytest

from action.errors import PayloadError, SettingsError
from action.job import Attachment, Job
from action.job_source import read_job
from action.payload import encode_key, seal
from action.settings import ActionSettings, page_url, parse_checks

KEY = bytes(range(32))
JOB = Job(
    task="Analyze",
    round=2,
    brief="Build a secret thing.",
    nonce="n-1",
    email="student@example.com",
    evaluation_url="https://eval.example/notify",
    checks=["js: 1"],
    attachments=[Attachment("a.txt", b"hi")],
    received_at=123.0,
)


def test_defaults_from_empty_environment() -> None:
    s = ActionSettings.from_environ({"GITHUB_WORKSPACE": "/w"})
    assert (s.workspace, s.llm_base_url, s.model) == (
        "/w",
        "https://aipipe.org/openai/v1",
        "gpt-4.1-mini",
    )
    assert (s.deploy, s.verify, s.repair_rounds, s.round) == (True, True, 2, 1)
    assert s.server_url == "https://github.com"


def test_inputs_map_from_kebab_case_env_names() -> None:
    env = {
        "INPUT_PAYLOAD_KEY": "k",
        "INPUT_LLM_BASE_URL": "http://127.0.0.1:1/v1",
        "INPUT_FALLBACK_MODEL": "gpt-4o-mini",
        "INPUT_REPAIR_ROUNDS": "0",
        "INPUT_DEPLOY": "false",
        "INPUT_DISPATCH_ID": "d-1",
        "INPUT_PAGES_URL": "http://127.0.0.1:8000/pages/x",
        "GITHUB_REPOSITORY": "Owner/Repo",
        "GITHUB_OUTPUT": "/tmp/o",
        "GITHUB_STEP_SUMMARY": "/tmp/s",
        "RUNNER_TEMP": "/tmp/r",
    }
    s = ActionSettings.from_environ(env)
    assert s.payload_key == "k" and s.llm_base_url == "http://127.0.0.1:1/v1"
    assert (s.fallback_model, s.repair_rounds, s.deploy, s.dispatch_id) == (
        "gpt-4o-mini",
        0,
        False,
        "d-1",
    )
    assert (s.output_path, s.summary_path, s.runner_temp) == ("/tmp/o", "/tmp/s", "/tmp/r")
    assert page_url(s) == "http://127.0.0.1:8000/pages/x/"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", []),
        ('["js: a", {"js": "b"}]', ["js: a", {"js": "b"}]),
        ("first check\n\n  second check  \n", ["first check", "second check"]),
    ],
    ids=["empty", "json", "lines"],
)
def test_parse_checks(text: str, expected: list[object]) -> None:
    assert parse_checks(text) == expected


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"INPUT_ROUND": "two"}, "'round' must be a whole number"),
        ({"INPUT_DEPLOY": "maybe"}, "'deploy' must be 'true' or 'false'"),
        ({"INPUT_CHECKS": "[not json"}, "not a JSON list"),
    ],
    ids=["round", "deploy", "checks"],
)
def test_malformed_inputs_are_one_sentence(env: dict[str, str], words: str) -> None:
    with pytest.raises(SettingsError, match=words):
        ActionSettings.from_environ(env)


def test_repr_hides_secrets() -> None:
    s = ActionSettings.from_environ(
        {
            "INPUT_LLM_API_KEY": "sk-verysecret",
            "INPUT_PUSH_TOKEN": "ghp_push",
            "INPUT_GITHUB_TOKEN": "ghs_tok",
            "INPUT_PAYLOAD_KEY": "payloadkey",
            "INPUT_EMAIL": "me@example.com",
            "INPUT_EVALUATION_URL": "https://eval/x",
            "INPUT_BRIEF": "private brief",
        }
    )
    text = repr(s)
    for secret in (
        "sk-verysecret",
        "ghp_push",
        "ghs_tok",
        "payloadkey",
        "me@example.com",
        "eval/x",
        "private brief",
    ):
        assert secret not in text
    assert set(s.secrets()) >= {"sk-verysecret", "ghp_push", "me@example.com", "https://eval/x"}


def test_job_from_payload() -> None:
    s = ActionSettings(payload=seal(JOB, KEY), payload_key=encode_key(KEY))
    assert read_job(s) == JOB


def test_job_from_side_branch_reference() -> None:
    asked: list[str] = []

    def git(spec: str) -> str:
        asked.append(spec)
        return seal(JOB, KEY)

    s = ActionSettings(
        payload="ref:llm-deploy-payloads:payloads/d-1.txt", payload_key=encode_key(KEY)
    )
    assert read_job(s, git) == JOB
    assert asked == ["llm-deploy-payloads:payloads/d-1.txt"]


def test_job_with_wrong_key_is_a_payload_error() -> None:
    s = ActionSettings(payload=seal(JOB, KEY), payload_key=encode_key(bytes(32)))
    with pytest.raises(PayloadError):
        read_job(s)


def test_payload_without_key_is_a_settings_error() -> None:
    with pytest.raises(SettingsError, match="payload-key"):
        read_job(ActionSettings(payload=seal(JOB, KEY)))


def test_hand_run_job_from_plain_inputs() -> None:
    s = ActionSettings(repository="me/my-app", brief="Make a page", checks=["js: 1"])
    j = read_job(s, clock=lambda: 42.0)
    assert (j.task, j.round, j.brief, j.checks, j.received_at) == (
        "my-app",
        1,
        "Make a page",
        ["js: 1"],
        42.0,
    )
    assert j.attachments == []


def test_neither_brief_nor_payload() -> None:
    with pytest.raises(SettingsError, match="Neither 'payload' nor 'brief'"):
        read_job(ActionSettings(repository="me/x"))


@pytest.mark.parametrize(
    ("repository", "expected"),
    [
        ("Octo-Cat/My.App", "https://octo-cat.github.io/My.App/"),
        ("Octo/octo.github.io", "https://octo.github.io/"),
        ("", ""),
    ],
    ids=["project", "user-site", "none"],
)
def test_page_url(repository: str, expected: str) -> None:
    assert page_url(ActionSettings(repository=repository)) == expected
