"""The local ``Forge`` adapter: bare git repos, secrets and Pages flags in the data folder.

Layout under ``data_dir``: ``repos/<name>.git`` (bare repo, default branch ``main``, metadata
in ``llm-deploy.json`` inside it so ``task_repos`` works from the folder alone),
``secrets/<name>.json`` (mode 0600) and, beside the runner's ``runs/<id>.json``,
``runs/<id>.dispatch.json`` (mode 0600): the repo, workflow, dispatch id and inputs of each run,
written before the run starts, which is what ``find_run`` answers from and what a restart reruns
from (``receiver.local.resume``); the runner rewrites its own record freely.

Decision: ``repo_url`` is a ``file://`` URL, not git's dumb HTTP served by the receiver:
``git clone`` accepts it with no extra server code, and local mode is one machine by design.
The URL omits ``.git`` (git's local transport tries ``<path>.git`` itself), so it equals
``GITHUB_SERVER_URL/GITHUB_REPOSITORY`` for server ``file://<data_dir>`` and repository
``repos/<name>``, the values the local runner gives the Action; hence the owner ``repos``.
Commits are written with ``git fast-import`` on the bare repo: one process, no work tree,
nested paths and binary content for free.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Protocol

from receiver.forge import Dispatch, ForgeError, NameTaken, Repo, WorkflowNotRegistered
from receiver.local.pages import site_url
from receiver.local.resume import NO_INPUTS, NOTIFIED_BEFORE_STOP, close_run, interrupted_runs
from receiver.naming import candidate
from receiver.private import FILE_MODE, private_dir

log = logging.getLogger("llm_deploy.local")
OWNER = "repos"
META = "llm-deploy.json"
_AUTHOR = "llm-deploy <llm-deploy@localhost>"
_SUFFIX = re.compile(r"(.*)-(\d+)")


class Runner(Protocol):
    def allocate_run_id(self) -> int: ...

    def run(
        self, repo_name: str, workflow_file: str, inputs: dict[str, str], *, run_id: int
    ) -> Any: ...


def git(*args: str, cwd: Path | None = None, data: bytes | None = None) -> str:
    """Run git with a fixed identity and no user config; raise ForgeError on failure."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "HOME": os.environ.get("HOME", "/tmp"),
    }
    proc = subprocess.run(
        ["git", *args], cwd=cwd, input=data, capture_output=True, env=env, check=False
    )
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ForgeError(f"git {args[0]} failed: {err[-1] if err else proc.returncode}.")
    return proc.stdout.decode("utf-8", "replace").strip()


def _check_path(path: str) -> str:
    parts = path.split("/")
    if (
        not path
        or path.startswith("/")
        or "\n" in path
        or '"' in path[:1]
        or any(p in ("", ".", "..") or p.lower() == ".git" for p in parts)
    ):
        raise ForgeError(f"Refusing to commit the unsafe path {path!r}.")
    return path


def workflow_path(workflow_file: str) -> str:
    """The repo path of a workflow given as a file name (GitHub's workflow id) or a path."""
    return workflow_file if "/" in workflow_file else f".github/workflows/{workflow_file}"


def read_secrets(data_dir: Path, repo_name: str) -> dict[str, str]:
    """The Actions secrets stored for a local repo (empty when none)."""
    path = Path(data_dir) / "secrets" / f"{repo_name}.json"
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return {}
    return {str(k): str(v) for k, v in data.items()}


