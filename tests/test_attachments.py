"""Attachments: data-URI decoding, safe names, sniffing and model-facing descriptions."""

from __future__ import annotations

import base64
import io
import json
import struct
import zipfile
import zlib
from pathlib import Path

import openpyxl
import pytest

from action.attachments import (
    decode_data_uri,
    describe,
    from_request,
    safe_name,
    sniff,
)
from action.errors import AttachmentError
from action.formats import image_size, xlsx_to_csv
from action.job import Attachment

TASKS = Path(__file__).resolve().parents[2] / "shared" / "tasks"
B64 = base64.b64encode(b"hello, world!\n").decode()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"data:text/plain;base64,{B64}", b"hello, world!\n"),
        (f"data:@file/zip;base64,{B64}", b"hello, world!\n"),
        (f"data:;base64,{B64}", b"hello, world!\n"),
        (f"DATA:TEXT/PLAIN;BASE64,{B64}", b"hello, world!\n"),
        (f"data:text/plain;charset=utf-8;base64,{B64}", b"hello, world!\n"),
        (f"data:text/plain;base64,{B64.rstrip('=')}", b"hello, world!\n"),
        ("data:;base64," + "\n  ".join([B64[:6], B64[6:12], B64[12:]]), b"hello, world!\n"),
        ("data:;base64," + B64.replace("=", "%3D"), b"hello, world!\n"),
        ("data:;base64," + base64.urlsafe_b64encode(b"\xfb\xff").decode(), b"\xfb\xff"),
        ("data:text/plain,hello%2C%20world%21", b"hello, world!"),
        ("data:,a%0Ab", b"a\nb"),
        ("data:text/plain,caf\u00e9", "caf\u00e9".encode()),
        ("data:;base64,", b""),
    ],
    ids=[
        "plain",
        "odd-mime",
        "no-mime",
        "upper",
        "charset",
        "no-padding",
        "whitespace",
        "percent-padding",
        "urlsafe",
        "percent-text",
        "newline",
        "utf8-text",
        "empty",
    ],
)
def test_decode_data_uri(url: str, expected: bytes) -> None:
    assert decode_data_uri("a.txt", url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/a.csv",
        "",
        "data:text/plain;base64",
        "data:;base64,abcde",
        "data:;base64,ab!d",
    ],
    ids=["http", "empty", "no-comma", "bad-length", "bad-char"],
)
def test_decode_data_uri_errors_name_the_attachment_not_the_url(url: str) -> None:
    with pytest.raises(AttachmentError) as caught:
        decode_data_uri("secret-sheet.csv", url)
    message = str(caught.value)
    assert "secret-sheet.csv" in message
    assert not url or url not in message


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("data.csv", "data.csv"),
        ("../../etc/passwd", "passwd"),
        ("dir/sub/file.txt", "file.txt"),
        ("C:\\Users\\me\\report.pdf", "report.pdf"),
        ("..", "attachment"),
        ("", "attachment"),
        ("...", "attachment"),
        (".git", "git"),
        (".github", "github"),
        (".env", "env"),
        ("a\x00b\x1fc.txt", "a_b_c.txt"),
        ("what?.txt", "what_.txt"),
        ("CON.txt", "_CON.txt"),
        ("  spaced name.md  ", "spaced name.md"),
        ("trailing.", "trailing"),
        ("x" * 300 + ".csv", "x" * 96 + ".csv"),
        ("é" * 200 + ".png", "é" * 96 + ".png"),
    ],
    ids=[
        "plain",
        "traversal",
        "dirs",
        "windows",
        "dotdot",
        "empty",
        "dots",
        "git",
        "github",
        "hidden",
        "control",
        "reserved-char",
        "windows-reserved",
        "spaces",
        "trailing-dot",
        "long",
        "long-unicode",
    ],
)
def test_safe_name(name: str, expected: str) -> None:
    assert safe_name(name) == expected
    assert len(safe_name(name)) <= 100


def test_from_request_renames_clashes_deterministically() -> None:
    url = f"data:;base64,{B64}"
    items = [
        {"name": "data.csv", "url": url},
        {"name": "sub/data.csv", "url": "data:,two"},
        {"name": "DATA.csv", "url": "data:,three"},
        {"name": "data-2.csv", "url": "data:,four"},
    ]
    names = [a.name for a in from_request(items)]
    assert names == ["data.csv", "data-3.csv", "DATA-4.csv", "data-2.csv"]
    assert names == [a.name for a in from_request(items)]
    assert from_request(items)[1].data == b"two"


