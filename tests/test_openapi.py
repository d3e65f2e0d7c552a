"""The OpenAPI description stays in step with request.py's validation and the mounted routes."""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from receiver.app import create_app
from receiver.config import Settings
from receiver.journal import FINAL_STATES, Journal
from receiver.openapi import openapi_document, route_paths
from receiver.request import (
    MAX_ATTACHMENTS,
    MAX_CHECKS,
    MAX_ROUND,
    MAX_TASK,
    RequestError,
    parse_request,
)
from receiver.worker import Worker
from tests.conftest import load_task, task_names
from tests.fakes.memory_forge import MemoryForge
from tests.support import ServerThread, free_socket

SECRET = "openapi-test-secret"
SPEC_URI = "urn:llm-deploy:openapi"


def _settings(tmp_path: Path, *, local: bool) -> Settings:
    env = {"DEPLOY_SECRET": SECRET, "LLM_DEPLOY_DATA": str(tmp_path / "data")}
    if not local:
        env["GITHUB_TOKEN"] = "ghp_test"
    return Settings.from_environ(env)


def _validator(spec: dict[str, Any], schema: str) -> jsonschema.Draft202012Validator:
    """A JSON Schema 2020-12 validator (OpenAPI 3.1's dialect) for one component schema."""
    registry: Registry[Any] = Registry().with_resource(
        SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT202012)
    )
    ref = {"$ref": f"{SPEC_URI}#/components/schemas/{schema}"}
    return jsonschema.Draft202012Validator(ref, registry=registry)


SPEC = openapi_document(Settings.from_environ({"DEPLOY_SECRET": SECRET}))
REQUEST = _validator(SPEC, "DeployRequest")


def _field(error: jsonschema.ValidationError) -> str:
    """A schema error's location in parse_request's notation: checks[0], attachments[1].name."""
    path = list(error.absolute_path)
    if error.validator == "required":
        path.append(error.message.split("'")[1])
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def test_the_description_is_valid_openapi_3_1() -> None:
    validate(SPEC)
    assert SPEC["openapi"] == "3.1.0"
    github = Settings.from_environ({"DEPLOY_SECRET": SECRET, "GITHUB_TOKEN": "ghp_x"})
    validate(openapi_document(github, {"/health": {"get"}}))


def test_the_documents_limits_are_the_ones_the_parser_enforces() -> None:
    """The description is a document; the numbers in it must be the code's, not a copy's."""
    props = SPEC["components"]["schemas"]["DeployRequest"]["properties"]
    assert props["task"]["maxLength"] == MAX_TASK
    assert props["round"]["maximum"] == MAX_ROUND
    assert props["checks"]["maxItems"] == MAX_CHECKS
    assert props["attachments"]["maxItems"] == MAX_ATTACHMENTS
    states = SPEC["components"]["schemas"]["State"]["enum"]
    assert set(states) == {"queued", "working", "dispatching", *FINAL_STATES}


@pytest.mark.parametrize("name", task_names())
def test_every_corpus_request_fits_the_schema_and_parses(name: str) -> None:
    body = load_task(name)
    assert list(REQUEST.iter_errors(body)) == []
    parsed = parse_request(body)
    assert parsed.task == body["task"]


def _without(name: str) -> Any:
    return lambda b: {k: v for k, v in b.items() if k != name}


def _set(name: str, value: Any) -> Any:
    return lambda b: {**b, name: value}


def _attachment(**changes: Any) -> Any:
    return lambda b: {**b, "attachments": [{**b["attachments"][0], **changes}]}


MUTATIONS = [
    *[
        (f"missing-{f}", _without(f), f)
        for f in ("email", "secret", "task", "round", "nonce", "brief", "evaluation_url")
    ],
    ("email-number", _set("email", 7), "email"),
    ("secret-null", _set("secret", None), "secret"),
    ("task-empty", _set("task", ""), "task"),
    ("task-blank", _set("task", "   "), "task"),
    ("task-too-long", _set("task", "t" * (MAX_TASK + 1)), "task"),
    ("task-list", _set("task", ["a"]), "task"),
    ("round-zero", _set("round", 0), "round"),
    ("round-negative", _set("round", -2), "round"),
    ("round-string", _set("round", "1"), "round"),
    ("round-bool", _set("round", True), "round"),
    ("round-fraction", _set("round", 1.5), "round"),
    ("nonce-blank", _set("nonce", "\n"), "nonce"),
    ("brief-empty", _set("brief", ""), "brief"),
    ("brief-object", _set("brief", {"text": "x"}), "brief"),
    ("url-ftp", _set("evaluation_url", "ftp://eval.example/n"), "evaluation_url"),
    ("url-relative", _set("evaluation_url", "/notify"), "evaluation_url"),
    ("url-no-host", _set("evaluation_url", "https:///notify"), "evaluation_url"),
    ("checks-string", _set("checks", "js: true"), "checks"),
    ("checks-number-item", _set("checks", ["ok", 3]), "checks[1]"),
    ("checks-object-without-js", _set("checks", [{"py": "x"}]), "checks[0]"),
    ("checks-js-not-string", _set("checks", [{"js": 1}]), "checks[0]"),
    ("attachments-object", _set("attachments", {"name": "a"}), "attachments"),
    ("attachment-string", _set("attachments", ["data:,x"]), "attachments[0]"),
    ("attachment-no-name", _attachment(name=""), "attachments[0].name"),
    ("attachment-http-url", _attachment(url="https://x.example/a.csv"), "attachments[0].url"),
]


