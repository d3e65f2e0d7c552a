"""The doctor's last result as the dashboard shows it: checks, round timings, when it ran."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from receiver.doctor.result import load_last


def last_doctor(data_dir: Path, clean: Callable[[str | None], str | None]) -> dict[str, Any] | None:
    """The saved result with every free text passed through ``clean``; None when never run.

    Only known fields are copied, so whatever else the file holds never reaches the page.
    """
    data = load_last(data_dir)
    if data is None:
        return None
    checks = [
        {
            "name": str(c.get("name", "")),
            "status": str(c.get("status", "")),
            "detail": clean(str(c.get("detail", ""))),
            "fix": clean(str(c.get("fix", ""))),
        }
        for c in data.get("checks", [])
        if isinstance(c, dict)
    ]
    rounds = [
        {
            "round": r.get("round"),
            "error": clean(str(r.get("error", ""))),
            "phases": [
                {
                    "name": str(p.get("name", "")),
                    "at_s": p.get("at_s"),
                    "took_s": p.get("took_s"),
                    "detail": str(p.get("detail", "")),
                }
                for p in r.get("phases", [])
                if isinstance(p, dict)
            ],
        }
        for r in data.get("rounds", [])
        if isinstance(r, dict)
    ]
    return {
        "ok": bool(data.get("ok")),
        "finished_at": data.get("finished_at"),
        "mode": str(data.get("mode", "")),
        "checks": checks,
        "rounds": rounds,
    }