@pytest.mark.parametrize(
    "items", [[{"name": "x"}], ["not a dict"], "nope"], ids=["no-url", "not-dict", "not-list"]
)
def test_from_request_rejects_malformed_items(items: object) -> None:
    with pytest.raises(AttachmentError):
        from_request(items)  # type: ignore[arg-type]


def _png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    raw = b"".join(b"\x00" + b"\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _jpeg(width: int, height: int) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof + b"\xff\xd9"


def _zip(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, body in entries.items():
            zf.writestr(name, body)
    return out.getvalue()


def _xlsx(rows: list[list[object]]) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


GIF = b"GIF89a" + struct.pack("<HH", 31, 17) + b"\x00" * 20
WEBP = (
    b"RIFF"
    + b"\x00" * 4
    + b"WEBPVP8X"
    + b"\x00" * 8
    + (99).to_bytes(3, "little")
    + (49).to_bytes(3, "little")
)


@pytest.mark.parametrize(
    ("data", "name", "expected"),
    [
        (_png(3, 2), "x.bin", "png"),
        (_jpeg(640, 480), "photo.png", "jpeg"),
        (GIF, "a.gif", "gif"),
        (WEBP, "a.webp", "webp"),
        (b"%PDF-1.7\n...", "doc.txt", "pdf"),
        (_zip({"a.txt": b"x"}), "a.xlsx", "zip"),
        (_xlsx([["a", 1]]), "data.zip", "xlsx"),
        (b"\x1f\x8b\x08\x00rest", "a.gz", "gzip"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"/>', "a.txt", "svg"),
        (b'<?xml version="1.0"?>\n<svg/>', "pelican.svg", "svg"),
        (b'{"a": 1}', "rates.txt", "json"),
        (b'{"a": 1', "broken.json", "text"),
        (b"a,b\n1,2\n3,4\n", "data.csv", "csv"),
        (b"a,b\n1,2\n3,4\n", "data", "csv"),
        (b"a,b\n1,2\n3,4\n", "notes.md", "text"),
        (b"just one line, with a comma", "x.csv", "csv"),
        (b"\xef\xbb\xbfhello", "bom.txt", "text"),
        (b"# Title\n\nSome text.", "input.md", "text"),
        (b"\x00\x01\x02\xff\xfe", "blob", "binary"),
        (b"", "empty.txt", "text"),
    ],
    ids=[
        "png",
        "jpeg-misnamed",
        "gif",
        "webp",
        "pdf",
        "zip",
        "xlsx-misnamed",
        "gzip",
        "svg",
        "svg-xml",
        "json",
        "broken-json",
        "csv",
        "csv-by-content",
        "csv-in-md",
        "csv-by-name",
        "bom",
        "markdown",
        "binary",
        "empty",
    ],
)
def test_sniff(data: bytes, name: str, expected: str) -> None:
    assert sniff(data, name) == expected


@pytest.mark.parametrize(
    ("data", "size"),
    [
        (_png(220, 70), (220, 70)),
        (_jpeg(640, 480), (640, 480)),
        (GIF, (31, 17)),
        (WEBP, (100, 50)),
        (b"\xff\xd8\xff", None),
        (b"nope", None),
    ],
    ids=["png", "jpeg", "gif", "webp", "truncated-jpeg", "not-image"],
)
def test_image_size(data: bytes, size: tuple[int, int] | None) -> None:
    assert image_size(data) == size


def _task_attachments() -> list[Attachment]:
    found = []
    for path in sorted(TASKS.glob("*.json")):
        found.extend(from_request(json.loads(path.read_text()).get("attachments", [])))
    return found


def test_real_task_attachments_decode_and_describe() -> None:
    atts = {a.name: a for a in _task_attachments()}
    assert {
        "data.csv",
        "sales.csv",
        "input.md",
        "rates.json",
        "sample.png",
        "data.xlsx",
        "execute.py",
        "uid.txt",
    } <= set(atts)
    kinds = {name: sniff(a.data, name) for name, a in atts.items()}
    assert kinds["data.xlsx"] == "xlsx" and kinds["sample.png"] == "png"
    assert kinds["rates.json"] == "json" and kinds["sales.csv"] == "csv"
    assert kinds["execute.py"] == "text" and kinds["input.md"] == "text"
    for att in atts.values():
        note = describe(att)
        assert att.name in note and str(len(att.data)) in note
        assert len(note) <= 3000
        assert base64.b64encode(att.data[:30]).decode()[:20] not in note
    assert "220x70 pixels" in describe(atts["sample.png"])
    assert "header `category,sales` and 60 data rows" in describe(atts["sales.csv"])
    assert "revenew" in describe(atts["execute.py"])
    assert '"INR": 83.1' in describe(atts["rates.json"])


def test_real_xlsx_converts_like_openpyxl_reads_it() -> None:
    att = next(a for a in _task_attachments() if a.name == "data.xlsx")
    text = xlsx_to_csv(att.data)
    ws = openpyxl.load_workbook(io.BytesIO(att.data)).active
    assert ws is not None
    expected = [",".join(str(v) for v in row) for row in ws.iter_rows(values_only=True)]
    assert text.splitlines() == expected
    note = describe(att)
    assert "date,region,product,units,price" in note
    assert "header + 60 rows" in note


def test_xlsx_shared_strings_gaps_and_types() -> None:
    data = _xlsx([["name", "n", "ok"], ["a, quoted", 0.1 + 0.2, True], [None, 3, None], ["z"]])
    assert xlsx_to_csv(data).splitlines() == [
        "name,n,ok",
        '"a, quoted",0.3,TRUE',
        ",3,",
        "z,,",
    ]


MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def test_excel_style_workbook_with_shared_strings_and_a_renamed_first_sheet() -> None:
    # Excel itself writes shared strings (openpyxl writes inline ones), rich-text runs with
    # phonetic hints, and may number sheets in any order.
    data = _zip(
        {
            "xl/workbook.xml": f'<workbook xmlns="{MAIN}" xmlns:r="{REL}"><sheets>'
            '<sheet name="Data" sheetId="2" r:id="rId7"/>'
            '<sheet name="Other" sheetId="1" r:id="rId1"/>'
            "</sheets></workbook>".encode(),
            "xl/_rels/workbook.xml.rels": b'<Relationships xmlns="http://schemas.openxmlformats.org/'
            b'package/2006/relationships"><Relationship Id="rId1" Target="worksheets/sheet1.xml"/>'
            b'<Relationship Id="rId7" Target="/xl/worksheets/sheet9.xml"/></Relationships>',
            "xl/sharedStrings.xml": f'<sst xmlns="{MAIN}"><si><t>city</t></si><si><r><t>Del</t></r>'
            "<r><t>hi</t></r><rPh><t>DERI</t></rPh></si></sst>".encode(),
            "xl/worksheets/sheet1.xml": f'<worksheet xmlns="{MAIN}"><sheetData><row><c t="s">'
            "<v>0</v></c></row></sheetData></worksheet>".encode(),
            "xl/worksheets/sheet9.xml": f'<worksheet xmlns="{MAIN}"><sheetData>'
            '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="C1" t="str"><v>x</v></c></row>'
            '<row r="3"><c r="B3" t="s"><v>1</v></c><c r="C3"><v>1.5E3</v></c></row>'
            "</sheetData></worksheet>".encode(),
        }
    )
    assert sniff(data, "book") == "xlsx"
    assert xlsx_to_csv(data).splitlines() == ["city,,x", ",Delhi,1500"]


@pytest.mark.parametrize(
    "data",
    [
        _zip({"xl/workbook.xml": b"<not xml"}),
        _zip({"xl/other.xml": b"<a/>"}),
        _zip({"xl/worksheets/sheet1.xml": b'<!DOCTYPE x [<!ENTITY a "b">]><x/>'}),
    ],
    ids=["broken-xml", "no-sheet", "dtd"],
)
def test_unreadable_xlsx_is_described_not_raised(data: bytes) -> None:
    with pytest.raises(AttachmentError):
        xlsx_to_csv(data)
    assert "could not be read" in describe(Attachment("book.xlsx", data))


@pytest.mark.parametrize(
    ("att", "present", "absent"),
    [
        (
            Attachment("big.txt", "\n".join(f"line {i}" for i in range(500)).encode()),
            ["line 19", "truncated"],
            ["line 20\n"],
        ),
        (Attachment("wide.txt", b"x" * 50_000), ["truncated"], []),
        (Attachment("fence.md", b"```js\ncode\n```\n"), ["````\n```js"], []),
        (Attachment("blob.bin", bytes(range(256)) * 40), ["binary data", "10240 bytes"], ["\n"]),
        (Attachment("a.zip", _zip({"a.txt": b"hello"})), ["ZIP archive"], ["hello"]),
    ],
    ids=["many-lines", "one-long-line", "nested-fence", "binary", "zip"],
)
def test_describe_is_bounded(att: Attachment, present: list[str], absent: list[str]) -> None:
    note = describe(att)
    assert len(note) <= 3000
    for text in present:
        assert text in note
    for text in absent:
        assert text not in note
