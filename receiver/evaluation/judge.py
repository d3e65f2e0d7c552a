"""The checks only a reader can grade (README quality, code quality, the brief's sentences),
asked of an OpenAI-compatible model, as the course's evaluator asks its LLM.

Used only when the user gives a key and asks for it (``--judge``): the verdicts are a model's
opinion, so the report shows them apart from the deterministic checks and never mixes them into
the pass rate.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import httpx

from receiver.evaluation.outcome import Outcome
from receiver.evaluation.ports import estimate_cost

README_QUALITY = (
    "README.md is complete and professional: summary, setup, usage, code explanation, license"
)
CODE_QUALITY = "The code is clear, correct for the brief, and reasonably organised"
_TEXT_SUFFIXES = {".html", ".js", ".css", ".md", ".txt", ".json", ".py", ".yml", ".yaml", ".svg"}
_SYSTEM = (
    "You grade a student's GitHub repository against one check, strictly, as a course "
    'evaluator would. Answer with JSON only: {"pass": true|false, "reason": "<one sentence>"}.'
)
_FILES_BUDGET = 24_000  # characters of repository text shown to the judge


@dataclass
class Judge:
    """An LLM grader behind an injected httpx client."""

    http: httpx.Client
    base_url: str
    api_key: str
    model: str
    spent: float = 0.0

    def grade(self, check: str, brief: str, files: str) -> Outcome:
        """One verdict; a broken answer counts as not scored, never as a pass."""
        user = f"Brief:\n{brief}\n\nCheck: {check}\n\nRepository files:\n{files}"
        try:
            answer = self.http.post(
                f"{self.base_url.rstrip('/')}/chat/completions",
                headers={"Authorization": f"Bearer {self.api_key}"},
                json={
                    "model": self.model,
                    "messages": [
                        {"role": "system", "content": _SYSTEM},
                        {"role": "user", "content": user},
                    ],
                },
            )
            answer.raise_for_status()
            data = answer.json()
        except (httpx.HTTPError, ValueError) as exc:
            return Outcome("judge", check, None, f"the judge failed: {type(exc).__name__}")
        usage = data.get("usage") or {}
        cost = estimate_cost(
            self.model,
            int(usage.get("prompt_tokens") or 0),
            int(usage.get("completion_tokens") or 0),
        )
        self.spent += cost or 0.0
        text = str(((data.get("choices") or [{}])[0].get("message") or {}).get("content") or "")
        verdict = parse_verdict(text)
        if verdict is None:
            return Outcome("judge", check, None, "the judge's answer was not a verdict")
        return Outcome("judge", check, verdict[0], verdict[1])


def parse_verdict(text: str) -> tuple[bool, str] | None:
    """``{"pass": bool, "reason": str}`` from a model's answer (fences and chatter tolerated)."""
    found = re.search(r"\{.*\}", text, re.S)
    if not found:
        return None
    try:
        data = json.loads(found.group(0))
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("pass"), bool):
        return None
    return data["pass"], str(data.get("reason", ""))[:300]


def repo_text(root: Path) -> str:
    """The repository's text files, README and index.html first, within the judge's budget."""
    paths = sorted(
        (
            p
            for p in root.rglob("*")
            if p.is_file() and ".git" not in p.parts and p.suffix.lower() in _TEXT_SUFFIXES
        ),
        key=lambda p: (p.name not in ("README.md", "index.html"), str(p)),
    )
    parts, left = [], _FILES_BUDGET
    for path in paths:
        text = path.read_text("utf-8", errors="replace")[: max(0, left)]
        if not text:
            break
        parts.append(f"--- {path.relative_to(root)} ---\n{text}")
        left -= len(text)
    return "\n".join(parts)


def judge_round(
    judge: Judge | None, root: Path | None, brief: str, text_checks: list[str]
) -> list[Outcome]:
    """README and code quality plus each sentence check; unscored without a judge or a repo."""
    checks = [README_QUALITY, CODE_QUALITY, *text_checks]
    if judge is None or root is None:
        why = "no judge (give --judge and an LLM key)" if judge is None else "no repo"
        return [Outcome("judge", c, None, why) for c in checks]
    files = repo_text(root)
    return [judge.grade(c, brief, files) for c in checks]
