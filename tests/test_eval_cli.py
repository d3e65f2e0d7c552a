"""``llm-deploy eval``'s command line: which models run, and the mistakes it refuses early."""

from __future__ import annotations

import dataclasses

import pytest

from receiver import cli
from receiver.evaluation.cli import base_settings, models_for, parser

MODELS = [
    ("default-model", [], "key", False, ["gpt-4.1-mini"]),
    (
        "several",
        ["gpt-5-nano", "gpt-4.1-mini", "gpt-5-nano"],
        "key",
        False,
        ["gpt-5-nano", "gpt-4.1-mini"],
    ),
    ("floor-added", ["gpt-5-nano"], "key", True, ["gpt-5-nano", "offline"]),
    ("no-key-is-the-floor", ["gpt-5-nano"], None, False, ["offline"]),
    ("offline-only", ["offline"], None, True, ["offline"]),
]


@pytest.mark.parametrize(
    ("name", "given", "key", "floor", "expected"), MODELS, ids=[m[0] for m in MODELS]
)
def test_the_models_to_score(
    name: str, given: list[str], key: str | None, floor: bool, expected: list[str]
) -> None:
    settings = dataclasses.replace(base_settings(), llm_api_key=key, llm_model="gpt-4.1-mini")
    argv = [arg for m in given for arg in ("--model", m)] + (["--floor"] if floor else [])
    said: list[str] = []
    assert models_for(parser().parse_args(argv), settings, said.append) == expected
    assert bool(said) is (key is None and given != ["offline"])


REFUSED = [
    ("zero-runs", ["SumOfSales", "--runs", "0"], "--runs must be at least 1"),
    ("judge-without-key", ["SumOfSales", "--judge", "gpt-4.1-nano"], "--judge needs an LLM key"),
    ("unknown-task", ["NoSuchTask"], "Unknown task 'NoSuchTask'"),
]


@pytest.mark.parametrize(("name", "argv", "message"), REFUSED, ids=[r[0] for r in REFUSED])
def test_mistakes_exit_2_before_anything_runs(
    name: str,
    argv: list[str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for var in ("LLM_API_KEY", "AIPIPE_TOKEN", "GITHUB_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    assert cli.main(["eval", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("llm-deploy eval: ") and message in err


def test_eval_help_reaches_its_own_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["eval", "--help"])
    assert done.value.code == 0
    assert "--max-cost USD" in capsys.readouterr().out
