"""Attachments: decode ``data:`` URIs, pick safe root-level names, and describe them for the model.

The MIME type in a data URI is often odd or wrong (``data:@file/zip;base64,…``), so we trust the
bytes and the name, never the claim.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import re
import struct
import unicodedata
import zipfile
from pathlib import PurePosixPath
from urllib.parse import unquote_to_bytes
from xml.etree import ElementTree

from action.errors import AttachmentError
from action.payload import Attachment

MAX_NAME = 100
HEAD_LINES = 20
HEAD_CHARS = 2000
XLSX_MAX_XML = 20_000_000  # refuse to inflate sheets beyond this (zip bombs)
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


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height read from a PNG, GIF, JPEG or WebP header, or None."""
    if data.startswith(b"\x89PNG") and len(data) >= 24:
        w, h = struct.unpack(">II", data[16:24])
        return int(w), int(h)
    if data[:3] == b"GIF" and len(data) >= 10:
        w, h = struct.unpack("<HH", data[6:10])
        return int(w), int(h)
    if data[:4] == b"RIFF" and data[12:16] == b"VP8X" and len(data) >= 30:
        return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
    if data[:4] == b"RIFF" and data[12:16] == b"VP8 " and len(data) >= 30:
        w, h = struct.unpack("<HH", data[26:30])
        return int(w) & 0x3FFF, int(h) & 0x3FFF
    if data.startswith(b"\xff\xd8"):
        return _jpeg_size(data)
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            i += 1  # tolerate fill bytes / garbage between segments
            continue
        marker = data[i + 1]
        if marker in (0xD8, 0x01, 0xFF) or 0xD0 <= marker <= 0xD7:
            i += 2 if marker != 0xFF else 1
            continue
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            h, w = struct.unpack(">HH", data[i + 5 : i + 9])
            return int(w), int(h)
        i += 2 + length
    return None


def xlsx_to_csv(data: bytes) -> str:
    """The first worksheet of an XLSX workbook as CSV text (stdlib only)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            strings = _read_xml(zf, "xl/sharedStrings.xml")
            shared = [_text_of(si) for si in _iter_local(strings, "si")]
            sheet = _read_xml(zf, _first_sheet_path(zf))
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError, ValueError) as exc:
        raise AttachmentError(f"the workbook is unreadable: {exc}") from None
    if sheet is None:
        raise AttachmentError("the workbook has no worksheet")
    rows: list[list[str]] = []
    for row in _iter_local(sheet, "row"):
        cells: dict[int, str] = {}
        for pos, c in enumerate(_iter_local(row, "c")):
            col = _column_index(c.get("r", "")) if c.get("r") else pos
            cells[col] = _cell_value(c, shared)
        if cells:
            values = [cells.get(i, "") for i in range(max(cells) + 1)]
            rows.append(values)
    width = max((len(r) for r in rows), default=0)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for r in rows:
        writer.writerow(r + [""] * (width - len(r)))
    return out.getvalue()


def _read_xml(zf: zipfile.ZipFile, path: str) -> ElementTree.Element | None:
    if path not in zf.namelist():
        return None
    if zf.getinfo(path).file_size > XLSX_MAX_XML:
        raise ValueError(f"{path} is too large to read")
    raw = zf.read(path)
    if b"<!DOCTYPE" in raw[:4096].upper():
        raise ValueError("DTDs are not allowed in workbooks")  # entity-expansion defence
    return ElementTree.fromstring(raw)


def _first_sheet_path(zf: zipfile.ZipFile) -> str:
    book, rels = _read_xml(zf, "xl/workbook.xml"), _read_xml(zf, "xl/_rels/workbook.xml.rels")
    if book is not None and rels is not None:
        targets = {r.get("Id"): r.get("Target", "") for r in _iter_local(rels, "Relationship")}
        for sheet in _iter_local(book, "sheet"):
            rid = next((v for k, v in sheet.attrib.items() if k.endswith("}id")), None)
            target = targets.get(rid, "")
            if target:
                return target.lstrip("/") if target.startswith("/") else f"xl/{target}"
    return "xl/worksheets/sheet1.xml"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _iter_local(root: ElementTree.Element | None, name: str) -> list[ElementTree.Element]:
    return [] if root is None else [e for e in root.iter() if _local(e.tag) == name]


def _text_of(el: ElementTree.Element) -> str:
    # Rich-text runs split a string over several <t>; phonetic hints (<rPh>) are not content.
    if _local(el.tag) == "rPh":
        return ""
    own = (el.text or "") if _local(el.tag) == "t" else ""
    return own + "".join(_text_of(child) for child in el)


def _column_index(ref: str) -> int:
    n = 0
    for ch in ref:
        if not ch.isalpha():
            break
        n = n * 26 + (ord(ch.upper()) - 64)
    return max(n - 1, 0)


def _cell_value(c: ElementTree.Element, shared: list[str]) -> str:
    kind = c.get("t", "n")
    v = next((e.text or "" for e in c if _local(e.tag) == "v"), "")
    if kind == "s":
        return shared[int(v)] if v.isdigit() and int(v) < len(shared) else ""
    if kind == "inlineStr":
        return "".join(_text_of(e) for e in c if _local(e.tag) == "is")
    if kind == "b":
        return "TRUE" if v == "1" else "FALSE"
    if kind == "n" and v:
        try:
            number = float(v)
        except ValueError:
            return v
        # Shortest round-trip form: Excel stores 20.95 as 20.949999999999999.
        return str(int(number)) if number.is_integer() and abs(number) < 1e16 else repr(number)
    return v
