"""Fresh instances of the course's published task templates, from a seed (pure).

The course's project page publishes templates (``sum-of-sales``, ``markdown-to-html``,
``github-user-created``) whose instances differ by a seed: the title, the ids, and the attached
data. A model can pass one memorised instance; it cannot memorise a seed it has never seen. Each
instance here draws its numbers, names and attachments from ``random.Random(seed)``, so the same
seed always gives the same requests (a run can be reproduced) and the checks carry the values
computed from the data that was generated.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
from collections.abc import Callable
from typing import Any

Request = dict[str, Any]
Rounds = list[tuple[str, Request]]  # (label, request): "r1", then one "r2…" variant

_PRODUCTS = [
    "Widget",
    "Gadget",
    "Sprocket",
    "Gizmo",
    "Doohickey",
    "Flange",
    "Bracket",
    "Lever",
    "Pulley",
    "Valve",
    "Nozzle",
    "Spindle",
    "Gasket",
    "Rotor",
]
_REGIONS = ("North", "South", "East", "West", "Central")
_WORDS = [
    "river",
    "stone",
    "lantern",
    "harbor",
    "meadow",
    "copper",
    "signal",
    "orchard",
    "summit",
    "canyon",
    "ember",
    "glacier",
    "willow",
    "beacon",
    "prism",
    "quarry",
]
# Odd MIME types are part of the job: the evaluator sent data:@file/… URIs.
_MIMES = {
    "csv": ("text/csv", "@file/csv"),
    "md": ("text/markdown", "@file/markdown"),
    "json": ("application/json", "@file/json"),
}


def _data_uri(rng: random.Random, name: str, data: bytes) -> dict[str, str]:
    mime = rng.choice(_MIMES.get(name.rsplit(".", 1)[-1], ("application/octet-stream",)))
    return {"name": name, "url": f"data:{mime};base64,{base64.b64encode(data).decode()}"}


def _base(template: str, seed: int, rng: random.Random) -> Request:
    digest = hashlib.sha256(f"{template}:{seed}".encode()).hexdigest()[:5]
    return {
        "email": "student@example.com",
        "secret": "replaced-by-the-runner",
        "task": f"{template}-{digest}",
        "round": 1,
        "nonce": f"eval-{digest}-{rng.getrandbits(48):012x}",
        "evaluation_url": "http://127.0.0.1:9/replaced-by-the-runner",
        "attachments": [],
    }


def _round2(
    r1: Request,
    rng: random.Random,
    brief: str,
    checks: list[str],
    attachments: list[dict[str, str]] | None = None,
) -> Request:
    return {
        **r1,
        "round": 2,
        "brief": brief,
        "checks": checks,
        "nonce": f"{r1['nonce']}-r2-{rng.getrandbits(24):06x}",
        "attachments": attachments or [],
    }


def sum_of_sales(seed: int) -> Rounds:
    """Sum a generated sales CSV; round 2 adds a per-product table or a currency picker."""
    rng = random.Random(seed)
    products = rng.sample(_PRODUCTS, rng.randint(3, 6))
    rows = [
        (rng.choice(products), rng.choice(_REGIONS), rng.randint(500, 250_000) / 100)
        for _ in range(rng.randint(15, 40))
    ]
    total = round(sum(r[2] for r in rows), 2)
    csv = "product,region,sales\n" + "".join(f"{p},{g},{s:.2f}\n" for p, g, s in rows)
    r1 = _base("sum-of-sales", seed, rng)
    title = f"Sales Summary {seed}"
    r1 |= {
        "brief": (
            f"Publish a single-page site that fetches data.csv from attachments, sums its "
            f'sales column, sets the title to "{title}", displays the total inside '
            "#total-sales, and loads Bootstrap 5 from jsdelivr."
        ),
        "checks": [
            f"js: document.title === `{title}`",
            "js: !!document.querySelector(\"link[href*='bootstrap']\")",
            'js: Math.abs(parseFloat(document.querySelector("#total-sales").textContent) - '
            f"{total}) < 0.01",
        ],
        "attachments": [_data_uri(rng, "data.csv", csv.encode())],
    }
    table = _round2(
        r1,
        rng,
        (
            "Add a Bootstrap table #product-sales that lists each product with its total sales and "
            "keeps #total-sales accurate after render."
        ),
        [
            'js: document.querySelectorAll("#product-sales tbody tr").length >= '
            f"{len(set(p for p, _, _ in rows))}",
            'js: (() => { const rows = [...document.querySelectorAll("#product-sales tbody tr '
            'td:last-child")]; const sum = rows.reduce((acc, cell) => acc + '
            f"parseFloat(cell.textContent), 0); return Math.abs(sum - {total}) < 0.01; }})()",
        ],
    )
    rates = {"USD": 1, "EUR": round(rng.uniform(0.8, 0.99), 2), "INR": rng.randint(80, 90)}
    currency = _round2(
        r1,
        rng,
        (
            "Introduce a currency select #currency-picker that converts the computed total using "
            "rates.json from attachments and mirrors the active currency inside #total-currency."
        ),
        [
            "js: !!document.querySelector(\"#currency-picker option[value='USD']\")",
            'js: !!document.querySelector("#total-currency")',
        ],
        [_data_uri(rng, "rates.json", json.dumps(rates).encode())],
    )
    return [("r1", r1), rng.choice([("r2-table", table), ("r2-currency", currency)])]


def markdown_to_html(seed: int) -> Rounds:
    """Render a generated Markdown file with marked; round 2 adds tabs or ?url= loading."""
    rng = random.Random(seed)
    words = rng.sample(_WORDS, 6)
    md = (
        f"# {words[0].title()} {words[1]}\n\n{' '.join(rng.choices(_WORDS, k=24))}.\n\n"
        f"## {words[2].title()}\n\n- {words[3]}\n- {words[4]}\n\n```js\n"
        f"console.log({rng.randint(1, 999)});\n```\n"
    )
    r1 = _base("markdown-to-html", seed, rng)
    r1 |= {
        "brief": (
            "Publish a static page that converts input.md from attachments to HTML with "
            "marked, renders it inside #markdown-output, and loads highlight.js for code "
            "blocks."
        ),
        "checks": [
            "js: !!document.querySelector(\"script[src*='marked']\")",
            "js: !!document.querySelector(\"script[src*='highlight.js']\")",
            'js: document.querySelector("#markdown-output").innerHTML.includes("<h")',
        ],
        "attachments": [_data_uri(rng, "input.md", md.encode())],
    }
    tabs = _round2(
        r1,
        rng,
        (
            "Add tabs #markdown-tabs that switch between rendered HTML in #markdown-output and the "
            "original Markdown in #markdown-source while keeping content in sync."
        ),
        [
            'js: document.querySelectorAll("#markdown-tabs button").length >= 2',
            # The source pane shows the Markdown itself, heading marker included.
            f'js: document.querySelector("#markdown-source").textContent.includes('
            f'"# {words[0].title()}")',
        ],
    )
    url = _round2(
        r1,
        rng,
        (
            "Support loading Markdown from a ?url= parameter when present and fall back to the "
            "attachment otherwise, showing the active source in #markdown-source-label."
        ),
        [
            'js: document.querySelector("#markdown-source-label").textContent.length > 0',
            'js: !!document.querySelector("script").textContent.includes("fetch(")',
        ],
    )
    return [("r1", r1), rng.choice([("r2-tabs", tabs), ("r2-url", url)])]


def github_user_created(seed: int) -> Rounds:
    """Look up a GitHub user's creation date; round 2 adds a live status or localStorage."""
    rng = random.Random(seed)
    form = f"github-user-{seed}"
    r1 = _base("github-user-created", seed, rng)
    r1 |= {
        "brief": (
            f'Publish a Bootstrap page with form id="{form}" that fetches a GitHub '
            "username, optionally uses ?token=, and displays the account creation date in "
            "YYYY-MM-DD UTC inside #github-created-at."
        ),
        "checks": [
            f'js: document.querySelector("#{form}").tagName === "FORM"',
            'js: !!document.querySelector("#github-created-at")',
            'js: !!document.querySelector("script").textContent.includes('
            '"https://api.github.com/users/")',
        ],
    }
    status = _round2(
        r1,
        rng,
        (
            "Show an aria-live alert #github-status that reports when a lookup starts, succeeds, "
            "or fails."
        ),
        [
            'js: document.querySelector("#github-status").getAttribute("aria-live") === "polite"',
            'js: !!document.querySelector("script").textContent.includes("github-status")',
        ],
    )
    cache = _round2(
        r1,
        rng,
        (
            f'Cache the last successful lookup in localStorage under "{form}" and repopulate the '
            "form on load."
        ),
        [
            'js: !!document.querySelector("script").textContent.includes('
            f'"localStorage.setItem(\\"{form}\\"")',
            'js: !!document.querySelector("script").textContent.includes('
            f'"localStorage.getItem(\\"{form}\\"")',
        ],
    )
    return [("r1", r1), rng.choice([("r2-status", status), ("r2-cache", cache)])]


TEMPLATES: dict[str, Callable[[int], Rounds]] = {
    "sum-of-sales": sum_of_sales,
    "markdown-to-html": markdown_to_html,
    "github-user-created": github_user_created,
}
