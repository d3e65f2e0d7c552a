"""Attachments: decode ``data:`` URIs, pick safe root-level names, and describe them for the model.

The MIME type in a data URI is often odd or wrong (``data:@file/zip;base64,…``), so we trust the
bytes and the name, never the claim.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import re
import unicodedata
import zipfile
from pathlib import PurePosixPath
from urllib.parse import unquote_to_bytes

from action.errors import AttachmentError
from action.formats import image_size, xlsx_to_csv
from action.job import Attachment

MAX_NAME = 100
HEAD_LINES = 20
HEAD_CHARS = 2000
_UNSAFE_CHARS = re.compile(r'[\x00-\x1f\x7f<>:"|?*]')
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul"} | {
    f"{p}{i}" for p in ("com", "lpt") for i in range(10)
}
_TEXT_EXTENSIONS = {
    ".txt",
    ".md",
    ".markdown",
    ".py",
    ".js",
    ".ts",
    ".html",
    ".htm",
    ".css",
    ".yml",
    ".yaml",
    ".toml",
    ".ini",
    ".sh",
    ".xml",
    ".log",
    ".rst",
}
_LABELS = {
    "png": "PNG image",
    "jpeg": "JPEG image",
    "gif": "GIF image",
    "webp": "WebP image",
    "pdf": "PDF document",
    "zip": "ZIP archive",
    "xlsx": "Excel workbook (XLSX)",
    "gzip": "gzip archive",
    "svg": "SVG image",
    "json": "JSON",
    "csv": "CSV",
    "text": "text",
    "binary": "binary data",
}


def decode_data_uri(name: str, url: str) -> bytes:
    """The bytes of a ``data:`` URI, tolerant of odd MIME types, whitespace and missing padding."""
    if not isinstance(url, str) or not url.strip()[:5].lower() == "data:":
        raise AttachmentError(f"Attachment {name!r} is not a data: URI; only those are accepted.")
    header, sep, payload = url.strip()[5:].partition(",")
    if not sep:
        raise AttachmentError(f"Attachment {name!r} has a data: URI without a comma.")
    params = [p.strip().lower() for p in header.split(";")]
    raw = unquote_to_bytes(payload)
    if "base64" not in params:
        return raw
    compact = re.sub(rb"\s+", b"", raw).rstrip(b"=").replace(b"-", b"+").replace(b"_", b"/")
    if len(compact) % 4 == 1:
        raise AttachmentError(f"Attachment {name!r} has base64 data of an impossible length.")
    try:
        return base64.b64decode(compact + b"=" * (-len(compact) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise AttachmentError(f"Attachment {name!r} has data that is not valid base64.") from None


def safe_name(name: str) -> str:
    """A safe file name for the repo root, keeping the extension."""
    text = unicodedata.normalize("NFC", str(name)).replace("\\", "/")
    parts = [p for p in text.split("/") if p.strip() not in ("", ".", "..")]
    base = _UNSAFE_CHARS.sub("_", parts[-1] if parts else "").strip().rstrip(". ")
    # Hidden files are left out of Pages artifacts, and ".git"/".github" are reserved.
    base = base.lstrip(".").strip()
    if not base:
        return "attachment"
    stem, ext = _split_ext(base)
    if stem.lower() in _WINDOWS_RESERVED:
        stem = "_" + stem
    return _cap(stem, ext)


def _split_ext(base: str) -> tuple[str, str]:
    path = PurePosixPath(base)
    ext = path.suffix if 1 < len(path.suffix) <= 16 and path.stem else ""
    return base[: len(base) - len(ext)], ext


def _cap(stem: str, ext: str) -> str:
    # Characters for readability, bytes because file systems cap names at 255 bytes.
    while stem and (len(stem + ext) > MAX_NAME or len((stem + ext).encode()) > 255):
        stem = stem[:-1]
    return (stem.rstrip(". ") or "attachment") + ext


def from_request(items: list[dict]) -> list[Attachment]:
    """Decode the request's ``{name, url}`` items, renaming clashing names deterministically."""
    if not isinstance(items, list):
        raise AttachmentError("The attachments field must be a list of {name, url} objects.")
    decoded: list[tuple[str, bytes]] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise AttachmentError(f"Attachment #{index + 1} is not a {{name, url}} object.")
        name = str(item.get("name") or f"attachment-{index + 1}")
        decoded.append((safe_name(name), decode_data_uri(name, item.get("url", ""))))
    # Names that appear first keep their name; later clashes (case-insensitively, as on macOS
    # checkouts) get -2, -3, … avoiding every name already used.
    used: set[str] = set()
    first: list[bool] = []
    for wanted, _ in decoded:
        first.append(wanted.lower() not in used)
        used.add(wanted.lower())
    result = []
    for (wanted, data), is_first in zip(decoded, first, strict=True):
        final = wanted
        if not is_first:
            stem, ext = _split_ext(wanted)
            n = 2
            while (final := _cap(stem, f"-{n}{ext}")).lower() in used:
                n += 1
            used.add(final.lower())
        result.append(Attachment(final, data))
    return result


