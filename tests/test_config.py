"""Settings are read once from a mapping; secrets never show in their repr."""

from __future__ import annotations

from pathlib import Path

import pytest

from receiver.config import ConfigError, Settings

BASE = {"DEPLOY_SECRET": "s3cret-value"}


def test_defaults_are_local_and_safe() -> None:
    s = Settings.from_environ(BASE)
    assert s.github_token is None  # no token: receiver.modes picks local mode
    assert (s.host, s.port) == ("127.0.0.1", 8000)
    assert s.github_api_url == "https://api.github.com"
    assert s.llm_base_url == "https://aipipe.org/openai/v1"
    assert (s.llm_model, s.llm_fallback_model) == ("gpt-4.1-mini", "gpt-4.1-nano")
    assert s.data_dir == Path("llm-deploy-data")
    assert s.max_body_bytes == 25 * 1024 * 1024
    assert s.action_ref is None  # publish into the user's own account; name no stranger's
    assert s.action_repo == "llm-deploy-action"
    assert s.public_url == "http://127.0.0.1:8000"
    assert s.workflow_timeout == 180.0


@pytest.mark.parametrize(
    ("env", "attr", "expected"),
    [
        ({"GITHUB_TOKEN": "ghp_x"}, "github_token", "ghp_x"),
        ({"AIPIPE_TOKEN": "ai"}, "llm_api_key", "ai"),
        ({"AIPIPE_TOKEN": "ai", "LLM_API_KEY": "llm"}, "llm_api_key", "llm"),
        ({"LLM_DEPLOY_MAX_BODY_MB": "2"}, "max_body_bytes", 2 * 1024 * 1024),
        ({"HOST": "0.0.0.0", "PORT": "7860"}, "public_url", "http://127.0.0.1:7860"),
        ({"LLM_DEPLOY_PUBLIC_URL": "https://x.example/"}, "public_url", "https://x.example"),
        (
            {"GITHUB_API_URL": "http://127.0.0.1:9/api/v3/"},
            "github_api_url",
            "http://127.0.0.1:9/api/v3",
        ),
        ({"LLM_DEPLOY_DATA": "/tmp/d"}, "data_dir", Path("/tmp/d")),
        ({"LLM_DEPLOY_WORKFLOW_TIMEOUT": "30"}, "workflow_timeout", 30.0),
        ({"LLM_DEPLOY_ACTION_REF": "me/fork@v1"}, "action_ref", "me/fork@v1"),
        ({"LLM_DEPLOY_ACTION_REPO": "our.action"}, "action_repo", "our.action"),
        ({}, "trust_proxy", 0),
        ({"LLM_DEPLOY_TRUST_PROXY": "on"}, "trust_proxy", 1),
        ({"LLM_DEPLOY_TRUST_PROXY": "off"}, "trust_proxy", 0),
        ({"LLM_DEPLOY_TRUST_PROXY": "2"}, "trust_proxy", 2),
    ],
    ids=[
        "token-means-github",
        "aipipe-token",
        "llm-key-wins",
        "body-mb",
        "public-from-port",
        "public-url-trimmed",
        "api-url",
        "data-dir",
        "workflow-timeout",
        "action-ref",
        "action-repo",
        "trust-proxy-default",
        "trust-proxy-on",
        "trust-proxy-off",
        "trust-proxy-two",
    ],
)
def test_environment_values(env: dict[str, str], attr: str, expected: object) -> None:
    assert getattr(Settings.from_environ({**BASE, **env}), attr) == expected


@pytest.mark.parametrize(
    ("env", "mentions"),
    [
        ({}, "DEPLOY_SECRET"),
        ({"DEPLOY_SECRET": "  "}, "DEPLOY_SECRET"),
        ({**BASE, "PORT": "eighty"}, "PORT"),
        ({**BASE, "LLM_DEPLOY_MAX_BODY_MB": "0"}, "LLM_DEPLOY_MAX_BODY_MB"),
        ({**BASE, "LLM_DEPLOY_ACTION_REPO": "me/action"}, "LLM_DEPLOY_ACTION_REPO"),
        ({**BASE, "LLM_DEPLOY_ACTION_REPO": "action.git"}, "LLM_DEPLOY_ACTION_REPO"),
        ({**BASE, "LLM_DEPLOY_TRUST_PROXY": "maybe"}, "LLM_DEPLOY_TRUST_PROXY"),
    ],
    ids=[
        "missing-secret",
        "blank-secret",
        "bad-port",
        "zero-body",
        "action-repo-slash",
        "action-repo-dot-git",
        "bad-trust-proxy",
    ],
)
def test_bad_settings_fail_with_one_sentence(env: dict[str, str], mentions: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_environ(env)
    message = str(info.value)
    assert mentions in message and message.endswith(".") and "\n" not in message


def test_no_setting_derives_a_key_from_the_secret() -> None:
    s = Settings.from_environ({**BASE, "LLM_DEPLOY_MASTER_KEY": "k" * 32})
    assert not hasattr(s, "master_key")  # payload keys are random, kept in the journal


def test_repr_hides_secrets() -> None:
    s = Settings.from_environ(
        {
            **BASE,
            "GITHUB_TOKEN": "ghp_tok",
            "LLM_API_KEY": "sk-llm",
            "GITHUB_WORKFLOW_TOKEN": "ghp_wf",
        }
    )
    text = repr(s) + str(s)
    for secret in ("s3cret-value", "ghp_tok", "sk-llm", "ghp_wf"):
        assert secret not in text
    assert "deploy_secret='***'" in text and "github_owner=None" in text
