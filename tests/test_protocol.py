"""The model answer envelope: parsing file/edit blocks and applying edits tolerantly."""

from __future__ import annotations

import pytest

from action.errors import ProtocolError
from action.protocol import (
    EditBlock,
    FileBlock,
    ParseResult,
    apply_edits,
    parse,
    parse_report,
)

REALISTIC = """Sure! Here is the app.

<file path="index.html">
<!DOCTYPE html>
<html lang="en">
<head><title>Sales Summary 601</title></head>
<body>
<h1>Sales</h1>
<p id="total-sales">0</p>
<script>
  const closer = "</file>"; // a literal close tag inside the content
  fetch("data.csv").then(r => r.text()).then(t => {
    document.querySelector("#total-sales").textContent = t.length;
  });
</script>
</body>
</html>
</file>

And the styles:

<file path='style.css'>
```css
body { margin: 0; }
```
</file>

<file path="README.md">
# Sales Summary

Shows the total of `data.csv`.
</file>
Let me know if you need anything else.
"""


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ('<file path="a.txt">\nhello\n</file>', [FileBlock("a.txt", "hello")]),
        ('<file path="a.txt">hello</file>', [FileBlock("a.txt", "hello")]),
        ('<file path="a.txt">\n\nhello\n\n</file>', [FileBlock("a.txt", "\nhello\n")]),
        ("<file path='a.txt'>\nx\n</file>", [FileBlock("a.txt", "x")]),
        ("<file path=a.txt>\nx\n</file>", [FileBlock("a.txt", "x")]),
        ('<FILE PATH="./a.txt">x</FILE>', [FileBlock("a.txt", "x")]),
        ('<file path="a.txt">\r\nx\r\n</file>', [FileBlock("a.txt", "x")]),
        (
            '<file path="a.html">\n```html\n<p>hi</p>\n```\n</file>',
            [FileBlock("a.html", "<p>hi</p>")],
        ),
        (
            '<file path="a.md">\nText\n```js\nx()\n```\n</file>',
            [FileBlock("a.md", "Text\n```js\nx()\n```")],
        ),
        ('<file path="a.md">\n```\nx\n````\n</file>', [FileBlock("a.md", "```\nx\n````")]),
        (
            '<file path="a.js">\nconst s = "</file>";\n</file>\n<file path="b.js">\nb\n</file>',
            [FileBlock("a.js", 'const s = "</file>";'), FileBlock("b.js", "b")],
        ),
        ('<file path="a.js">\nx = "</file>"\n</file>', [FileBlock("a.js", 'x = "</file>"')]),
        ('intro\n```xml\n<file path="a">\n1\n</file>\n```\noutro', [FileBlock("a", "1")]),
        (
            '<edit path="a.py"><search>\nold\n</search><replace>\nnew\n</replace></edit>',
            [EditBlock("a.py", "old", "new")],
        ),
        (
            '<edit path="a.py">\n<search>\na\n</search>\n<replace>\nb\n</replace>\n'
            "<search>c</search>\n<replace></replace>\n</edit>",
            [EditBlock("a.py", "a", "b"), EditBlock("a.py", "c", "")],
        ),
        (
            '<edit path="a"><search>x</search><replace>y</replace></edit>\n<file path="b">z</file>',
            [EditBlock("a", "x", "y"), FileBlock("b", "z")],
        ),
    ],
    ids=[
        "basic",
        "inline",
        "one-newline-only",
        "single-quotes",
        "unquoted",
        "case-dotslash",
        "crlf",
        "fenced",
        "inner-fence-kept",
        "mismatched-fence-kept",
        "close-tag-in-js",
        "close-tag-in-last",
        "whole-answer-fenced",
        "edit",
        "edit-pairs",
        "mixed",
    ],
)
def test_parse(answer: str, expected: list[FileBlock | EditBlock]) -> None:
    assert parse(answer) == expected


def test_parse_realistic_multi_file_answer() -> None:
    blocks = parse(REALISTIC)
    assert [b.path for b in blocks] == ["index.html", "style.css", "README.md"]
    html = blocks[0]
    assert isinstance(html, FileBlock)
    assert html.content.startswith("<!DOCTYPE html>") and html.content.endswith("</html>")
    assert 'const closer = "</file>";' in html.content
    assert blocks[1] == FileBlock("style.css", "body { margin: 0; }")
    assert "Let me know" not in blocks[2].content  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            '<file path="a">1</file>\n<file path="b">\n2 and then the tokens ran ou',
            ParseResult([FileBlock("a", "1")], ["b"]),
        ),
        (
            '<file path="a">1</file><edit path="c"><search>x</search><replace>y',
            ParseResult([FileBlock("a", "1")], ["c"]),
        ),
        ("no blocks here", ParseResult([], [])),
    ],
    ids=["truncated-file", "truncated-edit", "nothing"],
)
def test_parse_report(answer: str, expected: ParseResult) -> None:
    assert parse_report(answer) == expected


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        ("Here is your app: ```html <p>hi</p>```", ["no file or edit blocks", '<file path="']),
        ('<file path="index.html">\n<html>cut off', ["truncated", "index.html", "<file path="]),
        ("", ["no file or edit blocks"]),
        ('<edit path="a"></edit>', ["no file or edit blocks"]),
    ],
    ids=["no-blocks", "only-truncated", "empty", "empty-edit"],
)
def test_parse_errors_read_as_corrective_prompts(answer: str, words: list[str]) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse(answer)
    for word in words:
        assert word in str(caught.value)


