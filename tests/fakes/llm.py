"""A scripted OpenAI-compatible chat-completions server on 127.0.0.1, shared by all tests.

    with FakeLLM(script=["<file path=\"index.html\">…</file>", Reply(status=500)]) as llm:
        client = LLMClient(httpx.Client(), base_url=llm.base_url, api_key=llm.api_key)

Each request takes the next script item: a string (the answer text), a callable
``(request_json) -> str``, or a :class:`Reply` (any status, body, headers, delay, or a dropped
connection). With the script used up, ``default`` answers (``default_app_answer`` unless given).
``accept_images=False`` makes it answer any request with an image part as a model without vision
does (``image_refusal``, OpenAI's 400 unless given), before the script is consulted.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Responder = Callable[[dict[str, Any]], str]


@dataclass
class Reply:
    """A raw answer: status, JSON (dict) or text body, headers, a delay before it, or a drop."""

    status: int = 500
    body: dict[str, Any] | str = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False  # close the connection without answering


def openai_image_refusal() -> Reply:
    """What OpenAI answers when a model without vision is sent an image part."""
    return Reply(
        400,
        {
            "error": {
                "message": "Invalid content type. image_url is only supported by certain models.",
                "type": "invalid_request_error",
                "param": "messages.[1].content.[2].type",
                "code": None,
            }
        },
    )


def openrouter_image_refusal() -> Reply:
    """What OpenRouter answers when no provider of the model takes images."""
    return Reply(
        404, {"error": {"message": "No endpoints found that support image input", "code": 404}}
    )


def budget_reply() -> Reply:
    """AI Pipe's answer once the rolling budget is spent."""
    return Reply(429, {"message": "Usage $1.02 / $1.00 in 7 days"})


def completion_body(
    text: str | None,
    model: str = "gpt-4.1-mini",
    *,
    finish_reason: str = "stop",
    prompt_tokens: int = 100,
    completion_tokens: int = 50,
    cost: float | None = None,
) -> dict[str, Any]:
    """A chat.completion document as OpenAI returns it."""
    usage: dict[str, Any] = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    if cost is not None:
        usage["cost"] = cost
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish_reason,
            }
        ],
        "usage": usage,
    }


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]  # lower-case names; the Authorization value is not kept
    json: Any
    authorized: bool  # a Bearer token was sent (and matched api_key when one is set)


IMAGE_PART_CHARS = 340  # an image counts as 85 tokens (OpenAI's low-detail price) of 4 chars


def content_text(content: Any) -> str:
    """A message's text: the string, or its text parts joined (image parts left out)."""
    if isinstance(content, list):
        texts = [p for p in content if isinstance(p, dict) and p.get("type") == "text"]
        return "\n".join(str(p.get("text", "")) for p in texts)
    return str(content if content is not None else "")


def image_parts(request: dict[str, Any]) -> list[dict[str, Any]]:
    """The image parts of a request's messages."""
    return [
        p
        for m in request.get("messages", [])
        if isinstance(m.get("content"), list)
        for p in m["content"]
        if isinstance(p, dict) and p.get("type") == "image_url"
    ]


def _last_user_text(request: dict[str, Any]) -> str:
    for message in reversed(request.get("messages", [])):
        if message.get("role") == "user":
            return content_text(message.get("content"))
    return ""


def all_text(request: dict[str, Any]) -> str:
    """Every message's text in one string (image parts left out)."""
    return "\n".join(content_text(m.get("content")) for m in request.get("messages", []))


def default_app_answer(request: dict[str, Any]) -> str:
    """A plausible envelope answer built from the prompt: a titled index.html and a README."""
    text = all_text(request)
    found = (
        re.search(r"document\.title\s*===?\s*[\"'`]([^\"'`]+)", text)
        or re.search(r"title\b[^\"'`\n]{0,20}?(?:is|to|:)\s*[\"'`]([^\"'`\n]+)[\"'`]", text)
        or re.search(r"<title>([^<]+)</title>", text)  # keep a round-1 title in round 2
    )
    title = found.group(1) if found else "Generated app"
    forms = set(re.findall(r"form id=[\"']([\w-]+)", text))
    ids = set(re.findall(r"id=[\"']([A-Za-z][\w-]*)[\"']", text))
    ids |= set(re.findall(r"#([A-Za-z][\w-]*)", text))
    elements = "\n".join(
        f'    <form id="{i}"></form>' if i in forms else f'    <div id="{i}">0</div>'
        for i in sorted(ids)
    )
    return (
        'Here is the app.\n<file path="index.html">\n<!doctype html>\n<html lang="en">\n'
        f'<head>\n  <meta charset="utf-8">\n  <title>{title}</title>\n'
        "  <script>window.addEventListener('load', () => { /* fetch( */ });</script>\n"
        f"</head>\n<body>\n  <h1>{title}</h1>\n{elements}\n</body>\n</html>\n</file>\n"
        f'<file path="README.md">\n# {title}\n\n## Summary\nA fake app.\n\n## Setup\nNone.\n\n'
        "## Usage\nOpen index.html.\n\n## Code explanation\nOne page.\n\n## License\nMIT\n</file>\n"
    )


