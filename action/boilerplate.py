"""The LICENSE and README every generated repo must have, written when missing or inadequate.

Both go through ``action.writer.write_files``, so a symlinked or otherwise unsafe LICENSE or
README is refused rather than followed.
"""

from __future__ import annotations

import datetime
from pathlib import Path

from action.errors import ActionError
from action.writer import write_files

MIT_TEMPLATE = """MIT License

Copyright (c) {year} {holder}

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""


def ensure_license(root: Path, holder: str, year: int | None = None) -> bool:
    """Write an MIT LICENSE when it is missing or not MIT; True when written."""
    current = _read_regular(Path(root) / "LICENSE")
    if current is not None and "is hereby granted" in current:
        return False
    year = year or datetime.datetime.now(datetime.UTC).year
    text = MIT_TEMPLATE.format(year=year, holder=" ".join(holder.split()) or "the authors")
    _write_or_raise(Path(root), "LICENSE", text)
    return True


def _read_regular(path: Path) -> str | None:
    if path.is_symlink() or not path.is_file():
        return None
    return path.read_text("utf-8", errors="replace")


def _write_or_raise(root: Path, path: str, text: str) -> None:
    result = write_files(root, {path: text})
    if result.refused:
        raise ActionError(f"{path} could not be written: {result.refused[0][1]}.")


README_MIN_CHARS = 200
_DESCRIPTIONS = {
    "index.html": "the page itself; its main script is inline so the page works as one file",
    "LICENSE": "the MIT license",
    "README.md": "this file",
}
_BY_SUFFIX = {
    ".js": "JavaScript loaded by the page",
    ".css": "styles",
    ".json": "JSON data",
    ".csv": "CSV data",
    ".md": "Markdown text",
    ".py": "a Python script",
    ".svg": "an SVG image",
    ".png": "an image",
    ".txt": "a text file",
    ".xlsx": "an Excel workbook",
    ".yml": "YAML",
}


def ensure_readme(root: Path, title: str, summary: str) -> bool:
    """Write a complete README.md when missing or trivially short; True when written.

    ``summary`` is prose written for readers; never pass the confidential brief itself.
    """
    current = _read_regular(Path(root) / "README.md")
    if current is not None and len(current.strip()) >= README_MIN_CHARS:
        return False
    _write_or_raise(Path(root), "README.md", render_readme(Path(root), title, summary))
    return True


def render_readme(root: Path, title: str, summary: str) -> str:
    """The README text: Summary, Setup, Usage, Code explanation and License sections."""
    names = sorted(
        p.name + ("/" if p.is_dir() else "")
        for p in Path(root).iterdir()
        if not p.name.startswith(".")
    )
    shown = sorted(set(names) | {"README.md", "LICENSE"})[:40]
    listing = "\n".join(f"- `{n}`: {_describe_file(n)}" for n in shown)
    return f"""# {title.strip() or "Project"}

## Summary

{summary.strip() or "A static web app published with GitHub Pages."}

## Setup

Nothing to install: this is a static site. To run it locally, clone the repository and serve
the folder with any static web server, for example:

```sh
python -m http.server 8000
```

then open <http://localhost:8000/>.

## Usage

Open the published GitHub Pages site (or the local server above) in a browser. The page runs
entirely in the browser; files at the repository root are served at the same relative paths.

## Code explanation

{listing}

## License

Released under the MIT License; see [LICENSE](LICENSE).
"""


def _describe_file(name: str) -> str:
    if name in _DESCRIPTIONS:
        return _DESCRIPTIONS[name]
    if name.endswith("/"):
        return "a folder of supporting files"
    return _BY_SUFFIX.get(Path(name).suffix.lower(), "a supporting file")