def sniff(data: bytes, name: str) -> str:
    """The attachment's type from its bytes, the name only breaking ties; MIME is ignored."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"\x1f\x8b"):
        return "gzip"
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "xlsx" if _is_xlsx(data) else "zip"
    text = _as_text(data)
    if text is None:
        return "binary"
    ext = PurePosixPath(name).suffix.lower()
    head = text.lstrip()[:2000].lower()
    if head.startswith("<svg") or ((head.startswith("<?xml") or ext == ".svg") and "<svg" in head):
        return "svg"
    if head[:1] in ("{", "[") and ext not in _TEXT_EXTENSIONS - {".txt"}:
        try:
            json.loads(text)
            return "json"
        except ValueError:
            pass
    if ext in (".csv", ".tsv") or (ext not in _TEXT_EXTENSIONS and _looks_csv(text)):
        return "csv"
    return "text"


def _is_xlsx(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return any(n.startswith("xl/") for n in zf.namelist())
    except (zipfile.BadZipFile, ValueError):
        return False


def _as_text(data: bytes) -> str | None:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            return None
    if b"\x00" in data:
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        printable = sum(32 <= b < 127 or b in (9, 10, 13) for b in data[:4096])
        return data.decode("cp1252", "replace") if printable > 0.95 * len(data[:4096]) else None


def _looks_csv(text: str) -> bool:
    lines = [ln for ln in text.splitlines()[:20] if ln.strip()]
    if len(lines) < 2:
        return False
    for sep in (",", ";", "\t"):
        counts = {ln.count(sep) for ln in lines}
        if len(counts) == 1 and counts.pop() > 0:
            return True
    return False


def describe(att: Attachment) -> str:
    """A short note for the model: name, sniffed type, size and a bounded preview; never base64."""
    kind = sniff(att.data, att.name)
    head = f"Attachment `{att.name}` ({_LABELS[kind]}, {len(att.data)} bytes) at the repo root"
    detail = ""
    if kind in ("png", "jpeg", "gif", "webp"):
        size = image_size(att.data)
        head += f", {size[0]}x{size[1]} pixels" if size else ""
    elif kind == "xlsx":
        try:
            view = xlsx_to_csv(att.data)
            rows = max(len(view.splitlines()) - 1, 0)
            head += f"; first sheet as CSV (header + {rows} rows)"
            detail = _fence(_clip(view), "csv")
        except AttachmentError as exc:
            head += f"; its first sheet could not be read ({exc})"
    elif kind in ("csv", "json", "text", "svg"):
        text = _as_text(att.data) or ""
        if kind == "csv":
            lines = [r for r in text.splitlines() if r.strip()]
            header = lines[0][:200] if lines else ""
            head += f"; header `{header}` and {max(len(lines) - 1, 0)} data rows"
        detail = _fence(_clip(text), {"csv": "csv", "json": "json", "svg": "xml"}.get(kind, ""))
    return (head + "." + ("\n" + detail if detail else ""))[:3000]


def _clip(text: str) -> str:
    lines = text.splitlines()
    clipped = "\n".join(lines[:HEAD_LINES])[:HEAD_CHARS]
    more = len(lines) > HEAD_LINES or len(text.rstrip("\n")) > len(clipped)
    return clipped + ("\n… (truncated)" if more else "")


def _fence(text: str, lang: str) -> str:
    ticks = "```"
    while ticks in text:
        ticks += "`"
    return f"{ticks}{lang}\n{text}\n{ticks}"
