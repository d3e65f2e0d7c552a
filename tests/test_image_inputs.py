"""Image attachments go to the model as image inputs, and back to descriptions when refused."""

from __future__ import annotations

import base64
import struct
import subprocess
import zlib
from pathlib import Path

import httpx
import pytest

from action import generate, image_inputs
from action.errors import LLMError
from action.image_inputs import plan_images, with_images, without_images
from action.job import Attachment, Job
from action.llm import LLMClient
from action.payload import encode_key, seal
from action.settings import ActionSettings
from tests.fakes.llm import (
    FakeLLM,
    Reply,
    image_parts,
    openai_image_refusal,
    openrouter_image_refusal,
)

KEY = bytes(range(32))
MB = 1024 * 1024


def png(width: int = 2, height: int = 1, pad: int = 0) -> bytes:
    """A valid PNG header (the bytes are sniffed and sized, never decoded), padded to a size."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    head = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk
    return head + struct.pack(">I", zlib.crc32(chunk)) + b"\0" * pad


JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 16
GIF = b"GIF89a" + b"\1\0\1\0" + b"\0" * 8
WEBP = b"RIFF" + b"\0\0\0\0" + b"WEBPVP8 " + b"\0" * 16
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"></svg>'


@pytest.mark.parametrize(
    ("attachments", "sent", "left_out"),
    [
        (
            [("a.png", png()), ("b.jpg", JPEG), ("c.gif", GIF), ("d.webp", WEBP)],
            ["a.png", "b.jpg", "c.gif", "d.webp"],
            [],
        ),
        ([("logo.svg", SVG), ("data.csv", b"a,b\n1,2\n"), ("doc.pdf", b"%PDF-1.4")], [], []),
        ([("big.png", png(pad=2 * MB)), ("ok.png", png())], ["ok.png"], ["big.png"]),
        ([(f"{i}.png", png()) for i in range(5)], ["0.png", "1.png", "2.png", "3.png"], ["4.png"]),
        (
            [(f"{i}.png", png(pad=int(1.9 * MB))) for i in range(4)],
            ["0.png", "1.png", "2.png"],
            ["3.png"],
        ),
        ([("photo.txt", png())], ["photo.txt"], []),  # the bytes decide, not the name
    ],
    ids=["each-format", "not-images", "over-the-cap", "beyond-four", "over-the-total", "sniffed"],
)
def test_which_images_are_sent(
    attachments: list[tuple[str, bytes]], sent: list[str], left_out: list[str]
) -> None:
    plan = plan_images([Attachment(n, d) for n, d in attachments])
    assert plan.names == sent
    assert [x.split(" ")[0] for x in plan.left_out] == left_out
    assert len(plan.parts) == len(sent)
    for part, (_name, data) in zip(
        plan.parts, [a for a in attachments if a[0] in sent], strict=True
    ):
        url = part["image_url"]["url"]
        assert url.startswith("data:image/") and base64.b64decode(url.split(",", 1)[1]) == data


MESSAGES = [{"role": "system", "content": "be good"}, {"role": "user", "content": "build it"}]


def test_images_join_the_first_user_message_and_come_off_exactly() -> None:
    plan = plan_images([Attachment("a.png", png()), Attachment("b.gif", GIF)])
    sent = with_images(MESSAGES, plan)
    user = sent[1]["content"]
    assert user[0] == {"type": "text", "text": "build it"}
    assert "a.png, b.gif" in user[1]["text"] and [p["type"] for p in user[2:]] == ["image_url"] * 2
    assert image_inputs.has_images(sent) and not image_inputs.has_images(MESSAGES)
    assert without_images(sent) == MESSAGES  # exactly today's prompt
    assert with_images(MESSAGES, plan_images([])) == MESSAGES


# -- the client against the fake provider -------------------------------------------------------


def client_for(llm: FakeLLM, http: httpx.Client) -> LLMClient:
    return LLMClient(http, base_url=llm.base_url, api_key=llm.api_key, sleep=lambda _s: None)


def test_a_provider_that_accepts_images_gets_them() -> None:
    messages = with_images(MESSAGES, plan_images([Attachment("a.png", png())]))
    with FakeLLM(["ok"]) as llm, httpx.Client() as http:
        client = client_for(llm, http)
        assert client.complete(messages).text == "ok"
        assert len(llm.requests) == 1 and len(image_parts(llm.requests[0].json)) == 1
    assert client.images_refused == ""


@pytest.mark.parametrize(
    ("refusal", "quoted"),
    [
        (openai_image_refusal(), "image_url is only supported by certain models"),
        (openrouter_image_refusal(), "support image input"),
        (Reply(413, "Request Entity Too Large"), "HTTP 413"),
        (Reply(422, {"error": {"message": "This model does not support vision"}}), "vision"),
        (Reply(400, {"message": "this model does not support image input", "code": None}), "input"),
    ],
    ids=["openai-400", "openrouter-404", "too-large-413", "vision-422", "ollama-400-flat"],
)
def test_a_refusal_falls_back_to_descriptions_once_and_for_good(
    refusal: Reply, quoted: str
) -> None:
    messages = with_images(MESSAGES, plan_images([Attachment("a.png", png())]))
    with (
        FakeLLM(["first", "second"], accept_images=False, image_refusal=refusal) as llm,
        httpx.Client() as http,
    ):
        client = client_for(llm, http)
        assert client.complete(messages).text == "first"
        assert client.complete([*messages, {"role": "user", "content": "more"}]).text == "second"
        bodies = [r.json for r in llm.requests]
    assert [len(image_parts(b)) for b in bodies] == [1, 0, 0]  # one refusal, then text only
    assert bodies[1]["messages"] == MESSAGES
    assert quoted in client.images_refused and client.usage.calls == 2


@pytest.mark.parametrize(
    ("reply", "with_image"),
    [
        (Reply(400, {"error": {"message": "maximum context length exceeded"}}), True),
        (
            Reply(400, {"error": {"message": "image_url is only supported by certain models"}}),
            False,
        ),
    ],
    ids=["other-400-with-images", "image-words-without-images"],
)
def test_other_refusals_are_not_mistaken_for_an_image_refusal(
    reply: Reply, with_image: bool
) -> None:
    plan = plan_images([Attachment("a.png", png())] if with_image else [])
    with FakeLLM([reply]) as llm, httpx.Client() as http:
        client = client_for(llm, http)
        with pytest.raises(LLMError, match="refused the request"):
            client.complete(with_images(MESSAGES, plan))
        assert len(llm.requests) == 1 and client.images_refused == ""


# -- the generate step records which way was used ----------------------------------------------


def work_repo(tmp_path: Path) -> Path:
    bare, work = tmp_path / "origin.git", tmp_path / "work"
    for args in (
        ["init", "--quiet", "--bare", "-b", "main", str(bare)],
        ["clone", "--quiet", str(bare), str(work)],
    ):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)
    return work


@pytest.mark.parametrize(
    ("accept", "way", "requests"),
    [(True, "inputs", 1), (False, "descriptions", 2)],
    ids=["accepted", "refused"],
)
def test_the_report_says_which_way_the_images_went(
    tmp_path: Path, accept: bool, way: str, requests: int
) -> None:
    work = work_repo(tmp_path)
    job = Job(
        task="logo",
        round=1,
        brief="Show logo.png centred.",
        attachments=[Attachment("logo.png", png(64, 32)), Attachment("huge.png", png(pad=3 * MB))],
    )
    with FakeLLM(accept_images=accept) as llm, httpx.Client() as http:
        settings = ActionSettings(
            workspace=str(work),
            repository="Student/logo",
            payload=seal(job, KEY),
            payload_key=encode_key(KEY),
            llm_api_key=llm.api_key,
            llm_base_url=llm.base_url,
        )
        report = generate.run(settings, http=http).to_json()
        last = llm.requests[-1].json["messages"][-1]["content"]
        assert len(llm.requests) == requests
    assert report["generator"] == "llm"
    images = report["image_inputs"]
    assert images["way"] == way and images["images"] == (["logo.png"] if accept else [])
    assert images["left_out"][0].startswith("huge.png") and "2 MB cap" in images["left_out"][0]
    assert ("image_url is only supported" in images["refusal"]) is not accept
    # Either way the text description is in the prompt.
    text = last if isinstance(last, str) else last[0]["text"]
    assert "Attachment `logo.png` (PNG image" in text and "64x32 pixels" in text
