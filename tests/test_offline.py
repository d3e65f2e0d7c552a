"""The offline generator: a labelled, well-formed page and README built without a model."""

from __future__ import annotations

import base64
import functools
import shutil
import threading
from collections.abc import Iterator
from dataclasses import replace
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from action.job import Attachment, Check, Job
from action.offline import generate_offline, title_for
from tests.conftest import load_task, task_names


class Page(HTMLParser):
    """Collects what the evaluator reads statically: title, scripts, links, text."""

    def __init__(self) -> None:
        super().__init__()
        self.title = ""
        self.scripts: list[dict[str, Any]] = []
        self.links: list[str] = []
        self.text: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in = tag
        if tag == "script":
            self.scripts.append({"src": dict(attrs).get("src"), "body": ""})
        if tag == "a":
            self.links.append(dict(attrs).get("href") or "")

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "title":
            self.title += data
        elif self._in == "script":
            self.scripts[-1]["body"] += data
        else:
            self.text.append(data)


def parse(html_text: str) -> Page:
    page = Page()
    page.feed(html_text)
    page.close()
    return page


def job_from(name: str) -> Job:
    request = load_task(name)
    return Job(
        task=request["task"],
        round=request["round"],
        brief=request["brief"],
        checks=request["checks"],
        attachments=[
            Attachment(a["name"], base64.b64decode(a["url"].split(",", 1)[1]))
            for a in request["attachments"]
        ],
    )


@pytest.mark.parametrize(
    ("brief", "checks", "title"),
    [
        ("Publish a page whose title is `Sales Summary 601`.", [], "Sales Summary 601"),
        ('Sets the title to "Sales Summary 601", and more.', [], "Sales Summary 601"),
        ("Use the page title: “Biogen”.", [], "Biogen"),
        ("A page with no stated name.", [], "my-task"),
        ("Title is `Brief`.", ["js: document.title === `From Check`"], "From Check"),
        ("x", [{"js": "document.title === 'Obj'"}], "Obj"),
    ],
    ids=["backticks", "double-quotes", "curly-quotes", "none", "check-wins", "object-check"],
)
def test_title_for(brief: str, checks: list[Check], title: str) -> None:
    assert title_for(Job(task="my-task", round=1, brief=brief, checks=checks)) == title


@pytest.mark.parametrize("name", task_names())
def test_page_for_every_request(name: str) -> None:
    job = job_from(name)
    files = generate_offline(job, "LLM_API_KEY is not set.")
    assert set(files) == {"index.html", "README.md"}
    page = parse(files["index.html"])
    assert page.title == title_for(job)
    first = page.scripts[0]
    assert first["src"] is None and "fetch(" in first["body"]
    assert job.brief in "".join(page.text)  # shown, and unescaped back to the same text
    for att in job.attachments:
        assert att.name in page.links
    assert "without a language model" in "".join(page.text)


def test_html_is_escaped() -> None:
    job = Job(
        task="t",
        round=1,
        brief='Title is "<b>Bold & co</b>". Show </script><script>alert(1)</script> literally.',
        attachments=[Attachment('we"ird <name>.csv', b"a,b\n1,2\n")],
    )
    html_text = generate_offline(job, "offline")["index.html"]
    assert "<script>alert(1)" not in html_text
    assert html_text.count("<script>") == 1 and html_text.count("</script>") == 1
    page = parse(html_text)
    assert page.title == "<b>Bold & co</b>"
    assert page.links == ["we%22ird%20%3Cname%3E.csv"]
    assert '"we\\"ird \\u003cname\\u003e.csv"' in page.scripts[0]["body"]


def test_readme_says_why_and_has_every_section() -> None:
    job = job_from("sum-of-sales-601-r1")
    readme = generate_offline(job, "The LLM budget is exhausted.")["README.md"]
    assert readme.startswith("# Sales Summary 601\n")
    assert "Generated without a language model" in readme
    assert "The LLM budget is exhausted." in readme
    for section in ("Summary", "Setup", "Usage", "Code explanation", "License"):
        assert f"\n## {section}\n" in readme
    assert "`data.csv`" in readme


