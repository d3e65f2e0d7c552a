"""A clearly labelled page built from the brief alone, for when no language model is available."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from urllib.parse import quote

from action.job import Job

# `title is "X"`, `title to "X"`, `title: "X"`, with quotes, backticks or curly quotes.
_BRIEF_TITLE = re.compile(
    r"\btitle\b[^\"`“\n]{0,30}?\b(?:is|to|as|of)?\s*[:=]?\s*[\"`“]([^\"`”\n]{1,200})[\"`”]",
    re.IGNORECASE,
)
_CHECK_TITLE = re.compile(r"document\.title\s*===?\s*([\"'`])(.{1,200}?)\1")

# The page's own script: it must be the first <script> (the evaluator reads only that one).
_SCRIPT = """
const ATTACHMENTS = %s;

function parseCsv(text) {
  const rows = [];
  let row = [], cell = "", quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i++; }
      else if (c === '"') { quoted = false; }
      else { cell += c; }
    } else if (c === '"') { quoted = true; }
    else if (c === ",") { row.push(cell); cell = ""; }
    else if (c === "\\n" || c === "\\r") {
      if (c === "\\r" && text[i + 1] === "\\n") i++;
      row.push(cell); rows.push(row); row = []; cell = "";
    } else { cell += c; }
  }
  if (cell !== "" || row.length) { row.push(cell); rows.push(row); }
  return rows;
}

async function preview(name, target) {
  try {
    const response = await fetch(encodeURI(name));
    if (!response.ok) throw new Error("HTTP " + response.status);
    const rows = parseCsv(await response.text()).slice(0, 11);
    const table = document.createElement("table");
    rows.forEach((cells, index) => {
      const tr = table.insertRow();
      cells.forEach((value) => {
        const cell = document.createElement(index === 0 ? "th" : "td");
        cell.textContent = value;
        tr.appendChild(cell);
      });
    });
    target.replaceChildren(table);
  } catch (error) {
    target.textContent = "Could not load " + name + ": " + error.message;
  }
}