@pytest.mark.parametrize(
    ("mutate", "field"), [m[1:] for m in MUTATIONS], ids=[m[0] for m in MUTATIONS]
)
def test_schema_and_parser_reject_the_same_field(mutate: Any, field: str) -> None:
    body = mutate(copy.deepcopy(load_task("sum-of-sales-601-r1")))
    errors = list(REQUEST.iter_errors(body))
    assert errors, "the schema accepts a body parse_request must reject"
    assert field in {_field(e) for e in errors}
    with pytest.raises(RequestError) as caught:
        parse_request(body)
    assert caught.value.field == field


ACCEPTED_VARIANTS = [
    ("no-checks", _without("checks")),
    ("null-checks", _set("checks", None)),
    ("null-attachments", _set("attachments", None)),
    ("empty-email", _set("email", "")),
    ("unknown-field", _set("extra", {"any": 1})),
    ("js-object-check", _set("checks", [{"js": "true"}, "a sentence"])),
    ("upper-case-scheme", _set("evaluation_url", "HTTPS://eval.example/n")),
    ("odd-mime", _attachment(url="data:@file/zip;base64,UEsDBA==")),
]


@pytest.mark.parametrize(
    "mutate", [m[1] for m in ACCEPTED_VARIANTS], ids=[m[0] for m in ACCEPTED_VARIANTS]
)
def test_schema_and_parser_accept_the_same_variants(mutate: Any) -> None:
    body = mutate(copy.deepcopy(load_task("sum-of-sales-601-r1")))
    assert list(REQUEST.iter_errors(body)) == []
    parse_request(body)


class Served:
    """The app under uvicorn on a loopback port (MemoryForge in GitHub mode)."""

    def __init__(self, tmp_path: Path, *, local: bool) -> None:
        sock = free_socket()
        port = int(sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{port}"
        settings = dataclasses.replace(
            _settings(tmp_path, local=local),
            port=port,
            public_url=self.url,
            max_body_bytes=64 * 1024,
        )
        self.journal = Journal(tmp_path / "journal.sqlite3")
        forge = MemoryForge()
        self.app = create_app(
            settings,
            forge=forge,
            journal=self.journal,
            worker=Worker(settings, self.journal, forge),
        )
        self.served = ServerThread(self.app, sock)
        self.served.start()
        self.client = httpx.Client(base_url=self.url, timeout=10)

    def close(self) -> None:
        self.client.close()
        self.served.stop()
        self.journal.close()


@pytest.fixture(params=[False, True], ids=["github-mode", "local-mode"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Served]:
    srv = Served(tmp_path, local=request.param)
    yield srv
    srv.close()


def test_every_mounted_route_is_documented(served: Served) -> None:
    mounted = route_paths(list(served.app.routes))
    settings = served.app.state.settings
    documented = openapi_document(settings, extra=served.app.state.mode.openapi_paths())["paths"]
    missing = {
        f"{m.upper()} {p}"
        for p, ms in mounted.items()
        for m in ms
        if m not in documented.get(p, {})
    }
    assert missing == set(), f"routes without an OpenAPI description: {sorted(missing)}"
    served_spec = served.client.get("/openapi.json").json()
    validate(served_spec)
    assert {p: set(ops) for p, ops in served_spec["paths"].items()} == mounted


def _deploy_body(**changes: Any) -> dict[str, Any]:
    body = load_task("sum-of-sales-601-r1")
    body.update(
        {"secret": SECRET, "evaluation_url": "https://eval.example/n", "attachments": [], **changes}
    )
    return body


EXCHANGES: list[tuple[str, str, str, dict[str, Any], int]] = [
    ("accepted", "post", "/api-deploy", {"json": _deploy_body()}, 200),
    ("bad-json", "post", "/api-deploy", {"content": b"{nope"}, 400),
    ("bad-field", "post", "/api-deploy", {"json": _deploy_body(round=0)}, 400),
    ("wrong-secret", "post", "/api-deploy", {"json": _deploy_body(secret="x")}, 403),
    ("too-large", "post", "/api-deploy", {"json": _deploy_body(brief="b" * 70_000)}, 413),
    ("unknown-task", "get", "/api-deploy/nothing-here", {}, 404),
    ("health", "get", "/health", {}, 200),
    ("dashboard-anonymous", "get", "/api/dashboard", {}, 401),
    ("dashboard", "get", "/api/dashboard", {"headers": {"authorization": f"Bearer {SECRET}"}}, 200),
]


def test_answers_match_their_documented_schemas(served: Served) -> None:
    spec = served.client.get("/openapi.json").json()
    for name, method, path, kwargs, status in EXCHANGES:
        res = served.client.request(method, path, **kwargs)
        assert res.status_code == status, name
        content = spec["paths"][path if "nothing" not in path else "/api-deploy/{task}"][method][
            "responses"
        ][str(status)]["content"]["application/json"]["schema"]
        schema = content["$ref"].rsplit("/", 1)[1]
        errors = list(_validator(spec, schema).iter_errors(res.json()))
        assert errors == [], f"{name}: {errors[0].message if errors else ''}"
    status = served.client.get(
        "/api-deploy/sum-of-sales-601", headers={"authorization": f"Bearer {SECRET}"}
    ).json()
    assert list(_validator(spec, "TaskStatus").iter_errors(status)) == []
    public = served.client.get("/api-deploy/sum-of-sales-601").json()
    assert list(_validator(spec, "PublicTaskStatus").iter_errors(public)) == []
    assert "email" not in json.dumps(status)