class LocalForge:
    """A forge made of bare git repos in a folder; thread-safe."""

    def __init__(
        self,
        data_dir: Path,
        *,
        public_url: str,
        runner: Runner | None = None,
        pages_url: str | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.public_url = public_url.rstrip("/")
        # The sites' own origin (local Pages' listener); the receiver's only in bare tests.
        self.pages_url = (pages_url or public_url).rstrip("/")
        self.runner = runner
        self.dispatches: list[tuple[str, str, dict[str, str]]] = []
        self._lock = threading.RLock()
        self._repo_locks: dict[str, threading.Lock] = {}
        private_dir(self.data_dir)
        for sub in ("repos", "secrets", "runs"):
            private_dir(self.data_dir / sub)

    # -- helpers -------------------------------------------------------------------------------
    def repo_dir(self, name: str) -> Path:
        """The bare repository folder of a repo name."""
        return self.data_dir / "repos" / f"{name}.git"

    def _repo_lock(self, name: str) -> threading.Lock:
        with self._lock:
            return self._repo_locks.setdefault(name.lower(), threading.Lock())

    def _meta_path(self, name: str) -> Path:
        return self.repo_dir(name) / META

    def _read_meta(self, name: str) -> dict[str, Any]:
        try:
            return dict(json.loads(self._meta_path(name).read_text("utf-8")))
        except (FileNotFoundError, ValueError):
            return {}

    def _write_json(self, path: Path, data: dict[str, Any], mode: int = FILE_MODE) -> None:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            os.fchmod(fd, mode)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=2, sort_keys=True)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _repo(self, name: str, meta: dict[str, Any]) -> Repo:
        return Repo(
            name=name,
            owner=OWNER,
            html_url=(self.data_dir / "repos" / name).as_uri(),
            pages_url=site_url(self.pages_url, name),
            created_at=float(meta.get("created_at", 0.0)),
        )

    def _names(self) -> list[str]:
        root = self.data_dir / "repos"
        return [p.name[: -len(".git")] for p in root.glob("*.git") if (p / META).is_file()]

    def get_repo(self, name: str) -> Repo:
        """The repo of this exact name; ForgeError when missing."""
        meta = self._read_meta(name)
        if not meta:
            raise ForgeError(f"There is no local repository named {name!r}.")
        return self._repo(name, meta)

    def secrets_for(self, name: str) -> dict[str, str]:
        """The stored secrets of a repo, for the runner."""
        return read_secrets(self.data_dir, name)

    # -- Forge ---------------------------------------------------------------------------------
    def task_repos(self, base_name: str, tag: str) -> list[Repo]:
        """Repos named base or base-N whose description carries the task's tag, oldest first."""
        found = []
        for name in self._names():
            m = _SUFFIX.fullmatch(name)
            if name.lower() == base_name.lower() or (
                m and candidate(base_name, int(m.group(2))).lower() == name.lower()
            ):
                meta = self._read_meta(name)
                if tag in str(meta.get("description", "")):
                    found.append(self._repo(name, meta))
        return sorted(found, key=lambda r: (r.created_at, r.name))

    def create_repo(self, name: str, description: str) -> Repo:
        """Create a bare repo; NameTaken when the name exists (case-insensitively, like GitHub)."""
        with self._lock:
            if any(n.lower() == name.lower() for n in self._names()):
                raise NameTaken(f"A local repository named {name!r} already exists.")
            path = self.repo_dir(name)
            if path.exists():  # a half-made repo from a crash: start it over
                shutil.rmtree(path)
            git("init", "--quiet", "--bare", "--initial-branch=main", str(path))
            git("config", "receive.denyNonFastForwards", "false", cwd=path)
            meta = {"created_at": time.time(), "description": description, "pages": False}
            self._write_json(self._meta_path(name), meta)
            return self._repo(name, meta)

    def _fast_import(self, repo: Repo, ref: str, files: dict[str, bytes], message: str) -> str:
        path = self.repo_dir(repo.name)
        try:
            parent: str | None = git("rev-parse", "--verify", "--quiet", ref, cwd=path)
        except ForgeError:
            parent = None
        now = int(time.time())
        msg = message.encode("utf-8")
        chunks = [
            f"commit {ref}\nmark :1\n".encode(),
            f"author {_AUTHOR} {now} +0000\ncommitter {_AUTHOR} {now} +0000\n".encode(),
            f"data {len(msg)}\n".encode() + msg + b"\n",
        ]
        if parent:
            chunks.append(f"from {parent}\n".encode())
        for name, content in sorted(files.items()):
            chunks.append(f"M 100644 inline {_check_path(name)}\ndata {len(content)}\n".encode())
            chunks.append(content + b"\n")
        chunks.append(b"done\n")
        # --force is safe: the per-repo lock serialises writers and "from" pins the parent.
        git("fast-import", "--quiet", "--done", "--force", cwd=path, data=b"".join(chunks))
        return git("rev-parse", ref, cwd=path)

    def commit_files(self, repo: Repo, files: dict[str, bytes], message: str) -> str:
        """Commit files on top of main in one commit; return its sha."""
        with self._repo_lock(repo.name):
            return self._fast_import(repo, "refs/heads/main", files, message)

    def put_side_file(self, repo: Repo, branch: str, path: str, content: bytes) -> None:
        """Commit one file on a side branch."""
        with self._repo_lock(repo.name):
            self._fast_import(repo, f"refs/heads/{branch}", {path: content}, f"Add {path}")

    def set_secret(self, repo: Repo, name: str, value: str) -> None:
        """Store a secret in secrets/<repo>.json (mode 0600)."""
        with self._repo_lock(repo.name):
            stored = read_secrets(self.data_dir, repo.name)
            stored[name] = value
            self._write_json(self.data_dir / "secrets" / f"{repo.name}.json", stored, 0o600)

    def enable_pages(self, repo: Repo) -> None:
        """Record that Pages is on; the receiver serves data_dir/sites/<repo>/."""
        with self._repo_lock(repo.name):
            meta = self._read_meta(repo.name)
            meta["pages"] = True
            self._write_json(self._meta_path(repo.name), meta)

    def pages_enabled(self, repo: Repo) -> bool:
        return bool(self._read_meta(repo.name).get("pages"))

    def wait_for_workflow(self, repo: Repo, workflow_file: str, timeout: float) -> None:
        """Return once the workflow file is on main; WorkflowNotRegistered after timeout."""
        deadline = time.monotonic() + timeout
        spec = f"refs/heads/main:{workflow_path(workflow_file)}"
        while True:
            try:
                git("cat-file", "-e", spec, cwd=self.repo_dir(repo.name))
                return
            except ForgeError:
                if time.monotonic() >= deadline:
                    raise WorkflowNotRegistered(
                        f"The workflow {workflow_file} is not on main of {repo.name}."
                    ) from None
            time.sleep(0.05)

    def dispatch(self, repo: Repo, workflow_file: str, inputs: dict[str, str]) -> Dispatch:
        """Hand the run to the local runner in a background thread."""
        with self._lock:
            self.dispatches.append((repo.name, workflow_file, dict(inputs)))
        if self.runner is None:
            return Dispatch(run_id=None, run_url="")
        run_id = self.runner.allocate_run_id()
        run_url = f"{self.public_url}/runs/{run_id}"
        # The inputs are kept so a restart can run it again (local_resume); the payload in them
        # is encrypted, and the data folder already holds the repo secrets.
        record = {
            "run_id": run_id,
            "repo": repo.name,
            "workflow": workflow_file,
            "dispatch_id": inputs.get("dispatch-id", ""),
            "run_url": run_url,
            "inputs": dict(inputs),
        }
        self._write_json(self._dispatch_record(run_id), record, mode=0o600)
        self._start_run(repo.name, workflow_file, dict(inputs), run_id)
        return Dispatch(run_id=run_id, run_url=run_url)

    def _start_run(
        self, repo: str, workflow_file: str, inputs: dict[str, str], run_id: int
    ) -> None:
        assert self.runner is not None
        threading.Thread(
            target=self.runner.run,
            args=(repo, workflow_file, inputs),
            kwargs={"run_id": run_id},
            name=f"local-run-{run_id}",
            daemon=True,
        ).start()

    def resume_interrupted(self) -> list[int]:
        """Run again what a stopped receiver left unfinished (see local_resume); the ids."""
        if self.runner is None:
            return []
        runs, restarted = self.data_dir / "runs", []
        for run in interrupted_runs(runs):
            if run.notified or run.inputs is None:
                close_run(runs, run.run_id, NOTIFIED_BEFORE_STOP if run.notified else NO_INPUTS)
                log.warning(
                    "run=%s repo=%s interrupted by a stop; not run again", run.run_id, run.repo
                )
                continue
            log.info("run=%s repo=%s interrupted by a stop; running it again", run.run_id, run.repo)
            self._start_run(run.repo, run.workflow, run.inputs, run.run_id)
            restarted.append(run.run_id)
        return restarted

    def find_run(self, repo: Repo, workflow_file: str, dispatch_id: str) -> str | None:
        """The URL of the run started for this dispatch id, from the dispatch records."""
        if not dispatch_id:
            return None
        for path in (self.data_dir / "runs").glob("*.dispatch.json"):
            try:
                record = json.loads(path.read_text("utf-8"))
            except (OSError, ValueError):
                continue  # records are written atomically: a damaged one names no run
            if (record.get("repo"), record.get("workflow"), record.get("dispatch_id")) == (
                repo.name,
                workflow_file,
                dispatch_id,
            ):
                return str(record["run_url"])
        return None

    def _dispatch_record(self, run_id: int) -> Path:
        return self.data_dir / "runs" / f"{run_id}.dispatch.json"
