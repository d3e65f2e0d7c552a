"""The generate step: job → attachments → model → files → verify/repair → commit and push.

Collaborators (HTTP client, clock, verifier) are injected; ``main`` wires the real ones. With the
input verify true and a job that has checks, ``main`` passes an ``action.verify.Session`` (static
checks always; Chromium only when a check is JavaScript) and ``action.repair`` runs the loop. A
run whose checks still fail commits, pushes and reports anyway: a page that exists scores better
than none, and the summary says what fails.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from action import (
    answer,
    app_workflows,
    boilerplate,
    earlier_checks,
    earlier_runs,
    gitops,
    image_inputs,
    notify,
    offline,
    output_policy,
    pages_api,
    prompts,
    repair,
    report,
    rounds,
    writer,
)
from action.attachment_policy import plan_attachments
from action.errors import ActionError, LLMError, ProtocolError
from action.job import Job
from action.job_source import read_job
from action.llm import LLMClient
from action.repair import Verifier
from action.run_report import ImageInputs, LlmUsage, RunReport
from action.settings import ActionSettings, page_url
from action.worktree import Worktree

Messages = list[dict[str, Any]]


class Run:
    """One generate step; ``report`` and ``secrets`` are readable even when it fails midway."""

    def __init__(
        self,
        settings: ActionSettings,
        *,
        http: httpx.Client,
        clock: Callable[[], float] = time.time,
        verifier: Verifier | None = None,
        log: Callable[[str], None] = print,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.http = http
        self.clock = clock
        self.sleep = sleep
        self.verifier = verifier
        self.log = log
        self.root = Path(settings.workspace)
        self.secrets = settings.secrets()
        self.report = RunReport(task=settings.task, round=settings.round)
        self.tree = Worktree(
            self.root, allow_workflows=bool(settings.push_token), secrets=known_secrets(settings)
        )
        self.client: LLMClient | None = None
        self.messages: Messages = []  # the conversation so far, which repairs continue
        self.images = image_inputs.ImagePlan()  # image attachments sent as image inputs

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = self.clock()
        try:
            yield
        finally:
            timings = self.report.timings
            timings[name] = round(timings.get(name, 0.0) + self.clock() - start, 3)

    def execute(self) -> RunReport:
        """Do the whole step and return the report."""
        s = self.settings
        with self.phase("decode"):
            token = s.push_token or s.github_token or None
            job = read_job(
                s, lambda spec: gitops.read_side_file(self.root, spec, token, s.server_url)
            )
        self.secrets += [v for v in (job.email, job.evaluation_url, job.brief) if v]
        for value in (job.email, job.evaluation_url):
            if value:
                report.mask(value)
        self.report.task, self.report.round, self.report.model = job.task, job.round, s.model
        branch = gitops.current_branch(self.root, s.ref_name or "main")
        decided = self._once_per_dispatch(job, branch, token)
        if decided.action != "generate":
            return self._without_generating(decided)
        self._gate_workflows(job)
        passed_before = self._baseline(job)  # before this round writes anything
        with self.phase("attachments"):
            notes, protected = self._attachments(job)
        if s.llm_api_key:
            self._generate(job, notes, protected)
        else:
            self._offline(job, "no LLM API key was given", protected)
        self._ensure_basics(job.task)  # before verifying, so the checks judge the commit
        if self.verifier is not None and (job.checks or earlier_checks.guarded_sources(job)):
            self._verify(job, protected, passed_before)
        elif job.previous_checks:  # nothing re-ran them: the report says so
            self.report.earlier_checks = earlier_checks.summary(job, None, passed_before)
        if self.client is not None:
            self._usage(self.client)
        with self.phase("commit"):
            # A newer round may have landed while this one generated: then nothing is pushed.
            late = self._plan(job, branch, token)
            if late.action == "superseded":
                return self._without_generating(late)
            trailers = rounds.trailer_lines(self.report.dispatch, job.round, s.run_id)
            message = rounds.with_trailers(gitops.commit_message(job.task, job.round), trailers)
            gitops.commit_all(self.root, message)
            sha = gitops.push(self.root, branch, token, s.server_url, log=self.log)
        self.report.commit_sha, self.report.page_url = sha, self._site_url()
        self._pages_owners()
        return self.report

    def _pages_owners(self) -> None:
        """The push token starts the app's own workflows; one that deploys Pages owns the site."""
        owners = app_workflows.pages_workflows(self.root, writer.OWN_WORKFLOW)
        owners = owners if self.settings.push_token else []
        if owners:
            self.report.pages_by = owners
            self.report.notes.append(
                f"{', '.join(owners)} deploys GitHub Pages on push, so this run leaves the site "
                "to it (two deployments would race)."
            )

    # -- once per dispatch --------------------------------------------------------------------

    def _once_per_dispatch(self, job: Job, branch: str, token: str | None) -> rounds.Plan:
        """Wait for earlier runs, then decide from the branch: generate, reuse or stop."""
        s = self.settings
        self.report.dispatch = rounds.dispatch_identity(s.dispatch_id, s.run_id)
        with self.phase("wait"):
            waited = earlier_runs.wait_for_earlier_runs(
                self.http,
                api_url=s.api_url,
                repository=s.repository,
                workflow_ref=s.workflow_ref,
                run_id=s.run_id,
                token=s.github_token,
                deadline=job.received_at + notify.DEADLINE_SECONDS,
                clock=self.clock,
                sleep=self.sleep,
                log=self._say_now,
            )
        self.report.waited_s, self.report.waited_for = waited.waited_s, waited.runs
        if waited.note:
            self.report.notes.append(waited.note)
        return self._plan(job, branch, token, move=True)

    def _say_now(self, line: str) -> None:
        """Log a line and flush it: a step that waits minutes must show why while it waits."""
        self.log(line)
        sys.stdout.flush()

    def _plan(self, job: Job, branch: str, token: str | None, move: bool = False) -> rounds.Plan:
        """Fetch the branch as it is now and plan this dispatch; ``move`` checks the tip out."""
        if not self.report.dispatch:
            return rounds.Plan("generate")  # no run id and no dispatch id: nothing to match on
        tip = gitops.fetch_branch(self.root, branch, token, self.settings.server_url)
        if tip is None:
            return rounds.Plan("generate")  # the branch does not exist yet
        history = gitops.round_history(self.root, tip)
        decided = rounds.plan(history, self.report.dispatch, job.round, self.settings.run_id)
        if move and decided.action == "generate":
            gitops.check_out(self.root, tip)  # revise the branch as it is now, not the checkout
        return decided

    def _without_generating(self, decided: rounds.Plan) -> RunReport:
        """Reuse this dispatch's commit, or stop because a newer round superseded it."""
        commit = decided.commit
        assert commit is not None
        label = "Reused" if decided.action == "reuse" else "Superseded"
        self.report.notes.append(f"{label}: {decided.reason}")
        if decided.action == "reuse":
            self.report.outcome = "reused"
            gitops.check_out(self.root, commit.sha)
            self.report.commit_sha, self.report.page_url = commit.sha, self._site_url()
            self._pages_owners()
            self.log(f"Reusing {commit.sha}: {decided.reason}")
        else:
            self.report.outcome = "superseded"
            self.log(f"::notice title=Superseded round::{decided.reason}")
        return self.report

    def _site_url(self) -> str:
        """Where Pages serves the site: the input, else what the Pages API says, else the guess."""
        s = self.settings
        if s.pages_url:
            return page_url(s)
        found = pages_api.site_url(self.http, s.api_url, s.repository, s.github_token)
        return found or page_url(s)

    def _gate_workflows(self, job: Job) -> None:
        """Model-written workflows need a push token and a brief that asks for one."""
        if not self.settings.push_token:
            return  # the writer already refuses them, saying a push token is needed
        texts = [job.brief, *(c if isinstance(c, str) else str(c) for c in job.checks)]
        if not output_policy.wants_workflow(*texts):
            self.tree.allow_workflows = False
            self.tree.workflow_reason = writer.UNASKED_WORKFLOW_REASON

    def _attachments(self, job: Job) -> tuple[list[str], dict[str, bytes]]:
        """Commit what the brief keeps and derives; (notes for the model, files it must keep)."""
        plan = plan_attachments(job)
        self.report.attachments = writer.ensure_attachments(self.root, plan.committed)
        self.report.notes.extend(plan.report_notes)
        return plan.model_notes, plan.protected

    # -- generation -------------------------------------------------------------------------

    def _generate(self, job: Job, notes: list[str], protected: Mapping[str, bytes]) -> None:
        s = self.settings
        self.client = client = LLMClient(
            self.http,
            base_url=s.llm_base_url,
            api_key=s.llm_api_key,
            model=s.model,
            fallback_model=s.fallback_model or None,
            log=self.log,
        )
        current = self.tree.context() if job.round > 1 else None
        messages: Messages = list(
            prompts.generation_messages(
                job,
                attachment_notes=notes,
                current_files=current,
                allow_workflows=self.tree.allow_workflows,
                earlier=earlier_checks.earlier_only(job),
            )
        )
        # Images also go as image inputs; the client drops them if the provider refuses.
        self.images = image_inputs.plan_images(job.attachments)
        messages = image_inputs.with_images(messages, self.images)
        try:
            with self.phase("generate"):
                text, files = answer.ask(client, messages, current or {}, self.report.notes)
        except (LLMError, ProtocolError) as exc:
            self._offline(job, f"the model failed: {exc}", protected)
            return
        self.messages = [*messages, answer.assistant(text)]
        written = self._write(files, protected)
        if not written and not (self.root / "index.html").is_file():
            # Every path was refused: a site with only LICENSE and README would serve nothing.
            self._offline(job, "the model's answer had no usable file", protected)

    def _offline(self, job: Job, reason: str, protected: Mapping[str, bytes]) -> None:
        self.log(f"Using the offline generator: {report.redact(reason, self.secrets)}")
        self.report.generator, self.report.offline_reason = "offline", reason
        with self.phase("generate"):
            # A later round keeps the published page and adds the new brief to it.
            current = self.tree.context() if job.round > 1 else None
            files = offline.generate_offline(job, reason, current)
        self._write(files, protected)

    def _ensure_basics(self, task: str) -> None:
        """An MIT LICENSE and a complete README (the summary never quotes the private brief)."""
        with self.phase("finish"):
            s = self.settings
            holder = s.repository.split("/")[0] if "/" in s.repository else "the authors"
            boilerplate.ensure_license(self.root, holder)
            summary = f"A web app for the task {task}, built by llm-deploy."
            boilerplate.ensure_readme(self.root, task, summary)

    def _usage(self, client: LLMClient) -> None:
        u = client.usage
        self.report.usage = LlmUsage(
            list(u.models), u.prompt_tokens, u.completion_tokens, u.cost_usd, u.calls
        )
        plan = self.images
        if plan.names or plan.left_out:
            sent = bool(plan.names) and not client.images_refused
            self.report.image_inputs = ImageInputs(
                images=list(plan.names) if sent else [],
                way="inputs" if sent else "descriptions",
                refusal=client.images_refused,
                left_out=list(plan.left_out),
            )

    def _write(self, files: Mapping[str, str], protected: Mapping[str, bytes]) -> list[str]:
        with self.phase("write"):
            result = self.tree.write(files, protected)
        rep = self.report
        rep.files_written = sorted(set(rep.files_written) | set(result.written))
        rep.files_refused += [(p, r) for p, r in result.refused]
        rep.notes += [n for n in result.notes if n not in rep.notes]
        return list(result.written)

    # -- verify and repair --------------------------------------------------------------------

    def _baseline(self, job: Job) -> frozenset[str]:
        """The earlier rounds' JavaScript checks that pass on the app as checked out."""
        sources = earlier_checks.guarded_sources(job)
        if self.verifier is None or not sources:
            return frozenset()
        # A Session's baseline takes no screenshot, so screenshot-round-<n> still numbers versions.
        check = getattr(self.verifier, "baseline", self.verifier)
        with self.phase("baseline"):
            before = check(self.root, earlier_checks.baseline_job(job))
        return earlier_checks.passed(before, sources)

    def _verify(
        self, job: Job, protected: Mapping[str, bytes], passed_before: frozenset[str]
    ) -> None:
        """Verify, repair within the limits, keep the best version; the report tells it all."""
        assert self.verifier is not None
        verifier, client, s = self.verifier, self.client, self.settings
        repairing = client is not None and self.report.generator == "llm"
        # Earlier rounds' checks run with this round's, in the same page load (item 16.4).
        guarded = frozenset(earlier_checks.guarded_sources(job))
        checked_job = earlier_checks.combined_job(job) if guarded else job

        def check() -> repair.Checked:
            with self.phase("verify"):
                result = verifier(self.root, checked_job)
            return earlier_checks.Guarded(result, guarded, passed_before) if guarded else result

        def fix(failures: list[str]) -> list[str]:
            assert client is not None
            self.messages.append(answer.user(prompts.repair_message(failures)))
            with self.phase("repair"):
                text, files = answer.ask(client, self.messages, self.tree.context(), self.notes)
            self.messages.append(answer.assistant(text))
            written = self._write(files, protected)
            self._ensure_basics(job.task)
            return written

        def tokens() -> int:
            return client.usage.prompt_tokens + client.usage.completion_tokens if client else 0

        limits = repair.Limits(s.repair_rounds, s.repair_token_budget)
        outcome = repair.repair_loop(
            check,
            fix if repairing else None,
            tokens=tokens,
            snapshot=self.tree.snapshot,
            restore=self.tree.restore,
            limits=limits,
            first_estimate=tokens(),
        )
        section = self.report.verification = repair.verification_report(outcome, limits)
        self.notes.extend(repair.notes(outcome))
        if job.previous_checks:
            earlier = earlier_checks.summary(job, outcome.kept, passed_before)
            self.report.earlier_checks = earlier
            if earlier.lost:
                self.notes.append(
                    f"{len(earlier.lost)} earlier-round check(s) passed before this round and "
                    f"fail now: {earlier.lost}."
                )
        kept = outcome.kept
        self.log(
            f"Checks: {section.verdict} ({len(kept.failed_checks)} failing, round "
            f"{outcome.best} kept, {len(outcome.repairs)} repair round(s): {outcome.stopped})"
        )

    @property
    def notes(self) -> list[str]:
        return self.report.notes


