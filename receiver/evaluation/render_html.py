"""The evaluation report as one small static HTML page: the tables of the Markdown report and a
chart of pass rate against cost per model, drawn as inline SVG (no script, no external asset)."""

from __future__ import annotations

import html

from receiver.evaluation.render_md import MODEL_HEAD, headline, model_rows, money
from receiver.evaluation.results import (
    Summary,
    check_rows,
    models_of,
    per_model,
    per_task_model,
    tasks_of,
)
from receiver.evaluation.runner import EvalResult

_STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:70rem;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}
th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.ok{background:#e6f4e6}
td.some{background:#fff4d6}td.bad{background:#fbe3e3}code{font-size:.85em}
svg text{font:12px system-ui,sans-serif}
"""
W, H, PAD = 560, 320, 48


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def chart(summaries: dict[str, Summary]) -> str:
    """Check pass rate (y, 0–100 %) against total cost (x, US dollars), one point per model."""
    points = [
        (m, s.cost_usd, s.checks.rate) for m, s in summaries.items() if s.checks.rate is not None
    ]
    # All at $0 (unpriced or offline models): a small scale keeps the points on the axis.
    top = (max((c for _, c, _ in points), default=0.0) or 0.01) * 1.15

    def x(cost: float) -> float:
        return PAD + (W - 2 * PAD) * cost / top

    def y(rate: float) -> float:
        return H - PAD - (H - 2 * PAD) * rate

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
        f'viewBox="0 0 {W} {H}" role="img" aria-label="pass rate against cost per model">',
        f'<line x1="{PAD}" y1="{H - PAD}" x2="{W - PAD}" y2="{H - PAD}" stroke="#555"/>',
        f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{H - PAD}" stroke="#555"/>',
    ]
    for pct in (0, 25, 50, 75, 100):
        parts.append(
            f'<text x="{PAD - 6}" y="{y(pct / 100) + 4:.1f}" text-anchor="end">{pct}%</text>'
        )
        parts.append(
            f'<line x1="{PAD}" y1="{y(pct / 100):.1f}" x2="{W - PAD}" '
            f'y2="{y(pct / 100):.1f}" stroke="#eee"/>'
        )
    for i in range(5):
        cost = top * i / 4
        parts.append(
            f'<text x="{x(cost):.1f}" y="{H - PAD + 16}" text-anchor="middle">'
            f"{esc(money(cost))}</text>"
        )
    parts.append(f'<text x="{W / 2}" y="{H - 8}" text-anchor="middle">total cost</text>')
    parts.append(
        f'<text x="14" y="{H / 2}" transform="rotate(-90 14 {H / 2})" '
        'text-anchor="middle">deterministic checks passed</text>'
    )
    for model, cost, rate in points:
        assert rate is not None
        parts.append(
            f'<circle cx="{x(cost):.1f}" cy="{y(rate):.1f}" r="6" fill="#2b6cb0">'
            f"<title>{esc(model)}: {rate:.0%}, {esc(money(cost))}</title></circle>"
        )
        parts.append(f'<text x="{x(cost) + 10:.1f}" y="{y(rate) + 4:.1f}">{esc(model)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def _css_class(passed: int, scored: int) -> str:
    if not scored:
        return ""
    return "ok" if passed == scored else ("bad" if passed == 0 else "some")


def _table(head: list[str], rows: list[list[tuple[str, str]]]) -> str:
    out = ["<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr>"]
    for row in rows:
        cells = "".join(
            f'<td class="{cls}">{esc(text)}</td>' if cls else f"<td>{esc(text)}</td>"
            for text, cls in row
        )
        out.append(f"<tr>{cells}</tr>")
    return "\n".join(out) + "</table>"


def render_html(result: EvalResult) -> str:
    """The whole report as a self-contained page."""
    rounds = result.rounds
    models = models_of(rounds) or result.models
    summaries = per_model(rounds)
    body = [
        f"<h1>llm-deploy eval</h1><p>{esc(headline(result).replace('**', ''))}</p>",
        "<h2>Pass rate against cost</h2>",
        chart(summaries),
        "<h2>Models</h2>",
        _table(MODEL_HEAD, [[(c, "") for c in row] for row in model_rows(summaries)]),
    ]
    origins = {t["name"]: t["origin"] for t in result.tasks}
    for task in tasks_of(rounds):
        body.append(f"<h2>{esc(task)}</h2><p>Source: <code>{esc(origins.get(task, ''))}</code></p>")
        for judged in (False, True):
            found = check_rows(rounds, task, judged=judged)
            if not found:
                continue
            if judged:
                body.append("<p>LLM-judged, shown apart:</p>")
            rows = [
                [
                    (label, ""),
                    (key, ""),
                    *(
                        (t.show(), _css_class(t.passed, t.scored))
                        if (t := tallies.get(m))
                        else ("–", "")
                        for m in models
                    ),
                ]
                for label, key, tallies in found
            ]
            if not judged:
                sums = per_task_model(rounds, task)
                rows.append(
                    [
                        ("", ""),
                        ("tokens / cost / mean time", ""),
                        *(
                            (
                                f"{sums[m].tokens} / {money(sums[m].cost_usd)} / "
                                f"{sums[m].mean_seconds:.1f} s",
                                "",
                            )
                            for m in models
                        ),
                    ]
                )
            body.append(_table(["round", "check", *models], rows))
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>llm-deploy eval</title><style>{_STYLE}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
