"""Ask the model and turn its answer into files: parse, one corrective retry, apply edits, and
one whole-file fallback for edits whose search text did not match."""

from __future__ import annotations

from typing import Any

from action import prompts, protocol
from action.errors import LLMError, ProtocolError
from action.llm import LLMClient

Messages = list[dict[str, Any]]


def user(content: Any) -> dict[str, Any]:
    """A user message from a prompt dict or plain text."""
    return content if isinstance(content, dict) else {"role": "user", "content": str(content)}


def assistant(text: str) -> dict[str, Any]:
    """The model's own earlier answer, to keep the conversation whole."""
    return {"role": "assistant", "content": text}


def parse_complete(text: str, truncated: bool) -> list[protocol.Block]:
    """Parse an answer; a cut-off answer is a ProtocolError the model can act on."""
    parsed = protocol.parse_report(text)
    if parsed.truncated or (truncated and not parsed.blocks):
        cut = ", ".join(parsed.truncated) or "the answer"
        raise ProtocolError(
            f"Your answer was cut off: {cut} never reached its closing tag. Answer again, "
            "more concisely, with every block complete. " + protocol.FORMAT_HELP
        )
    return protocol.parse(text)


def ask(
    client: LLMClient, messages: Messages, current: dict[str, str], notes: list[str]
) -> tuple[str, dict[str, str]]:
    """(answer text, changed files); notes gain a line for every retry or fallback."""
    completion = client.complete(messages)
    text = completion.text
    try:
        blocks = parse_complete(text, completion.truncated)
    except ProtocolError as exc:
        notes.append(f"The model's answer was malformed ({exc}); asked again.")
        retry = prompts.correction_message(str(exc), round2=bool(current))
        messages = [*messages, assistant(text), user(retry)]
        text = client.complete(messages).text
        blocks = protocol.parse(text)
    whole = {b.path: b.content for b in blocks if isinstance(b, protocol.FileBlock)}
    edits = [b for b in blocks if isinstance(b, protocol.EditBlock)]
    updated, missed = protocol.apply_edits({**current, **whole}, edits)
    files = {p: c for p, c in updated.items() if p in whole or current.get(p) != c}
    if missed:
        notes.append(f"Edits did not match {missed}; asked for whole files.")
        again = [*messages, assistant(text), user(prompts.whole_file_request(missed))]
        try:
            blocks = protocol.parse(client.complete(again).text)
            files.update({b.path: b.content for b in blocks if isinstance(b, protocol.FileBlock)})
        except (LLMError, ProtocolError) as exc:
            notes.append(f"Whole-file fallback failed: {exc}")
    return text, files
