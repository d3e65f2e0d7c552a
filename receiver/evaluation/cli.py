"""``llm-deploy eval [TASKS…] [--model M …] [--runs N]``: score models on the course's tasks.

Every round goes through the real pipeline in local mode (the same Action code, the configured
OpenAI-compatible endpoint) and is scored by our own evaluator: repo checks on the checkout of
``commit_sha``, the served files, static checks of ``index.html``, every ``js:`` check in
Chromium, round 2 in the same repo. Writes ``eval.md`` and ``eval.html`` (and ``--json``).
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import os
import secrets
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx

from receiver.evaluation.budget import Budget, estimate_round
from receiver.evaluation.errors import EvalError
from receiver.evaluation.judge import Judge
from receiver.evaluation.ports import Browser, BrowserUnavailable, ConfigError, Settings, launch
from receiver.evaluation.render_html import render_html
from receiver.evaluation.render_md import money, render_json, render_markdown
from receiver.evaluation.runner import OFFLINE, Evaluation, Options
from receiver.evaluation.sources import DEFAULT_TASKS, TaskSource, resolve

Say = Callable[[str], None]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="llm-deploy eval", description=__doc__.split("\n")[0])
    p.add_argument(
        "tasks",
        nargs="*",
        metavar="TASK",
        help="request file, folder, bundled task name (SumOfSales, LLMPages, …) or "
        f"gen:<template>[@seed]; default: {' '.join(DEFAULT_TASKS)}",
    )
    p.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="M",
        help="model to score (repeatable; default $LLM_MODEL); "
        f"'{OFFLINE}' is the offline generator",
    )
    p.add_argument("--runs", type=int, default=1, metavar="N", help="repetitions (default 1)")
    p.add_argument(
        "--floor",
        action="store_true",
        help=f"also score '{OFFLINE}', the generator used without a model (the floor)",
    )
    p.add_argument(
        "--max-cost",
        type=float,
        metavar="USD",
        help="stop cleanly before the spend could pass this many US dollars",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print the planned calls and an estimated cost; run nothing",
    )
    p.add_argument(
        "--judge",
        metavar="MODEL",
        help="grade README, code and sentence checks with this model (needs a key)",
    )
    p.add_argument("--json", metavar="FILE", help="also write the JSON report ('-': stdout)")
    p.add_argument(
        "--out",
        type=Path,
        default=Path("."),
        metavar="DIR",
        help="where eval.md and eval.html go (default: the current folder)",
    )
    p.add_argument(
        "--data",
        type=Path,
        default=Path("llm-deploy-eval"),
        metavar="DIR",
        help="working folder: repos, sites, checkouts (default ./llm-deploy-eval)",
    )
    p.add_argument("--seed", type=int, help="seed for the generated tasks (default: random)")
    p.add_argument(
        "--round-timeout",
        type=float,
        default=600.0,
        metavar="S",
        help="seconds a round may take before it counts as lost (default 600)",
    )
    p.add_argument(
        "--offline-browser",
        action="store_true",
        help="fail page requests that leave 127.0.0.1 (no CDNs; for machines offline)",
    )
    p.add_argument("--chromium", metavar="PATH", help="Chromium to use (default: on PATH)")
    return p


def base_settings() -> Settings:
    """The receiver settings from the environment, with a throwaway secret when none is set."""
    environ = collections.ChainMap({}, os.environ, {"DEPLOY_SECRET": secrets.token_urlsafe(24)})
    return Settings.from_environ(environ)


def models_for(args: argparse.Namespace, settings: Settings, say: Say) -> list[str]:
    models = list(dict.fromkeys(args.model or [settings.llm_model]))
    if not settings.llm_api_key and any(m != OFFLINE for m in models) and not args.dry_run:
        say(
            "no LLM key (LLM_API_KEY or AIPIPE_TOKEN): every round uses the offline generator, "
            "so the scores below are the floor, not a model's"
        )
        models = [OFFLINE]
    if args.floor and OFFLINE not in models:
        models.append(OFFLINE)
    return models


def plan_lines(
    tasks: list[TaskSource], models: list[str], runs: int
) -> tuple[list[str], float, float]:
    """The dry run: one line per planned round; the totals with one call each and worst case."""
    lines, typical, worst = [], 0.0, 0.0
    for model in models:
        for run in range(1, runs + 1):
            for task in tasks:
                for label, request in task.rounds(run):
                    if model == OFFLINE:
                        lines.append(f"{model} run {run} {task.name} {label}: no model call")
                        continue
                    est = estimate_round(request, model)
                    cost = (
                        f"{money(est.cost_one_call)} one call, up to {money(est.cost_worst)}"
                        if est.cost_one_call is not None and est.cost_worst is not None
                        else "price unknown for this model"
                    )
                    typical += est.cost_one_call or 0.0
                    worst += est.cost_worst or 0.0
                    lines.append(
                        f"{model} run {run} {task.name} {label}: ~{est.prompt_tokens} "
                        f"prompt + ~{est.answer_tokens} answer tokens; {cost}"
                    )
    return lines, typical, worst


def main(argv: Sequence[str]) -> int:
    """Run (or plan) an evaluation; write the reports; return the exit status."""
    args = parser().parse_args(list(argv))
    start = time.monotonic()

    def say(message: str) -> None:
        print(
            f"llm-deploy eval [{time.monotonic() - start:6.1f}s] {message}",
            file=sys.stderr,
            flush=True,
        )

    try:
        if args.runs < 1:
            raise EvalError("--runs must be at least 1.")
        settings = base_settings()
        if args.judge and not settings.llm_api_key and not args.dry_run:
            raise EvalError("--judge needs an LLM key (LLM_API_KEY or AIPIPE_TOKEN).")
        tasks = resolve(list(args.tasks), seed=args.seed)
        models = models_for(args, settings, say)
        if args.dry_run:
            lines, typical, worst = plan_lines(tasks, models, args.runs)
            print("\n".join(lines))
            ceiling = f" (ceiling {money(args.max_cost)})" if args.max_cost is not None else ""
            print(
                f"{len(lines)} round(s); estimated {money(typical)} if every round passes at "
                f"once, {money(worst)} if every repair round is used{ceiling}"
            )
            return 0
        return _run(args, settings, tasks, models, say)
    except (EvalError, ConfigError) as exc:
        print(f"llm-deploy eval: {exc}", file=sys.stderr)
        return 2


def _run(
    args: argparse.Namespace,
    settings: Settings,
    tasks: list[TaskSource],
    models: list[str],
    say: Say,
) -> int:
    judge_key = settings.llm_api_key
    browser: Browser | None = None
    missing = ""
    try:
        browser = launch(args.chromium)
    except BrowserUnavailable as exc:
        missing = f"no browser: {exc}"
        say(f"{missing}; js checks are not scored")
    run_dir = args.data / time.strftime("%Y%m%d-%H%M%S")
    options = Options(
        run_dir.resolve(),
        runs=args.runs,
        round_timeout=args.round_timeout,
        offline_browser=args.offline_browser,
        tool_cache=(args.data / "tool-cache").resolve(),
    )
    with httpx.Client(timeout=60) as http:
        judge = (
            Judge(http, settings.llm_base_url, judge_key, args.judge)
            if args.judge and judge_key
            else None
        )
        try:
            result = Evaluation(
                tasks,
                models,
                dataclasses.replace(settings),
                options,
                browser=browser,
                judge=judge,
                budget=Budget(args.max_cost),
                http=http,
                say=say,
                browser_missing=missing,
            ).run()
        finally:
            if browser is not None:
                browser.__exit__(None, None, None)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "eval.md").write_text(render_markdown(result), "utf-8")
    (args.out / "eval.html").write_text(render_html(result), "utf-8")
    if args.json == "-":
        print(render_json(result))
    elif args.json:
        Path(args.json).write_text(render_json(result), "utf-8")
    say(f"wrote {args.out / 'eval.md'} and {args.out / 'eval.html'}; working files in {run_dir}")
    if args.json != "-":
        print(render_markdown(result))
    return 0