def test_is_pure() -> None:
    job = job_from("LLMPages-r1")
    assert generate_offline(job, "r") == generate_offline(job, "r")


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    job = Job(
        task="csv-demo",
        round=1,
        brief='Show the data. The title is "CSV Demo".',
        attachments=[
            Attachment("sales data.csv", b'product,sales\n"Gadget, large",10.5\nWidget,3\n')
        ],
    )
    for path, content in generate_offline(job, "test").items():
        (tmp_path / path).write_text(content, encoding="utf-8")
    (tmp_path / "sales data.csv").write_bytes(job.attachments[0].data)
    handler = functools.partial(_QuietHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.browser
@pytest.mark.skipif(not shutil.which("chromium"), reason="needs Debian's chromium")
def test_csv_preview_renders_in_a_browser(site: str) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"))
        try:
            page = browser.new_page()
            page.goto(site)
            page.wait_for_selector("[data-preview] table", timeout=10_000)
            texts = "els => els.map(e => e.textContent)"
            cells = page.eval_on_selector_all("[data-preview] td", texts)
            assert page.title() == "CSV Demo"
        finally:
            browser.close()
    assert cells == ["Gadget, large", "10.5", "Widget", "3"]


# -- later rounds keep the earlier page (issue 16 item 4) --------------------------------------

ROUND_ONE_PAGE = (
    "<!doctype html><html><head><title>Sales</title></head>\n"
    '<body><h1 id="total">42</h1>\n</BODY></html>\n'
)
ROUND_TWO = Job(task="sales", round=2, brief="Add a <table> of regions & sums.")


@pytest.mark.parametrize(
    ("page", "ends_with"),
    [(ROUND_ONE_PAGE, "</BODY></html>\n"), ("<h1>no body tag</h1>", "</section>\n")],
    ids=["body-tag", "no-body-tag"],
)
def test_round_two_keeps_the_page_and_adds_the_new_brief(page: str, ends_with: str) -> None:
    readme = "# Sales\n\n## Summary\nTotals.\n"
    current = {"index.html": page, "README.md": readme}
    files = generate_offline(ROUND_TWO, "the model failed", current)
    revised = files["index.html"]
    kept = page.rsplit("</BODY>", 1)[0]
    assert revised.startswith(kept) and revised.endswith(ends_with)
    assert '<section id="llm-deploy-round-2">' in revised
    assert "Add a &lt;table&gt; of regions &amp; sums." in revised
    assert "<title>Sales</title>" in revised or "<title>" not in page
    assert files["README.md"].startswith(readme.rstrip("\n"))
    assert "## Round 2 request (not built yet)" in files["README.md"]
    assert "the model failed" in files["README.md"]


def test_a_rerun_of_round_two_replaces_its_own_section() -> None:
    once = generate_offline(ROUND_TWO, "why", {"index.html": ROUND_ONE_PAGE})["index.html"]
    again = replace(ROUND_TWO, brief="Add a chart instead.")
    twice = generate_offline(again, "why", {"index.html": once})
    assert twice["index.html"].count('<section id="llm-deploy-round-2">') == 1
    assert "Add a chart instead." in twice["index.html"] and "regions" not in twice["index.html"]
    round_three = generate_offline(replace(again, round=3), "why", twice)
    assert "llm-deploy-round-2" in round_three["index.html"]
    assert round_three["index.html"].count("<section id=") == 2
    assert round_three["README.md"].count("not built yet") == 1  # README was generated whole


def test_round_two_without_an_earlier_page_builds_a_whole_one() -> None:
    files = generate_offline(ROUND_TWO, "why", {})
    assert "This page was generated without a language model" in files["index.html"]
