"""Drive an evaluation: for each model, each run and each task, send the rounds through the
local pipeline, observe what they left behind, and score every check.

Progress goes to a ``say`` callback, one line per round. The budget is checked before every
round against that round's worst-case estimate, so the evaluation stops cleanly (the rounds not
run are listed as such) instead of overshooting ``--max-cost``.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from receiver.evaluation.browser_checks import run_js_checks
from receiver.evaluation.budget import Budget, estimate_round
from receiver.evaluation.evidence import gather
from receiver.evaluation.expectations import expectations_for
from receiver.evaluation.judge import Judge, judge_round
from receiver.evaluation.observed import Evidence
from receiver.evaluation.outcome import RoundScore
from receiver.evaluation.pipeline import LocalPipeline, RoundRun
from receiver.evaluation.ports import Browser, Settings
from receiver.evaluation.scoring import score_evidence
from receiver.evaluation.sources import TaskSource

OFFLINE = "offline"  # the pseudo-model: no LLM key, so the Action's offline generator (the floor)
Say = Callable[[str], None]


@dataclass
class Options:
    """How to run: where, how long a round may take, and what to score with."""

    data_dir: Path
    runs: int = 1
    round_timeout: float = 600.0
    offline_browser: bool = False  # block requests off 127.0.0.1 in Chromium (tests)
    tool_cache: Path | None = None


@dataclass
class EvalResult:
    """Every scored round plus what the evaluation was asked to do."""

    models: list[str]
    tasks: list[dict[str, str]]  # {name, origin}
    runs: int
    rounds: list[RoundScore] = field(default_factory=list)
    stopped: str = ""
    judge_model: str = ""
    max_cost: float | None = None
    spent: float = 0.0
    started: float = field(default_factory=time.time)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "models": self.models,
            "tasks": self.tasks,
            "runs": self.runs,
            "stopped": self.stopped,
            "judge_model": self.judge_model,
            "max_cost": self.max_cost,
            "spent_usd": round(self.spent, 6),
            "started": self.started,
            "seconds": round(self.seconds, 1),
            "rounds": [r.to_dict() for r in self.rounds],
        }


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "model"


def score_round(
    ev: Evidence,
    browser: Browser | None,
    judge: Judge | None,
    *,
    offline_browser: bool,
    browser_missing: str = "",
) -> list[Any]:
    """All outcomes of one round: deterministic, browser, judged."""
    exp = expectations_for(ev.request)
    outcomes = score_evidence(ev)
    pages = str(ev.note.get("pages_url") or "") if ev.note else None
    outcomes += run_js_checks(
        browser,
        pages,
        exp.js_sources,
        request=ev.request,
        offline=offline_browser,
        skipped_because=browser_missing,
    )
    outcomes += judge_round(judge, ev.root, str(ev.request.get("brief", "")), exp.text_checks)
    return outcomes


class Evaluation:
    """One evaluation run; call :meth:`run`."""

    def __init__(
        self,
        tasks: list[TaskSource],
        models: list[str],
        base: Settings,
        options: Options,
        *,
        browser: Browser | None,
        judge: Judge | None,
        budget: Budget,
        http: httpx.Client,
        say: Say,
        browser_missing: str = "",
    ) -> None:
        self.tasks, self.models, self.base, self.options = tasks, models, base, options
        self.browser, self.judge, self.budget = browser, judge, budget
        self.http, self.say = http, say
        self.browser_missing = browser_missing
        self.result = EvalResult(
            models,
            [{"name": t.name, "origin": t.origin} for t in tasks],
            options.runs,
            judge_model=judge.model if judge else "",
            max_cost=budget.max_cost,
        )
        self._total = sum(len(t.rounds(r)) for t in tasks for r in range(1, options.runs + 1))
        self._total *= len(models)
        self._done = 0

    def run(self) -> EvalResult:
        """Run everything (until the budget says stop, or Ctrl-C); return the scores."""
        started = time.monotonic()
        try:
            for model in self.models:
                if self.budget.stopped:
                    break
                self._model(model)
        except KeyboardInterrupt:  # keep what was scored: the report is still written
            self.budget.stopped = self.budget.stopped or "interrupted"
        finally:
            self.result.stopped = self.budget.stopped
            self.result.spent = self.budget.spent
            self.result.seconds = time.monotonic() - started
        return self.result

    def _model(self, model: str) -> None:
        base = self.base
        if model == OFFLINE:
            base = dataclasses.replace(base, llm_api_key=None)
        data = self.options.data_dir / _slug(model)
        tool_cache = self.options.tool_cache or self.options.data_dir / "tool-cache"
        self.say(f"{model}: starting a local receiver (data in {data})")
        with LocalPipeline(base, model, data, tool_cache=tool_cache, http=self.http) as pipe:
            for run in range(1, self.options.runs + 1):
                for task in self.tasks:
                    if not self._task(pipe, model, task, run, data / "evidence"):
                        return

    def _task(
        self, pipe: LocalPipeline, model: str, task: TaskSource, run: int, work: Path
    ) -> bool:
        previous: Evidence | None = None
        earlier: list[dict[str, Any]] = []
        for label, original in task.rounds(run):
            request = {**original, "nonce": f"{original.get('nonce', 'eval')}-run{run}"}
            score = RoundScore(
                task.name, int(request.get("round", 1)), f"{task.name} {label}", model, run
            )
            estimate = None if model == OFFLINE else estimate_round(request, model).cost_worst
            if not self.budget.allows(estimate):
                self.say(f"stopping: {self.budget.stopped}")
                return False
            self._done += 1
            where = work / _slug(task.name) / f"run{run}" / label
            shutil.rmtree(where, ignore_errors=True)
            where.mkdir(parents=True)
            waiting = functools.partial(self._waiting, score.label)
            done = pipe.send(request, self.options.round_timeout, waiting)
            ev = self._observe(score, done, request, earlier, previous, where)
            self.result.rounds.append(score)
            self._progress(score)
            # Round 2 is sent even when round 1 failed: the evaluator sends every task one.
            previous, earlier = ev, [*earlier, request]
        return True

    def _observe(
        self,
        score: RoundScore,
        done: RoundRun,
        request: dict[str, Any],
        earlier: list[dict[str, Any]],
        previous: Evidence | None,
        where: Path,
    ) -> Evidence:
        report = done.report
        tokens = report.get("tokens") or {}
        score.tokens = int(tokens.get("prompt", 0)) + int(tokens.get("completion", 0))
        score.cost_usd = float(report.get("cost_usd") or 0.0)
        score.generator = str(report.get("generator") or "")
        score.seconds = done.seconds
        score.error = done.error
        self.budget.add(score.cost_usd)
        ev = gather(request, done.note, where, self.http, earlier=earlier, previous=previous)
        ev.requested_at = done.posted_at or None
        ev.seconds_to_notify = done.seconds if done.note is not None else None
        judge_before = self.judge.spent if self.judge else 0.0
        score.outcomes = score_round(
            ev,
            self.browser,
            self.judge,
            offline_browser=self.options.offline_browser,
            browser_missing=self.browser_missing,
        )
        if self.judge:
            self.budget.add(self.judge.spent - judge_before)
        return ev

    def _waiting(self, label: str, message: str) -> None:
        self.say(f"  {label}: {message}")

    def _progress(self, s: RoundScore) -> None:
        scored = s.deterministic()
        passed = sum(1 for o in scored if o.passed)
        extra = f" ({s.error})" if s.error else ""
        self.say(
            f"[{self._done}/{self._total}] {s.model} {s.label} run {s.run}: "
            f"{passed}/{len(scored)} checks, {s.tokens} tokens, ${s.cost_usd:.4f}, "
            f"{s.seconds:.1f}s{extra}"
        )
