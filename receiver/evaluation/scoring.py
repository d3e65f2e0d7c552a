"""The course evaluator's deterministic checks of one round, applied to gathered evidence (pure).

Input is :class:`Evidence`: the request, the notification, a checkout of exactly ``commit_sha``
(made with real git by ``evidence``) and the bytes Pages served for each committed file. Output
is a list of :class:`Outcome`, one per check, grouped as the report shows them. The ``js:``
checks (Chromium) and the LLM-judged ones are scored elsewhere and appended by the runner.
"""

from __future__ import annotations

from receiver.evaluation.expectations import Expectations, expectations_for
from receiver.evaluation.observed import Evidence
from receiver.evaluation.outcome import Group, Outcome
from receiver.evaluation.page_checks import ci_outcomes, static_outcomes
from receiver.evaluation.ports import (
    CheckResult,
    check_attachments,
    check_json_files,
    check_license,
    check_named_files,
    check_readme,
    check_svg_files,
)

NOTE_FIELDS = ("email", "task", "round", "nonce", "repo_url", "commit_sha", "pages_url")
DEADLINE_S = 600  # the evaluator's 10 minutes from the request
CLOCK_SLACK_S = 2  # git records whole seconds


def _from(group: Group, result: CheckResult) -> Outcome:
    return Outcome(group, result.name, result.passed, result.detail)


def notify_outcomes(ev: Evidence) -> list[Outcome]:
    """The notification arrived, carries every field, and echoes the request's."""
    if ev.note is None:
        return [Outcome("notify", "notification arrived", False, "no notification")]
    out = [Outcome("notify", "notification arrived", True)]
    missing = [k for k in NOTE_FIELDS if not ev.note.get(k)]
    out.append(
        Outcome(
            "notify",
            "notification has all fields",
            not missing,
            f"missing: {', '.join(missing)}" if missing else "",
        )
    )
    wrong = [
        k
        for k in ("email", "task", "round", "nonce")
        if str(ev.note.get(k)) != str(ev.request.get(k))
    ]
    out.append(
        Outcome(
            "notify",
            "notification echoes email, task, round, nonce",
            not wrong,
            f"differs: {', '.join(wrong)}" if wrong else "",
        )
    )
    if ev.seconds_to_notify is not None:
        late = ev.seconds_to_notify > DEADLINE_S
        detail = f"after {ev.seconds_to_notify:.0f} s" if late else ""
        out.append(Outcome("notify", "notified within 10 minutes", not late, detail))
    return out


def repo_outcomes(ev: Evidence, exp: Expectations) -> list[Outcome]:
    """Files at the root of commit_sha: LICENSE, README, attachments, named files, formats."""
    if ev.root is None:
        return [Outcome("repo", "commit_sha checks out", False, ev.checkout_error or "no repo")]
    root, brief = ev.root, str(ev.request.get("brief", ""))
    out = [Outcome("repo", "commit_sha checks out", True)]
    results = [check_license(root), check_readme(root)]
    results += check_attachments(root, brief, ev.attachments)
    results += check_named_files(root, brief)
    results += check_json_files(root) + check_svg_files(root)
    out += [_from("repo", r) for r in results]
    created, asked = ev.first_commit_at, ev.requested_at
    if int(ev.request.get("round", 1)) == 1 and created is not None and asked is not None:
        new = created >= asked - CLOCK_SLACK_S
        detail = "" if new else "the repo's first commit is older than the request"
        out.append(Outcome("repo", "round 1 repo created after the request", new, detail))
    return out


def pages_outcomes(ev: Evidence) -> list[Outcome]:
    """Pages answers 200 and serves every committed file byte for byte at the same path."""
    if ev.note is None or ev.root is None:
        return []
    ok = ev.page_status == 200
    out = [Outcome("pages", "pages_url answers 200", ok, "" if ok else f"HTTP {ev.page_status}")]
    differ = sorted(p for p, body in ev.served.items() if body is None)
    changed = sorted(
        p
        for p, body in ev.served.items()
        if body is not None and body != (ev.root / p).read_bytes()
    )
    bad = differ + changed
    detail = "; ".join(
        filter(
            None,
            [
                f"not served: {', '.join(differ[:5])}" if differ else "",
                f"served differently: {', '.join(changed[:5])}" if changed else "",
            ],
        )
    )
    out.append(Outcome("pages", "Pages serves the committed files", not bad, detail))
    return out


def round2_outcomes(ev: Evidence) -> list[Outcome]:
    """Round 2 revises round 1's repo: same repo, built on round 1's commit, README updated."""
    if int(ev.request.get("round", 1)) < 2 or ev.previous_note is None or ev.note is None:
        return []
    same = ev.note.get("repo_url") == ev.previous_note.get("repo_url")
    out = [
        Outcome(
            "repo",
            "round 2 is in round 1's repo",
            same,
            "" if same else f"round 1: {ev.previous_note.get('repo_url')}",
        )
    ]
    desc = bool(ev.descends_from_previous)
    out.append(
        Outcome(
            "repo",
            "round 2 commit descends from round 1's",
            desc,
            "" if desc else "round 1's commit is not an ancestor",
        )
    )
    if ev.root is not None and ev.previous_readme is not None:
        readme = ev.root / "README.md"
        now = readme.read_bytes() if readme.is_file() else b""
        changed = bool(now) and now != ev.previous_readme
        out.append(
            Outcome(
                "repo",
                "README.md updated in round 2",
                changed,
                "" if changed else "README.md is unchanged since round 1",
            )
        )
    return out


def score_evidence(ev: Evidence) -> list[Outcome]:
    """Every deterministic check of one round except the browser's."""
    exp = expectations_for(ev.request)
    return [
        *notify_outcomes(ev),
        *repo_outcomes(ev, exp),
        *round2_outcomes(ev),
        *pages_outcomes(ev),
        *static_outcomes(ev, exp),
        *ci_outcomes(ev, exp),
    ]