class FakeLLM:
    """The server; use as a context manager, read ``base_url`` and ``requests``."""

    def __init__(
        self,
        script: list[str | Responder | Reply] | None = None,
        default: Responder | Reply = default_app_answer,
        *,
        api_key: str | None = None,
        accept_images: bool = True,
        image_refusal: Reply | None = None,
    ) -> None:
        self.script = list(script or [])
        self.accept_images = accept_images
        self.image_refusal = image_refusal or openai_image_refusal()
        self.default = default
        self.api_key = api_key or "fake-llm-key"
        self._check_key = api_key is not None
        # AI Pipe's behaviour for the doctor: models it can price (None: all), and GET /usage.
        self.priced: set[str] | None = None
        self.usage: dict[str, Any] = {
            "email": "student@example.com",
            "days": 7,
            "cost": 0.12,
            "usage": [],
            "limit": 1.0,
        }
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "use FakeLLM as a context manager"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> FakeLLM:
        self._server = _QuietServer(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()  # wakes handlers sleeping in a simulated delay
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def usage_url(self) -> str:
        """Where AI Pipe's ``GET /usage`` answers on this fake (beside, not under, /v1)."""
        return self.base_url.removesuffix("/v1") + "/usage"

    def _next(self) -> str | Responder | Reply:
        with self._lock:
            return self.script.pop(0) if self.script else self.default

    def respond(self, path: str, headers: dict[str, str], raw: bytes) -> Reply:
        """Record one request and decide its reply."""
        auth = headers.pop("authorization", "")
        authorized = auth.startswith("Bearer ") and (
            not self._check_key or auth == f"Bearer {self.api_key}"
        )
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = None
        with self._lock:
            self.requests.append(Recorded(path, headers, body, authorized))
        if path == "/usage":
            return (
                Reply(200, dict(self.usage))
                if authorized
                else Reply(401, {"message": "Unauthorized"})
            )
        if path != "/v1/chat/completions":
            return Reply(404, {"error": {"message": f"no route {path}"}})
        if not authorized:
            return Reply(401, {"error": {"message": "Unauthorized"}})
        if not isinstance(body, dict):
            return Reply(400, {"error": {"message": "body is not a JSON object"}})
        if self.priced is not None and body.get("model") not in self.priced:
            return Reply(400, {"message": f"Model {body.get('model')} pricing unknown"})
        if not self.accept_images and image_parts(body):
            return self.image_refusal
        item = self._next()
        if isinstance(item, Reply):
            return item
        text = item if isinstance(item, str) else item(body)
        model = str(body.get("model", "fake"))
        prompt_chars = sum(len(content_text(m.get("content"))) for m in body.get("messages", []))
        prompt_chars += IMAGE_PART_CHARS * len(image_parts(body))
        prompt_tokens, completion_tokens = prompt_chars // 4 + 1, len(text) // 4 + 1
        answer = completion_body(
            text, model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )
        return Reply(200, answer)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that hang up mid-reply are part of the script (timeouts, drops)


def _handler_for(fake: FakeLLM) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self._serve()

        def do_GET(self) -> None:
            self._serve()

        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            reply = fake.respond(self.path, headers, raw)
            if reply.delay and fake._stop.wait(reply.delay):
                return
            if reply.drop:
                self.close_connection = True
                return
            if isinstance(reply.body, dict):
                data, ctype = json.dumps(reply.body).encode(), "application/json"
            else:
                data, ctype = reply.body.encode(), "text/plain; charset=utf-8"
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client gave up (a simulated timeout)
                self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
