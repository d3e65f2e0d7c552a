"""The generate step: job → attachments → model → files → verify/repair → commit and push.

Collaborators (HTTP client, clock, verifier) are injected; ``main`` wires the real ones.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import httpx

from action import attachments, gitops, offline, prompts, protocol, report, writer
from action.errors import ActionError, LLMError, ProtocolError
from action.llm import LLMClient
from action.payload import Job
from action.settings import ActionSettings, page_url
from action.settings import job as read_job

Report = dict[str, Any]
Messages = list[dict[str, Any]]

# Attachment heuristic, per sentence of the brief: one that names an attachment (or says
# "attachments") together with "do not commit / don't include / …" keeps it out of the commit;
# one that names it with "fix / edit / update / …" lets the model rewrite it (Analyze's
# "Commit execute.py after fixing the error"). Every other attachment is committed byte for
# byte and protected from the model.
_DONT_COMMIT = re.compile(
    r"\b(?:do not|don't|never|must not|should not|shouldn't)\s+(?:commit|include|push|upload|add)",
    re.IGNORECASE,
)
_EDIT = re.compile(
    r"\b(?:fix|fixing|fixed|correct|correcting|modify|modifying|edit|editing|update|updating|"
    r"patch|patching|repair|repairing|rewrite|rewriting)\b",
    re.IGNORECASE,
)


class Verification(Protocol):
    @property
    def failures(self) -> list[str]: ...

    def to_dict(self) -> dict[str, Any]: ...


Verifier = Callable[[Path, Job], Verification]


def attachment_policy(brief: str, names: list[str]) -> tuple[set[str], set[str]]:
    """(attachments to leave out of the commit, attachments the model may rewrite)."""
    skip: set[str] = set()
    editable: set[str] = set()
    for sentence in re.split(r"(?<=[.!?;])\s+|\n+", brief):
        lowered = sentence.lower()
        for name in names:
            named = name.lower() in lowered
            if _DONT_COMMIT.search(sentence) and (named or re.search(r"\battachments\b", lowered)):
                skip.add(name)
            elif named and _EDIT.search(sentence):
                editable.add(name)
    return skip, editable - skip


def _user(content: Any) -> dict[str, Any]:
    return content if isinstance(content, dict) else {"role": "user", "content": str(content)}


def _assistant(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": text}


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
    ) -> None:
        self.settings = settings
        self.http = http
        self.clock = clock
        self.verifier = verifier
        self.log = log
        self.root = Path(settings.workspace)
        self.secrets = settings.secrets()
        self.report: Report = {"round": settings.round, "task": settings.task, "timings": {}}
        self.report.update(files_written=[], files_refused=[], notes=[], generator="llm")
        self.touched: dict[str, bytes | None] = {}  # path → content before this run

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = self.clock()
        try:
            yield
        finally:
            timings = self.report["timings"]
            timings[name] = round(timings.get(name, 0.0) + self.clock() - start, 3)

    def execute(self) -> Report:
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
        self.report.update(task=job.task, round=job.round, model=s.model)
        with self.phase("attachments"):
            names = [attachments.safe_name(a.name) for a in job.attachments]
            skip, editable = attachment_policy(job.brief, names)
            kept = [a for a, n in zip(job.attachments, names, strict=True) if n not in skip]
            written = writer.ensure_attachments(self.root, kept)
            self.report["attachments"] = written
            if skip:
                self.report["notes"].append(f"Not committed, as the brief asks: {sorted(skip)}.")
            notes = [attachments.describe(a) for a in job.attachments]
        protected = {n: a.data for a, n in zip(job.attachments, names, strict=True)}
        protected = {n: d for n, d in protected.items() if n not in skip and n not in editable}
        if s.llm_api_key:
            self._generate(job, notes, protected)
        else:
            self._offline(job, "no LLM API key was given", protected)
        self._ensure_basics(job.task)
        with self.phase("commit"):
            gitops.commit_all(self.root, gitops.commit_message(job.task, job.round))
            branch = gitops.current_branch(self.root, s.ref_name or "main")
            sha = gitops.push(self.root, branch, token, s.server_url, log=self.log)
        self.report.update(commit_sha=sha, page_url=page_url(s))
        return self.report

    # -- generation -------------------------------------------------------------------------

    def _generate(self, job: Job, notes: list[str], protected: Mapping[str, bytes]) -> None:
        s = self.settings
        client = LLMClient(
            self.http,
            base_url=s.llm_base_url,
            api_key=s.llm_api_key,
            model=s.model,
            fallback_model=s.fallback_model or None,
            log=self.log,
        )
        current = self._context() if job.round > 1 else None
        messages: Messages = list(
            prompts.generation_messages(
                job,
                attachment_notes=notes,
                current_files=current,
                allow_workflows=bool(s.push_token),
            )
        )
        try:
            with self.phase("generate"):
                text, files = self._answer(client, messages, current or {})
        except (LLMError, ProtocolError) as exc:
            self._usage(client)
            self._offline(job, f"the model failed: {exc}", protected)
            return
        self._write(files, protected)
        if self.verifier is not None and job.checks:
            self._repair(client, job, [*messages, _assistant(text)], protected)
        self._usage(client)

    def _answer(
        self, client: LLMClient, messages: Messages, current: dict[str, str]
    ) -> tuple[str, dict[str, str]]:
        """Ask, parse (one corrective retry), apply edits (one whole-file fallback)."""
        completion = client.complete(messages)
        text = completion.text
        try:
            blocks = self._parse(text, completion.truncated)
        except ProtocolError as exc:
            self.report["notes"].append(f"The model's answer was malformed ({exc}); asked again.")
            messages = [
                *messages,
                _assistant(text),
                _user(prompts.correction_message(str(exc), round2=bool(current))),
            ]
            text = client.complete(messages).text
            blocks = protocol.parse(text)
        whole = {b.path: b.content for b in blocks if isinstance(b, protocol.FileBlock)}
        edits = [b for b in blocks if isinstance(b, protocol.EditBlock)]
        base = {**current, **whole}
        updated, missed = protocol.apply_edits(base, edits)
        files = {p: c for p, c in updated.items() if p in whole or current.get(p) != c}
        if missed:
            self.report["notes"].append(f"Edits did not match {missed}; asked for whole files.")
            ask = [*messages, _assistant(text), _user(prompts.whole_file_request(missed))]
            try:
                again = protocol.parse(client.complete(ask).text)
                files.update(
                    {b.path: b.content for b in again if isinstance(b, protocol.FileBlock)}
                )
            except (LLMError, ProtocolError) as exc:
                self.report["notes"].append(f"Whole-file fallback failed: {exc}")
        return text, files

    @staticmethod
    def _parse(text: str, truncated: bool) -> list[protocol.Block]:
        parsed = protocol.parse_report(text)
        if parsed.truncated or (truncated and not parsed.blocks):
            cut = ", ".join(parsed.truncated) or "the answer"
            raise ProtocolError(
                f"Your answer was cut off: {cut} never reached its closing tag. Answer again, "
                "more concisely, with every block complete. " + protocol.FORMAT_HELP
            )
        return protocol.parse(text)

    def _offline(self, job: Job, reason: str, protected: Mapping[str, bytes]) -> None:
        self.log(f"Using the offline generator: {report.redact(reason, self.secrets)}")
        self.report.update(generator="offline", offline_reason=reason)
        with self.phase("generate"):
            files = offline.generate_offline(job, reason)
        self._write(files, protected)

    def _ensure_basics(self, task: str) -> None:
        """An MIT LICENSE and a complete README (the summary never quotes the private brief)."""
        with self.phase("finish"):
            s = self.settings
            holder = s.repository.split("/")[0] if "/" in s.repository else "the authors"
            writer.ensure_license(self.root, holder)
            summary = f"A web app for the task {task}, built by llm-deploy."
            writer.ensure_readme(self.root, task, summary)

    def _usage(self, client: LLMClient) -> None:
        u = client.usage
        self.report.update(
            models=list(u.models),
            tokens={"prompt": u.prompt_tokens, "completion": u.completion_tokens},
            cost_usd=round(u.cost_usd, 6),
            llm_calls=u.calls,
        )

    # -- files --------------------------------------------------------------------------------

    def _context(self) -> dict[str, str]:
        """The files the model sees and edits: tracked text plus what this run wrote."""
        files = gitops.tracked_text_files(self.root, skip=[writer.OWN_WORKFLOW])
        for path in self.touched:
            target = self.root / path
            if target.is_file() and not target.is_symlink():
                try:
                    files[path] = target.read_text("utf-8")
                except UnicodeDecodeError:
                    continue
        return files

    def _read(self, path: str) -> bytes | None:
        target = self.root / path
        return target.read_bytes() if target.is_file() and not target.is_symlink() else None

    def _write(self, files: Mapping[str, str], protected: Mapping[str, bytes]) -> None:
        with self.phase("write"):
            safe = [p for p, reason in (writer.check_path(k) for k in files) if reason is None]
            before = {p: self._read(p) for p in safe if p not in self.touched}
            result = writer.write_files(
                self.root,
                files,
                protected=protected,
                allow_workflows=bool(self.settings.push_token),
            )
        # Only paths the writer accepted are ever restored, so a refused one is never touched.
        for path in result.written:
            self.touched.setdefault(path, before.get(path))
        rep = self.report
        rep["files_written"] = sorted(set(rep["files_written"]) | set(result.written))
        rep["files_refused"] += [[p, r] for p, r in result.refused]
        rep["notes"] += [n for n in result.notes if n not in rep["notes"]]

    def _snapshot(self) -> dict[str, bytes | None]:
        out: dict[str, bytes | None] = {}
        for path in self.touched:
            out[path] = self._read(path)
        return out

    def _restore(self, snapshot: dict[str, bytes | None]) -> None:
        for path, before in self.touched.items():
            content = snapshot.get(path, before)
            target = self.root / path
            if content is None:
                target.unlink(missing_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)

    # -- verify and repair --------------------------------------------------------------------

    def _repair(
        self, client: LLMClient, job: Job, messages: Messages, protected: Mapping[str, bytes]
    ) -> None:
        assert self.verifier is not None
        self._ensure_basics(job.task)  # so the checks judge what will be committed
        with self.phase("verify"):
            result = self.verifier(self.root, job)
        best, best_result = self._snapshot(), result
        rounds = 0
        while result.failures and rounds < self.settings.repair_rounds:
            rounds += 1
            messages = [*messages, _user(prompts.repair_message(result.failures))]
            try:
                with self.phase("repair"):
                    text, files = self._answer(client, messages, self._context())
            except (LLMError, ProtocolError) as exc:
                self.report["notes"].append(f"Repair round {rounds} failed: {exc}")
                break
            messages.append(_assistant(text))
            self._write(files, protected)
            self._ensure_basics(job.task)
            with self.phase("verify"):
                result = self.verifier(self.root, job)
            if len(result.failures) < len(best_result.failures):
                best, best_result = self._snapshot(), result
        if len(result.failures) > len(best_result.failures):
            self.report["notes"].append("A repair made things worse; kept the best version.")
            self._restore(best)
        verification = best_result.to_dict()
        self.report.update(repair_rounds=rounds, verification=verification)
        self.report["checks"] = report.check_rows(verification)
        self.report["failures"] = list(best_result.failures)


def run(
    settings: ActionSettings,
    *,
    http: httpx.Client,
    clock: Callable[[], float] = time.time,
    verifier: Verifier | None = None,
) -> Report:
    """Run the generate step and return its report."""
    return Run(settings, http=http, clock=clock, verifier=verifier).execute()


def default_verifier(root: Path, job: Job) -> Verification:
    """The browser and static checks of ``action.verify`` (imported late: it is heavy)."""
    from action import verify

    return verify.verify(root, job)


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Entry point of ``python -m action generate``; 1 with an ``::error::`` on ActionError."""
    del argv  # the step takes its inputs from the environment, like every Action step
    try:
        settings = (
            ActionSettings.from_environ(environ)
            if environ is not None
            else ActionSettings.from_environ()
        )
    except ActionError as exc:
        print(f"::error::{exc}")
        return 1
    for secret in settings.secrets() + gitops.secret_forms(settings.push_token):
        report.mask(secret)
    verifier = default_verifier if settings.verify else None
    with httpx.Client(timeout=httpx.Timeout(120.0, connect=15.0)) as http:
        state = Run(settings, http=http, verifier=verifier)
        try:
            result = state.execute()
            code = 0
        except ActionError as exc:
            state.report["error"] = str(exc)
            print(f"::error::{report.redact(str(exc), state.secrets)}")
            result, code = state.report, 1
    report.finish(settings, result, state.secrets)
    return code
