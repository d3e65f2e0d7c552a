"""Readers for the file formats attachments arrive in: image dimensions and spreadsheets as CSV.

Standard library only, so the Action needs neither Pillow nor openpyxl.
"""

from __future__ import annotations

import csv
import io
import struct
import zipfile
from xml.etree import ElementTree

from action.errors import AttachmentError

XLSX_MAX_XML = 20_000_000  # refuse to inflate sheets beyond this (zip bombs)


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