def known_secrets(settings: ActionSettings) -> dict[str, str]:
    """The secrets the Action holds, by input name, as a model file could spell them."""
    known = {
        "llm-api-key": settings.llm_api_key,
        "github-token": settings.github_token,
        "push-token": settings.push_token,
        "payload-key": settings.payload_key,
    }
    for name in ("github-token", "push-token"):
        for form in gitops.secret_forms(known[name])[1:]:
            known[f"{name} (as a git header)"] = form
    return {name: value for name, value in known.items() if value}


def run(
    settings: ActionSettings,
    *,
    http: httpx.Client,
    clock: Callable[[], float] = time.time,
    verifier: Verifier | None = None,
) -> RunReport:
    """Run the generate step and return its report."""
    return Run(settings, http=http, clock=clock, verifier=verifier).execute()


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Entry point of ``python -m action generate``; 1 with an ``::error::`` on ActionError."""
    del argv  # the step takes its inputs from the environment, like every Action step
    try:
        settings = ActionSettings.from_environ(environ)
    except ActionError as exc:
        print(f"::error::{exc}")
        return 1
    for secret in settings.secrets() + gitops.secret_forms(settings.push_token):
        report.mask(secret)
    with contextlib.ExitStack() as stack:
        verifier: Verifier | None = None
        if settings.verify:
            from action.verify import Session  # only verifying runs pay for its imports

            folder = report.artifact_dir(settings.runner_temp)
            # Without a push token the writer refuses workflow files: no repair can add them.
            blocked = () if settings.push_token else (".github/workflows/",)
            verifier = stack.enter_context(Session(artifacts=folder, unwritable=blocked))
        http = stack.enter_context(httpx.Client(timeout=httpx.Timeout(120.0, connect=15.0)))
        state = Run(settings, http=http, verifier=verifier)
        try:
            result = state.execute()
            code = 0
        except ActionError as exc:
            state.report.error = str(exc)
            print(f"::error::{report.redact(str(exc), state.secrets)}")
            result, code = state.report, 1
    report.finish(settings, result, state.secrets)
    return code
