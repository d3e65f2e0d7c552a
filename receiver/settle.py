"""Settling a dispatch that a restart left unsure: ask the forge whether its run started.

A request found ``dispatching`` after a restart died between sending ``workflow_dispatch`` and
recording the answer. Every dispatch carries an opaque ``dispatch-id`` input and the generated
workflow's run-name is ``llm-deploy <dispatch-id>``, so the forge can say whether that run exists.
GitHub creates a run a few seconds after accepting a dispatch, so one miss proves nothing: the
lookup is repeated after a settle interval, and only a second miss counts as "never started",
which makes sending the dispatch again safe. When the forge cannot answer (or the repo is not
known) the request ends ``dispatch-uncertain`` as before: a duplicate run would notify twice.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable

from receiver.forge import Forge, ForgeError
from receiver.journal import Entry, Journal, repo_from_json
from receiver.naming import loggable
from receiver.workflow import WORKFLOW_FILE

log = logging.getLogger("llm_deploy.worker")

UNCERTAIN = (
    "The receiver stopped while dispatching this request and could not check whether the run "
    "started ({reason}), so it is not sent again to avoid a duplicate run; look in the repo's "
    "Actions tab for a run named 'llm-deploy {dispatch_id}'."
)


class Verdict(enum.Enum):
    STARTED = "started"  # the run exists; the detail is its URL
    ABSENT = "absent"  # two lookups a settle interval apart found no run
    UNKNOWN = "unknown"  # the forge could not answer; the detail says why
    INTERRUPTED = "interrupted"  # the worker is stopping; decide on the next start


def look_up(
    find: Callable[[], str | None], *, settle_interval: float, wait: Callable[[float], bool]
) -> tuple[Verdict, str]:
    """Ask ``find`` for the run, once more after ``settle_interval`` if it is not there yet.

    ``wait`` sleeps and returns True when the wait was cut short by a stop.
    """
    for attempt in range(2):
        if attempt and wait(settle_interval):
            return Verdict.INTERRUPTED, ""
        try:
            url = find()
        except ForgeError as exc:  # the forge already retried what was worth retrying
            return Verdict.UNKNOWN, str(exc).rstrip(".")
        except Exception as exc:  # a bug or an odd client error must not decide for a resend
            log.exception("step=settle lookup crashed")
            return Verdict.UNKNOWN, f"the lookup failed with {type(exc).__name__}"
        if url is not None:
            return Verdict.STARTED, url
    return Verdict.ABSENT, ""


def settle_dispatch(
    journal: Journal,
    forge: Forge,
    entry: Entry,
    *,
    settle_interval: float,
    wait: Callable[[float], bool],
) -> bool:
    """Settle a ``dispatching`` request from the forge's answer; True when it must be sent again."""
    try:
        repo = repo_from_json(journal.steps(entry.id)["repo"])
    except (KeyError, ValueError, TypeError):
        verdict, detail = Verdict.UNKNOWN, "its repository was not recorded"
    else:
        verdict, detail = look_up(
            lambda: forge.find_run(repo, WORKFLOW_FILE, entry.dispatch_id),
            settle_interval=settle_interval,
            wait=wait,
        )
    where = f"task={loggable(entry.task)} round={entry.round}"
    if verdict is Verdict.STARTED:
        journal.step(entry.id, "dispatched", detail)
        journal.mark(entry.id, "dispatched", run_url=detail or None, error=None)
        log.info("%s step=settled state=dispatched run_url=%s (the run had started)", where, detail)
    elif verdict is Verdict.ABSENT:
        log.warning(
            "%s step=settled no run after %.0fs: the dispatch never started; sending it",
            where,
            settle_interval,
        )
        return True
    elif verdict is Verdict.UNKNOWN:
        message = UNCERTAIN.format(reason=detail, dispatch_id=entry.dispatch_id)
        journal.mark(entry.id, "dispatch-uncertain", error=message)
        log.warning("%s step=resume state=dispatch-uncertain reason=%s", where, detail)
    return False
