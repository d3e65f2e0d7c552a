"""Real git in the working copy: bot identity, one commit per round, a push that rebases."""

from __future__ import annotations

import base64
import os
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from action.errors import GitError
from action.rounds import TRAILERS, RoundCommit, parse_commit

BOT_NAME = "github-actions[bot]"
BOT_EMAIL = "41898282+github-actions[bot]@users.noreply.github.com"
PUSH_ATTEMPTS = 3
# Round-2 context skips files a model cannot usefully read or rewrite.
MAX_CONTEXT_BYTES = 200_000


def _git(
    root: str | Path,
    *args: str,
    config: Sequence[str] = (),
    secrets: Sequence[str] = (),
    check: bool = True,
) -> subprocess.CompletedProcess[bytes]:
    """Run git; on failure raise GitError naming the subcommand and git's (redacted) words."""
    command = ["git", *[item for c in config for item in ("-c", c)], *args]
    # Inherit PATH/HOME; never wait on a password prompt; English messages to match on.
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    proc = subprocess.run(command, cwd=root, capture_output=True, env=env, check=False)
    if check and proc.returncode != 0:
        words = (proc.stderr or proc.stdout).decode("utf-8", "replace").strip()
        for secret in secrets:
            if secret:
                words = words.replace(secret, "***")
        raise GitError(f"git {args[0]} failed: {words[-800:] or f'exit {proc.returncode}'}")
    return proc


def _out(root: str | Path, *args: str) -> str:
    return _git(root, *args).stdout.decode("utf-8", "replace").strip()


def configure_identity(root: str | Path) -> None:
    """Commit as GitHub's Actions bot in this working copy."""
    _git(root, "config", "user.name", BOT_NAME)
    _git(root, "config", "user.email", BOT_EMAIL)


def head(root: str | Path) -> str:
    return _out(root, "rev-parse", "HEAD")


def current_branch(root: str | Path, default: str = "main") -> str:
    """The checked-out branch, or ``default`` on a detached HEAD."""
    proc = _git(root, "symbolic-ref", "--quiet", "--short", "HEAD", check=False)
    name = proc.stdout.decode().strip()
    return name if proc.returncode == 0 and name else default


def commit_all(root: str | Path, message: str) -> str:
    """Stage everything and make one commit (even an empty one, so each round has its own)."""
    configure_identity(root)
    _git(root, "add", "--all")
    _git(root, "commit", "--quiet", "--allow-empty", "--no-verify", "-m", message)
    return head(root)


def commit_message(task: str, round_: int) -> str:
    return f"llm-deploy: {task} round {round_}"


def auth_config(server_url: str, token: str) -> list[str]:
    """``-c`` values that make git send the token to the server, replacing persisted ones."""
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode("ascii")
    key = f"http.{server_url.rstrip('/')}/.extraheader"
    # An empty value first clears any header actions/checkout persisted for GITHUB_TOKEN.
    return [f"{key}=", f"{key}=AUTHORIZATION: basic {basic}"]


def secret_forms(token: str) -> list[str]:
    """The token and its header encoding: both must be masked in logs."""
    if not token:
        return []
    return [token, base64.b64encode(f"x-access-token:{token}".encode()).decode("ascii")]


def push(
    root: str | Path,
    branch: str,
    token: str | None = None,
    server_url: str = "https://github.com",
    *,
    attempts: int = PUSH_ATTEMPTS,
    log: Callable[[str], None] = print,
) -> str:
    """Push HEAD to ``origin/<branch>``; on rejection fetch, rebase and retry. Returns the sha."""
    config = auth_config(server_url, token) if token else []
    secrets = secret_forms(token or "")
    last = ""
    for attempt in range(1, attempts + 1):
        proc = _git(root, "push", "origin", f"HEAD:refs/heads/{branch}", config=config, check=False)
        if proc.returncode == 0:
            return head(root)
        last = proc.stderr.decode("utf-8", "replace").strip()
        for secret in secrets:
            last = last.replace(secret, "***")
        if attempt == attempts:
            break
        log(f"Push to {branch} was rejected (attempt {attempt}); rebasing on the remote branch.")
        fetched = _git(
            root, "fetch", "--quiet", "origin", branch, config=config, secrets=secrets, check=False
        )
        if fetched.returncode != 0:
            continue  # the branch may not exist yet; the next push creates it
        rebased = _git(root, "rebase", "FETCH_HEAD", check=False)
        if rebased.returncode != 0:
            _git(root, "rebase", "--abort", check=False)
            raise GitError(
                f"Could not rebase this round's commit on the moved branch {branch}: "
                "someone changed the same files meanwhile."
            )
    raise GitError(f"Push to {branch} failed after {attempts} attempts: {last[-800:]}")


