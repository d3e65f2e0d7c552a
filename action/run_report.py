"""The Action's report as typed data: what a run did, serialised once to the documented JSON.

``RunReport.to_json`` (with the ``to_json`` of its parts in ``action.check_report``) is the only
code that names the report's JSON keys, and ``from_json`` the only code that reads them back (for
the step summary after redaction, and for the verify step, which adds ``live_checks`` to a saved
report). The shape is documented in ``docs/interfaces.md``. To add a field: an attribute here,
one line in ``to_json``, one in ``from_json``, one row in the doc; ``tests/test_report.py``
round-trips a full report and compares its keys with the doc, so a field forgotten fails there.

Nothing secret belongs in a report (see ``action.report.redact``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from action.check_report import EarlierChecks, Json, LiveChecks, Verification


@dataclass
class LlmUsage:
    """What the model calls cost: the models that answered, tokens, estimated dollars."""

    models: list[str]
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    calls: int


@dataclass
class ImageInputs:
    """How the image attachments reached the model: as image inputs, or described in text."""

    images: list[str]  # sent as image inputs (within the caps)
    way: str  # "inputs", or "descriptions" (the provider refused images, or none fit the caps)
    refusal: str = ""  # the provider's answer when it refused them
    left_out: list[str] = field(default_factory=list)  # "name (N bytes): why", described only


@dataclass
class RunReport:
    """The generate step's report (``report.json``, the ``report`` output, the step summary)."""

    task: str
    round: int
    generator: str = "llm"  # or "offline"
    model: str = ""  # the model asked first
    offline_reason: str = ""
    files_written: list[str] = field(default_factory=list)
    files_refused: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    notes: list[str] = field(default_factory=list)
    attachments: list[str] = field(default_factory=list)  # committed as given or derived
    timings: dict[str, float] = field(default_factory=dict)  # phase -> seconds
    usage: LlmUsage | None = None
    verification: Verification | None = None
    commit_sha: str = ""
    page_url: str = ""
    pages_by: list[str] = field(default_factory=list)  # app workflows that own the site
    error: str = ""
    live_checks: LiveChecks | None = None
    notify: NotifyReport | None = None  # added by the notify step
    earlier_checks: EarlierChecks | None = None  # a later round's re-run of earlier checks
    image_inputs: ImageInputs | None = None  # only when the job had images and a model was asked
    # Once per dispatch (action.rounds): which dispatch, what this attempt did, how long it
    # waited for earlier runs of the workflow (action.earlier_runs) and which ones.
    dispatch: str = ""
    outcome: str = "generated"  # or "reused" (an earlier attempt's commit) or "superseded"
    waited_s: float = 0.0
    waited_for: list[int] = field(default_factory=list)

    def to_json(self) -> Json:
        """The documented JSON shape; empty optional parts are left out, sections are flat."""
        doc: Json = {
            "task": self.task,
            "round": self.round,
            "generator": self.generator,
            "model": self.model,
            "files_written": list(self.files_written),
            "files_refused": [[p, r] for p, r in self.files_refused],
            "notes": list(self.notes),
            "attachments": list(self.attachments),
            "timings": dict(self.timings),
            "commit_sha": self.commit_sha,
            "page_url": self.page_url,
            "dispatch": self.dispatch,
            "outcome": self.outcome,
            "waited_s": self.waited_s,
        }
        if self.waited_for:
            doc["waited_for"] = list(self.waited_for)
        if self.offline_reason:
            doc["offline_reason"] = self.offline_reason
        if self.usage is not None:
            u = self.usage
            doc["models"] = list(u.models)
            doc["tokens"] = {"prompt": u.prompt_tokens, "completion": u.completion_tokens}
            doc["cost_usd"] = round(u.cost_usd, 6)
            doc["llm_calls"] = u.calls
        if self.verification is not None:
            doc.update(self.verification.to_json())
        if self.pages_by:
            doc["pages_by"] = list(self.pages_by)
        if self.error:
            doc["error"] = self.error
        if self.live_checks is not None:
            doc["live_checks"] = self.live_checks.to_json()
        if self.notify is not None:
            doc["notify"] = self.notify.to_json()
        if self.earlier_checks is not None:
            doc["earlier_checks"] = self.earlier_checks.to_json()
        if self.image_inputs is not None:
            i = self.image_inputs
            doc["image_inputs"] = {
                "images": list(i.images),
                "way": i.way,
                "refusal": i.refusal,
                "left_out": list(i.left_out),
            }
        return doc

    @classmethod
    def from_json(cls, doc: Json) -> RunReport:
        """Read a report back; absent keys take their defaults, so older reports load too."""
        tokens = doc.get("tokens") or {}
        usage = None
        if "tokens" in doc or "models" in doc:
            usage = LlmUsage(
                models=list(doc.get("models", [])),
                prompt_tokens=int(tokens.get("prompt", 0)),
                completion_tokens=int(tokens.get("completion", 0)),
                cost_usd=float(doc.get("cost_usd") or 0.0),
                calls=int(doc.get("llm_calls", 0)),
            )
        verified = any(k in doc for k in ("verdict", "verification_rounds", "checks"))
        live = doc.get("live_checks")
        told = doc.get("notify")
        earlier = doc.get("earlier_checks")
        images = doc.get("image_inputs")
        return cls(
            task=str(doc.get("task", "")),
            round=int(doc.get("round", 1)),
            generator=str(doc.get("generator", "llm")),
            model=str(doc.get("model", "")),
            offline_reason=str(doc.get("offline_reason", "")),
            files_written=list(doc.get("files_written", [])),
            files_refused=[(str(p), str(r)) for p, r in doc.get("files_refused", [])],
            notes=list(doc.get("notes", [])),
            attachments=list(doc.get("attachments", [])),
            timings={str(k): float(v) for k, v in (doc.get("timings") or {}).items()},
            usage=usage,
            verification=Verification.from_json(doc) if verified else None,
            commit_sha=str(doc.get("commit_sha", "")),
            page_url=str(doc.get("page_url", "")),
            pages_by=list(doc.get("pages_by", [])),
            error=str(doc.get("error", "")),
            live_checks=LiveChecks.from_json(live) if isinstance(live, dict) else None,
            notify=NotifyReport.from_json(told) if isinstance(told, dict) else None,
            earlier_checks=EarlierChecks.from_json(earlier) if isinstance(earlier, dict) else None,
            image_inputs=ImageInputs(
                images=[str(n) for n in images.get("images", [])],
                way=str(images.get("way", "")),
                refusal=str(images.get("refusal", "")),
                left_out=[str(n) for n in images.get("left_out", [])],
            )
            if isinstance(images, dict)
            else None,
            dispatch=str(doc.get("dispatch", "")),
            outcome=str(doc.get("outcome", "generated")),
            waited_s=float(doc.get("waited_s") or 0.0),
            waited_for=[int(i) for i in doc.get("waited_for", [])],
        )


