"""Issue 11 item 2: a hostile local site can read neither the dashboard's secret nor receiver JSON.

Local Pages used to be served by the receiver itself, so a generated page shared its origin: it
could read the signed-in dashboard's secret from ``sessionStorage`` and fetch ``/api/dashboard``,
``/runs/N`` and ``/api-deploy/<task>``. Here a hostile page is published as a local site and
opened in Debian's Chromium, in the very tab where the dashboard is signed in. A control runs the
same attack script on the receiver's origin, where it does read everything, so the attack is real.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from receiver.app import create_app
from receiver.config import Settings
from receiver.local.pages import publish_site
from tests.fakes.memory_forge import MemoryForge
from tests.support import CHROMIUM_ARGS, ServerThread, free_socket

SECRET = "dashboard-secret-4711"
CHROMIUM = shutil.which("chromium")

# Reads the dashboard's secret and three kinds of receiver JSON, absolute and relative.
ATTACK = """
async (receiver) => {
  const out = {};
  try { out.secret = sessionStorage.getItem("llm-deploy-secret"); }
  catch (e) { out.secret = "error:" + e.name; }
  const auth = {headers: {authorization: "Bearer " + (out.secret || "guess")}};
  const targets = [["dashboard", "/api/dashboard", auth], ["run", "/runs/1?format=json", {}],
                   ["status", "/api-deploy/victim-task", {}]];
  for (const [name, path, opts] of targets) {
    for (const [how, url] of [["abs", receiver + path], ["rel", path]]) {
      try {
        const r = await fetch(url, opts);
        out[name + "-" + how] = r.status + " " + (await r.text()).slice(0, 200);
      } catch (e) { out[name + "-" + how] = "blocked " + e.name; }
    }
  }
  return out;
}
"""


def _hostile_site(tmp_path: Path, receiver: str) -> Path:
    site = tmp_path / "evil"
    site.mkdir()
    (site / "index.html").write_text(
        "<!doctype html><title>evil</title><script>"
        f"window.attack = ({ATTACK}); window.stolen = window.attack({json.dumps(receiver)});"
        "</script>",
        "utf-8",
    )
    return site


@pytest.mark.browser
def test_hostile_site_reads_no_secret_and_no_receiver_json(tmp_path: Path) -> None:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    sock = free_socket()
    port = sock.getsockname()[1]
    data = tmp_path / "data"
    settings = Settings(
        deploy_secret=SECRET,
        data_dir=data,
        port=port,
        pages_port=0,
        public_url=f"http://127.0.0.1:{port}",
    )
    server = ServerThread(create_app(settings, forge=MemoryForge()), sock)
    receiver = server.start()
    try:
        accepted = httpx.post(
            f"{receiver}/api-deploy",
            timeout=10,
            json={
                "email": "victim@example.com",
                "secret": SECRET,
                "task": "victim-task",
                "round": 1,
                "nonce": "n1",
                "brief": "b",
                "evaluation_url": "https://eval.example/n",
                "checks": [],
                "attachments": [],
            },
        )
        assert accepted.status_code == 200, accepted.text
        (data / "runs").mkdir(exist_ok=True)
        (data / "runs" / "1.json").write_text(
            json.dumps({"run_id": 1, "state": "running", "repo": "victim-task"})
        )
        publish_site(data, "evil", _hostile_site(tmp_path, receiver), "1")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
            )
            try:
                page = browser.new_page()
                page.goto(f"{receiver}/")
                page.fill("#secret", SECRET)
                page.click("#login button[type=submit]")
                page.wait_for_selector("#board", state="visible")
                # Control: on the receiver's origin the attack reads everything.
                same: dict[str, Any] = page.evaluate(f"({ATTACK})({json.dumps(receiver)})")
                assert same["secret"] == SECRET
                assert (
                    same["dashboard-abs"].startswith("200")
                    and "victim-task" in same["dashboard-abs"]
                )
                assert same["run-rel"].startswith("200") and same["status-rel"].startswith("200")

                # The attack: the user follows the receiver's link to the site, in the same tab.
                page.goto(f"{receiver}/pages/evil/")
                assert not page.url.startswith(receiver + "/")  # redirected to another origin
                assert page.title() == "evil"
                stolen: dict[str, Any] = page.evaluate("window.stolen")
            finally:
                browser.close()
    finally:
        server.stop()
    assert stolen["secret"] is None
    for name in ("dashboard", "run", "status"):
        assert stolen[f"{name}-abs"] == "blocked TypeError", stolen  # no CORS: unreadable
        assert stolen[f"{name}-rel"].startswith("404"), stolen  # the sites' origin has no API
    assert "victim" not in json.dumps(stolen)