def read_side_file(
    root: str | Path, ref_spec: str, token: str | None = None, server_url: str = ""
) -> str:
    """The text of ``<path>`` on ``<branch>`` (spec ``<branch>:<path>``), fetched from origin."""
    branch, sep, path = ref_spec.partition(":")
    if not sep or not branch or not path:
        raise GitError(
            f"A side-branch reference must look like '<branch>:<path>', not {ref_spec!r}."
        )
    config = auth_config(server_url, token) if token and server_url else []
    _git(
        root,
        "fetch",
        "--quiet",
        "--depth=1",
        "origin",
        branch,
        config=config,
        secrets=secret_forms(token or ""),
    )
    return _out(root, "show", f"FETCH_HEAD:{path}")


def read_committed(root: str | Path, sha: str, path: str) -> bytes | None:
    """The bytes of ``path`` in commit ``sha``, or None when the commit has no such file."""
    proc = _git(root, "show", f"{sha}:{path}", check=False)
    return proc.stdout if proc.returncode == 0 else None


def tracked_text_files(root: str | Path, *, skip: Sequence[str] = ()) -> dict[str, str]:
    """Tracked UTF-8 text files under the size cap, by repo-relative path (round-2 context)."""
    names = _git(root, "ls-files", "-z").stdout.decode("utf-8", "replace").split("\0")
    files: dict[str, str] = {}
    for name in sorted(n for n in names if n and n not in skip):
        path = Path(root, name)
        if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_CONTEXT_BYTES:
            continue
        data = path.read_bytes()
        if b"\0" in data:
            continue
        try:
            files[name] = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
    return files


def fetch_branch(
    root: str | Path, branch: str, token: str | None = None, server_url: str = ""
) -> str | None:
    """Fetch ``origin/<branch>`` as it is now; its sha, or None when the branch does not exist.

    The checkout may be old (a re-run checks out the sha its first attempt saw) and shallow
    (``actions/checkout`` fetches one commit), so the history is fetched deep enough to find
    this dispatch's commit among the latest rounds.
    """
    config = auth_config(server_url, token) if token and server_url else []
    shallow = _out(root, "rev-parse", "--is-shallow-repository") == "true"
    depth = ["--depth=200"] if shallow else []
    proc = _git(
        root,
        "fetch",
        "--quiet",
        *depth,
        "origin",
        f"refs/heads/{branch}",
        config=config,
        secrets=secret_forms(token or ""),
        check=False,
    )
    if proc.returncode != 0:
        words = proc.stderr.decode("utf-8", "replace")
        if "couldn't find remote ref" in words:
            return None
        for secret in secret_forms(token or ""):
            words = words.replace(secret, "***")
        raise GitError(f"git fetch of {branch} failed: {words.strip()[-800:]}")
    return _out(root, "rev-parse", "FETCH_HEAD")


def round_history(root: str | Path, ref: str, limit: int = 200) -> list[RoundCommit]:
    """The llm-deploy commits reachable from ``ref`` (by their trailers), newest first."""
    # NUL between fields and SOH after each commit: Python's strip() would eat \x1c-\x1f.
    keys = "".join(f"%x00%(trailers:key={k},valueonly,separator=%x2C)" for k in TRAILERS)
    raw = _git(root, "log", f"--max-count={limit}", f"--format=%H{keys}%x01", ref).stdout
    commits: list[RoundCommit] = []
    for record in raw.decode("utf-8", "replace").split("\x01"):
        fields = record.lstrip("\n").split("\0")
        if len(fields) != len(TRAILERS) + 1:
            continue
        pairs = zip(TRAILERS, fields[1:], strict=True)
        values = {k: v.strip().split(",")[-1].strip() for k, v in pairs}
        commit = parse_commit(fields[0], values)
        if commit is not None:
            commits.append(commit)
    return commits


def check_out(root: str | Path, sha: str) -> None:
    """Make the working tree (and a detached HEAD) exactly ``sha``; the tree must be clean."""
    _git(root, "checkout", "--quiet", "--force", "--detach", sha)
