"""Watching a dispatched round on GitHub: the run, the Pages deployment, the page, the notification.

Read-only REST calls per poll: the run (``GET actions/runs/{id}``), then, once it started, the
``github-pages`` deployments and their statuses, then the branch head and the committed
``index.html`` to compare with what the page serves (the Action's own test for "Pages serves the
commit"). The page URL is ``https://<owner>.github.io/<repo>/`` unless a test gives another host.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

import httpx

from receiver.doctor.github_api import GitHubApi
from receiver.doctor.listener import Listener
from receiver.doctor.round_trip import COMPLETED, DEPLOYED, NOTIFIED, SERVING, STARTED
from receiver.forge import Dispatch, Repo


class GitHubWatcher:
    def __init__(
        self,
        api: GitHubApi,
        http: httpx.Client,
        *,
        page_url_for: Callable[[Repo], str] = lambda repo: repo.pages_url,
        listener: Listener | None = None,
        clock: Callable[[], float],
    ) -> None:
        self.api, self.http, self.page_url_for = api, http, page_url_for
        self.listener, self.clock = listener, clock
        self.commit_sha = ""
        self._old_deployments: set[int] = set()  # earlier rounds' deployments
        self._deployment: int | None = None
        self._base_sha = ""

    def poll(self, repo: Repo, dispatch: Dispatch, nonce: str, marks: dict[str, float]) -> str:
        """One look at every milestone not yet seen; "done" once all are, or an error."""
        if dispatch.run_id is None:
            return "GitHub did not return the run id of the dispatch"
        if COMPLETED not in marks:
            problem = self._run(repo, dispatch.run_id, marks)
            if problem:
                return problem
        if STARTED in marks and DEPLOYED not in marks:
            self._deployed(repo, marks)
        if DEPLOYED in marks and SERVING not in marks:
            self._serving(repo, marks)
        if self.listener is not None and NOTIFIED not in marks and self.listener.received(nonce):
            marks[NOTIFIED] = self.clock()
        wanted = [COMPLETED, DEPLOYED, SERVING] + ([NOTIFIED] if self.listener else [])
        if all(name in marks for name in wanted):
            self._old_deployments.add(self._deployment or 0)
            self._deployment, self._base_sha = None, ""  # the next round starts afresh
            return "done"
        return ""

    def _run(self, repo: Repo, run_id: int, marks: dict[str, float]) -> str:
        response = self.api.get(f"/repos/{repo.full_name}/actions/runs/{run_id}")
        self.api.expect(response, f"reading run {run_id}")
        run = response.json()
        self._base_sha = self._base_sha or str(run.get("head_sha") or "")
        if run["status"] in ("in_progress", "completed") and STARTED not in marks:
            marks[STARTED] = self.clock()
        if run["status"] == "completed":
            marks[COMPLETED] = self.clock()
            if run.get("conclusion") != "success":
                return (
                    f"the run ended {run.get('conclusion')}: see "
                    f"{run.get('html_url') or dispatch_url(repo, run_id)}"
                )
        return ""

    def _deployed(self, repo: Repo, marks: dict[str, float]) -> None:
        response = self.api.get(
            f"/repos/{repo.full_name}/deployments", environment="github-pages", per_page=10
        )
        self.api.expect(response, "listing Pages deployments")
        fresh = [d for d in response.json() if d["id"] not in self._old_deployments]
        for deployment in fresh:
            statuses = self.api.get(
                f"/repos/{repo.full_name}/deployments/{deployment['id']}/statuses"
            )
            self.api.expect(statuses, "reading a deployment's statuses")
            if any(s["state"] == "success" for s in statuses.json()):
                self._deployment = int(deployment["id"])
                marks[DEPLOYED] = self.clock()
                return

    def _serving(self, repo: Repo, marks: dict[str, float]) -> None:
        head = self.api.get(f"/repos/{repo.full_name}/commits/{repo.default_branch}")
        self.api.expect(head, "reading the branch head")
        sha = str(head.json()["sha"])
        if sha == self._base_sha:
            return  # the Action has not pushed its commit yet
        content = self.api.get(f"/repos/{repo.full_name}/contents/index.html", ref=sha)
        if content.status_code != 200:
            return
        committed = base64.b64decode(content.json().get("content", ""))
        try:
            page = self.http.get(
                self.page_url_for(repo),
                headers={"Cache-Control": "no-cache"},
                params={"llm-deploy-doctor": sha[:7]},
                timeout=30.0,
                follow_redirects=True,
            )
        except httpx.HTTPError:
            return  # a fresh site is unreachable for a while
        if page.status_code == 200 and page.content.replace(b"\r\n", b"\n") == committed.replace(
            b"\r\n", b"\n"
        ):
            self.commit_sha = sha
            marks[SERVING] = self.clock()


def dispatch_url(repo: Repo, run_id: int) -> str:
    return f"{repo.html_url}/actions/runs/{run_id}"