@dataclass
class NotifyReport:
    """The notify step's account: did Pages serve the commit, what the evaluator answered."""

    task: str = ""
    round: int = 0
    commit_sha: str = ""
    page_url: str = ""
    page_served: bool | None = None  # None: the step did not wait for the page
    page_wait_s: float = 0.0
    notified: str = ""  # "HTTP 200 after 2 attempt(s)" or "skipped: …"
    notify_delays: list[float] = field(default_factory=list)
    error: str = ""
    deployment: str = ""  # the app workflow's Pages deployment status, when it owns the site
    status: int = 0  # the evaluator's last HTTP answer (0: none)
    accepted_at: float | None = None  # when the evaluator answered 200 (epoch seconds)

    def to_json(self) -> Json:
        """The ``notify`` section of ``report.json``."""
        doc: Json = {
            "page_url": self.page_url,
            "page_served": self.page_served,
            "page_wait_s": self.page_wait_s,
            "notified": self.notified,
            "status": self.status,
            "accepted_at": self.accepted_at,
        }
        if self.deployment:
            doc["deployment"] = self.deployment
        if self.error:
            doc["error"] = self.error
        return doc

    @classmethod
    def from_json(cls, doc: Json) -> NotifyReport:
        """Read the ``notify`` section back; absent keys take their defaults."""
        served = doc.get("page_served")
        accepted = doc.get("accepted_at")
        return cls(
            page_url=str(doc.get("page_url", "")),
            page_served=served if isinstance(served, bool) else None,
            page_wait_s=float(doc.get("page_wait_s") or 0.0),
            notified=str(doc.get("notified", "")),
            status=int(doc.get("status") or 0),
            accepted_at=float(accepted) if isinstance(accepted, int | float) else None,
            deployment=str(doc.get("deployment", "")),
            error=str(doc.get("error", "")),
        )