PY = "def f(x):\n    if x:\n        return 1\n    return 2\n"


@pytest.mark.parametrize(
    ("files", "edits", "expected", "missed"),
    [
        (
            {"a.py": PY},
            [EditBlock("a.py", "return 1", "return 10")],
            {"a.py": PY.replace("return 1", "return 10")},
            [],
        ),
        (
            {"a.py": PY},
            [EditBlock("a.py", "if x:\n    return 1", "if x:\n    return 3")],
            {"a.py": PY.replace("return 1", "return 3")},
            [],
        ),
        (
            {"a.py": PY},
            [EditBlock("a.py", "  if x:   \n      return 1  ", "  if y:\n      return 5")],
            {"a.py": "def f(x):\n    if y:\n        return 5\n    return 2\n"},
            [],
        ),
        (
            {"a.py": PY},
            [EditBlock("a.py", "if   x:\n\treturn    1", "if z: return 0")],
            {"a.py": "def f(x):\n    if z: return 0\n    return 2\n"},
            [],
        ),
        (
            {"a.py": PY},
            [EditBlock("a.py", "return 1\n    return 2", "return 9")],
            {"a.py": "def f(x):\n    if x:\n        return 9\n"},
            [],
        ),
        (
            {"a.py": PY},
            [EditBlock("a.py", "\n\nif x:\n    return 1\n\n", "")],
            {"a.py": "def f(x):\n    return 2\n"},
            [],
        ),
        ({"a.py": PY}, [EditBlock("a.py", "not there", "x")], {"a.py": PY}, ["a.py"]),
        (
            {"a.py": PY},
            [EditBlock("b.py", "", "new file\n")],
            {"a.py": PY, "b.py": "new file\n"},
            [],
        ),
        ({"a.py": PY}, [EditBlock("b.py", "x", "y")], {"a.py": PY}, ["b.py"]),
        ({"a.py": PY}, [EditBlock("a.py", "", "y")], {"a.py": PY}, ["a.py"]),
        (
            {"a.py": PY},
            [
                EditBlock("a.py", "return 2", "return 4"),
                EditBlock("a.py", "nope", "x"),
                EditBlock("a.py", "nope2", "x"),
            ],
            {"a.py": PY.replace("return 2", "return 4")},
            ["a.py"],
        ),
        ({"a": "x\ny\nx\n"}, [EditBlock("a", "x", "z")], {"a": "z\ny\nx\n"}, []),
        ({"a": "a\r\nb\r\n"}, [EditBlock("a", "b  ", "c")], {"a": "a\r\nc\r\n"}, []),
    ],
    ids=[
        "exact",
        "exact-multiline",
        "indent-and-trailing",
        "collapsed-whitespace",
        "dedent-lines",
        "blank-edges-delete",
        "not-found",
        "create",
        "missing-file",
        "empty-search-existing",
        "partial-miss",
        "first-occurrence",
        "crlf",
    ],
)
def test_apply_edits(
    files: dict[str, str], edits: list[EditBlock], expected: dict[str, str], missed: list[str]
) -> None:
    before = dict(files)
    assert apply_edits(files, edits) == (expected, missed)
    assert files == before  # the input is never mutated


def test_round_two_edit_answer_applies_to_round_one_files() -> None:
    round_one = {b.path: b.content for b in parse(REALISTIC) if isinstance(b, FileBlock)}
    answer = (
        "I'll add a table.\n"
        '<edit path="index.html">\n<search>\n<h1>Sales</h1>\n</search>\n'
        '<replace>\n<h1>Sales</h1>\n<table id="product-sales"></table>\n</replace>\n'
        '<search>\n  document.querySelector("#total-sales").textContent = t.length;\n</search>\n'
        "<replace>\n  document.querySelector('#total-sales').textContent = 1;\n</replace>\n"
        "</edit>\n"
        '<edit path="style.css"><search>body{margin:0}</search><replace>x</replace></edit>'
    )
    edits = [b for b in parse(answer) if isinstance(b, EditBlock)]
    updated, missed = apply_edits(round_one, edits)
    assert missed == ["style.css"]
    assert '<h1>Sales</h1>\n<table id="product-sales"></table>\n<p id' in updated["index.html"]
    assert "    document.querySelector('#total-sales').textContent = 1;" in updated["index.html"]
    assert updated["style.css"] == round_one["style.css"]