window.addEventListener("DOMContentLoaded", () => {
  ATTACHMENTS.filter((name) => name.toLowerCase().endsWith(".csv")).forEach((name) => {
    const target = document.querySelector('[data-preview="' + CSS.escape(name) + '"]');
    if (target) preview(name, target);
  });
});
"""

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;"
    "line-height:1.5}.notice{background:#fff4ce;border:1px solid #e0c060;padding:.75rem 1rem}"
    "pre{white-space:pre-wrap;background:#f6f8fa;padding:1rem}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25rem .5rem}"
)


def title_for(job: Job) -> str:
    """The title the checks or the brief ask for, else one made from the task id."""
    for check in job.checks:
        text = check.get("js", "") if isinstance(check, dict) else check
        found = _CHECK_TITLE.search(text)
        if found:
            return found.group(2)
    found = _BRIEF_TITLE.search(job.brief)
    if found:
        return found.group(1).strip()
    return job.task


def _inline_json(value: object) -> str:
    # "</script>" or "<!--" inside a string would end or confuse the inline script.
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e")


def _attachment_items(names: list[str]) -> str:
    items = []
    for name in names:
        link = f'<a href="{html.escape(quote(name))}">{html.escape(name)}</a>'
        if name.lower().endswith(".csv"):
            link += f'\n      <div data-preview="{html.escape(name)}">Loading preview…</div>'
        items.append(f"    <li>{link}</li>")
    return "\n".join(items)


def _index_html(job: Job, title: str, names: list[str]) -> str:
    attachments = (
        f"  <h2>Attachments</h2>\n  <ul>\n{_attachment_items(names)}\n  </ul>\n"
        if names
        else "  <p>This request came with no attachments.</p>\n"
    )
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n  <meta charset="utf-8">\n'
        '  <meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"  <title>{html.escape(title, quote=False)}</title>\n"
        f"  <script>{_SCRIPT % _inline_json(names)}</script>\n"
        f"  <style>{_STYLE}</style>\n</head>\n<body>\n"
        f"  <h1>{html.escape(title, quote=False)}</h1>\n"
        '  <p class="notice">This page was generated without a language model, so it shows the '
        "request instead of a finished app. See README.md for the reason.</p>\n"
        f"  <h2>Brief</h2>\n  <pre>{html.escape(job.brief, quote=False)}</pre>\n"
        f"{attachments}</body>\n</html>\n"
    )


def _readme(job: Job, title: str, reason: str, names: list[str]) -> str:
    listing = "".join(f"- `{name}`\n" for name in names) or "- none\n"
    return (
        f"# {title}\n\n"
        "> **Generated without a language model.** "
        f"{reason.strip() or 'No model was available.'}\n\n"
        "## Summary\n\n"
        f"This repository holds a placeholder page for the task `{job.task}` (round {job.round}). "
        "Because no language model was available, the page shows the brief and links the "
        "attached files instead of implementing the app. Re-run the deployment with a model "
        "configured to build the real app.\n\n"
        "Attached files:\n\n"
        f"{listing}\n"
        "## Setup\n\n"
        "Nothing to install: it is a static site. Serve the folder with any web server, for "
        "example `python -m http.server`, or publish it with GitHub Pages.\n\n"
        "## Usage\n\n"
        "Open `index.html` in a browser. It shows the brief, links each attachment and shows a "
        "preview table of every CSV attachment.\n\n"
        "## Code explanation\n\n"
        "`index.html` is a single page with one inline script. The script lists the attached "
        "files, fetches each CSV file by its relative path, parses it (quoted fields included) "
        "and renders its first rows as an HTML table with `textContent`, so file contents are "
        "never interpreted as markup.\n\n"
        "## License\n\n"
        "MIT: see `LICENSE`.\n"
    )


_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


def _round_id(job: Job) -> str:
    return f"llm-deploy-round-{job.round}"


def _round_section(job: Job, names: list[str]) -> str:
    files = f"  <ul>\n{_attachment_items(names)}\n  </ul>\n" if names else ""
    return (
        f'<section id="{_round_id(job)}">\n'
        f"  <h2>Round {job.round} request (not built yet)</h2>\n"
        '  <p class="notice">This part was added without a language model: the page above is '
        "kept as it was, and the new request is shown here instead of being implemented.</p>\n"
        f"  <pre>{html.escape(job.brief, quote=False)}</pre>\n{files}</section>\n"
    )


def _revised_index(job: Job, page: str, names: list[str]) -> str:
    """The earlier page with this round's request added before ``</body>`` (once per round)."""
    section = _round_section(job, names)
    earlier = re.compile(rf'<section id="{re.escape(_round_id(job))}">.*?</section>\n?', re.DOTALL)
    if earlier.search(page):  # a re-run of this round replaces its own section
        return earlier.sub(lambda _m: section, page, count=1)
    ends = list(_BODY_END.finditer(page))
    if not ends:
        return page.rstrip("\n") + "\n" + section
    cut = ends[-1].start()
    return page[:cut] + section + page[cut:]


def _revised_readme(job: Job, readme: str, reason: str) -> str:
    heading = f"## Round {job.round} request (not built yet)"
    if heading in readme:
        return readme
    return (
        readme.rstrip("\n") + f"\n\n{heading}\n\n"
        "> **Generated without a language model.** "
        f"{reason.strip() or 'No model was available.'}\n\n"
        f"The app above is kept as round {job.round - 1} left it; `index.html` shows the new "
        "request in a section at the end of the page. Re-run the deployment with a model "
        "configured to build it.\n"
    )


def generate_offline(
    job: Job, reason: str, current: Mapping[str, str] | None = None
) -> dict[str, str]:
    """``index.html`` and ``README.md`` for a job, built without a model; ``reason`` says why.

    In a later round ``current`` holds the files the earlier rounds left (``index.html``,
    ``README.md``): the page is kept and the new brief is added to it, never put in its place.
    """
    names = [a.name for a in job.attachments]
    current = current or {}
    page = current.get("index.html")
    if job.round > 1 and page:
        files = {"index.html": _revised_index(job, page, names)}
        readme = current.get("README.md")
        if readme:
            files["README.md"] = _revised_readme(job, readme, reason)
        else:
            files["README.md"] = _readme(job, title_for(job), reason, names)
        return files
    title = title_for(job)
    return {
        "index.html": _index_html(job, title, names),
        "README.md": _readme(job, title, reason, names),
    }
