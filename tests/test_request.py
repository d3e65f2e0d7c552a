"""The POST body validator: every corpus request passes; each bad field is named."""

from __future__ import annotations

import json
from typing import Any

import pytest

from receiver.request import RequestError, load_body, parse_request
from tests.conftest import load_task, task_names

GOOD: dict[str, Any] = {
    "email": "a@example.com",
    "secret": "s",
    "task": "t-1",
    "round": 1,
    "nonce": "n",
    "brief": "Make a page.",
    "checks": ["has a title", {"js": "1 + 1 === 2"}],
    "evaluation_url": "https://eval.example/notify",
    "attachments": [{"name": "a.txt", "url": "data:text/plain;base64,aGk="}],
}


@pytest.mark.parametrize("name", task_names())
def test_corpus_requests_parse(name: str) -> None:
    body = load_task(name)
    req = parse_request(body)
    assert (req.task, req.round, req.nonce) == (body["task"], body["round"], body["nonce"])
    assert len(req.attachments) == len(body["attachments"])
    assert "secret" not in req.public_document()


def test_unknown_fields_are_ignored_and_checks_normalised() -> None:
    req = parse_request({**GOOD, "extra": {"x": 1}, "checks": [{"js": "x", "note": "y"}]})
    assert req.checks == [{"js": "x"}]
    assert "extra" not in req.public_document()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"task": ""}, "task"),
        ({"task": 7}, "task"),
        ({"task": "x" * 201}, "task"),
        ({"round": 0}, "round"),
        ({"round": True}, "round"),
        ({"round": "1"}, "round"),
        ({"round": 1.0}, "round"),
        ({"nonce": ""}, "nonce"),
        ({"brief": "  "}, "brief"),
        ({"email": None}, "email"),
        ({"secret": 123}, "secret"),
        ({"evaluation_url": "ftp://x/y"}, "evaluation_url"),
        ({"evaluation_url": "http://"}, "evaluation_url"),
        ({"evaluation_url": "HTTP://0["}, "evaluation_url"),
        ({"round": 2**63}, "round"),
        ({"checks": ["x"] * 1001}, "checks"),
        ({"attachments": [{"name": "a", "url": "data:,x"}] * 101}, "attachments"),
        ({"checks": "js: 1"}, "checks"),
        ({"checks": [1]}, "checks[0]"),
        ({"checks": ["ok", {"python": "x"}]}, "checks[1]"),
        ({"attachments": {}}, "attachments"),
        ({"attachments": ["x"]}, "attachments[0]"),
        ({"attachments": [{"url": "data:,x"}]}, "attachments[0].name"),
        ({"attachments": [{"name": "a", "url": "https://x/a.png"}]}, "attachments[0].url"),
    ],
    ids=[
        "empty-task",
        "int-task",
        "long-task",
        "round-zero",
        "round-bool",
        "round-str",
        "round-float",
        "empty-nonce",
        "blank-brief",
        "null-email",
        "int-secret",
        "ftp-url",
        "hostless-url",
        "unbalanced-ipv6-url",
        "round-2**63",
        "1001-checks",
        "101-attachments",
        "checks-str",
        "check-int",
        "check-object",
        "attachments-dict",
        "attachment-str",
        "attachment-no-name",
        "attachment-http",
    ],
)
def test_bad_fields_are_named(change: dict[str, Any], field: str) -> None:
    with pytest.raises(RequestError) as info:
        parse_request({**GOOD, **change})
    assert info.value.field == field
    assert info.value.message


@pytest.mark.parametrize("body", [[], "x", None, 3], ids=["list", "str", "null", "int"])
def test_body_must_be_an_object(body: Any) -> None:
    # The parse the door makes refuses it; parse_request is only ever given its object.
    with pytest.raises(RequestError) as info:
        load_body(json.dumps(body).encode())
    assert info.value.field is None
    assert info.value.message == "The request body must be a JSON object."


@pytest.mark.parametrize(
    "url",
    [
        "data:@file/zip;base64,aGk",
        "data:text/plain;base64,aG k=\n",
        "data:,plain%20text",
        "data:application/octet-stream;base64,-_-_",
        "data:;base64,@@@",
    ],
    ids=["odd-mime-no-padding", "whitespace", "not-base64", "url-safe", "undecodable"],
)
def test_data_uris_are_not_decoded_at_the_door(url: str) -> None:
    # Decoding is the worker's (decision 52): an undecodable one fails its round there.
    req = parse_request({**GOOD, "attachments": [{"name": "f", "url": url}]})
    assert req.attachments == [{"name": "f", "url": url}]
