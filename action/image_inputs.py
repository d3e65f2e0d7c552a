"""Image attachments as image inputs of the chat request, beside their text descriptions.

A PNG, JPEG, GIF or WebP attachment (sniffed from its bytes) of at most ``MAX_IMAGE_BYTES`` is
sent as an OpenAI-style content part, ``{"type": "image_url", "image_url": {"url": "data:…"}}``,
in the first user message, at most ``MAX_IMAGES`` of them and ``MAX_TOTAL_BYTES`` in all. The
text description (``action.attachments.describe``) stays in the prompt either way, so a provider
that refuses images gets today's prompt back from :func:`without_images` (``action.llm`` does
that once and remembers it). Pure functions over messages; no I/O.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from action.attachments import sniff
from action.job import Attachment

MAX_IMAGE_BYTES = 2 * 1024 * 1024
MAX_IMAGES = 4
MAX_TOTAL_BYTES = 6 * 1024 * 1024  # about 8 MB of base64: a request a gateway still takes
_MIME = {"png": "image/png", "jpeg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}
# The text part that introduces the images; without_images drops it with them.
NOTE_PREFIX = "Image attachments, also attached to this message as images"

Message = dict[str, Any]


@dataclass
class ImagePlan:
    """Which images go as inputs, as content parts, and which stay descriptions only (and why)."""

    names: list[str] = field(default_factory=list)
    parts: list[dict[str, Any]] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)  # "name: why", images beyond the caps


def plan_images(attachments: list[Attachment]) -> ImagePlan:
    """The job's images within the caps, first come first served."""
    plan = ImagePlan()
    total = 0
    for att in attachments:
        kind = sniff(att.data, att.name)
        if kind not in _MIME:
            continue
        size = len(att.data)
        if size > MAX_IMAGE_BYTES:
            why = f"over the {MAX_IMAGE_BYTES // (1024 * 1024)} MB cap per image"
        elif len(plan.names) >= MAX_IMAGES:
            why = f"beyond the first {MAX_IMAGES} images"
        elif total + size > MAX_TOTAL_BYTES:
            why = f"over the {MAX_TOTAL_BYTES // (1024 * 1024)} MB cap for all images"
        else:
            total += size
            plan.names.append(att.name)
            url = f"data:{_MIME[kind]};base64,{base64.b64encode(att.data).decode('ascii')}"
            plan.parts.append({"type": "image_url", "image_url": {"url": url}})
            continue
        plan.left_out.append(f"{att.name} ({size} bytes): {why}")
    return plan


def with_images(messages: list[Message], plan: ImagePlan) -> list[Message]:
    """The messages with the planned images added to the first user message (a copy)."""
    if not plan.parts:
        return list(messages)
    out, done = [], False
    for message in messages:
        if not done and message.get("role") == "user" and isinstance(message.get("content"), str):
            note = f"{NOTE_PREFIX}, in this order: {', '.join(plan.names)}."
            content = [
                {"type": "text", "text": message["content"]},
                {"type": "text", "text": note},
                *plan.parts,
            ]
            message, done = {**message, "content": content}, True
        out.append(message)
    return out


def has_images(messages: list[Message]) -> bool:
    """Whether any message carries an image part."""
    return any(
        isinstance(part, dict) and part.get("type") == "image_url"
        for m in messages
        if isinstance(m.get("content"), list)
        for part in m["content"]
    )


def without_images(messages: list[Message]) -> list[Message]:
    """The messages as they were before :func:`with_images`: plain text, descriptions only."""
    out = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            texts = [
                str(p.get("text", ""))
                for p in content
                if isinstance(p, dict)
                and p.get("type") == "text"
                and not str(p.get("text", "")).startswith(NOTE_PREFIX)
            ]
            message = {**message, "content": "\n\n".join(texts)}
        out.append(message)
    return out


def image_chars(messages: list[Message]) -> int:
    """Characters the image parts add to the request (their data URIs)."""
    return sum(
        len(part["image_url"]["url"])
        for m in messages
        if isinstance(m.get("content"), list)
        for part in m["content"]
        if isinstance(part, dict) and part.get("type") == "image_url"
    )
