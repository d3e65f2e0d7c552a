"""Write the model's files into the checkout, refusing anything that could escape or subvert it.

Every refusal is reported with a reason. Paths are walked one component at a time with
directory file descriptors and ``O_NOFOLLOW``, so a symlink planted in the tree cannot redirect a
write outside the root, even if it appears between the check and the write.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from action.attachments import safe_name
from action.errors import AttachmentError
from action.job import Attachment
from action.output_policy import Budget, secret_in, workflow_refusal

OWN_WORKFLOW = ".github/workflows/llm-deploy.yml"
MAX_BYTES = 2_000_000
ATTACHMENT_MAX_BYTES = 100_000_000
WORKFLOW_REASON = (
    "GitHub refuses pushes that add or change files under .github/workflows/ when they are made "
    "with the workflow's GITHUB_TOKEN; to allow it, store a token with the 'workflow' scope as the "
    "repository secret LLM_DEPLOY_PUSH_TOKEN and pass it as the Action's push-token input"
)
UNASKED_WORKFLOW_REASON = (
    "the brief does not ask for a workflow (GitHub Actions, CI), and a workflow would run with "
    "this repository's secrets, so the model may not add one"
)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass
class WriteResult:
    written: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def check_path(path: str) -> tuple[str, str | None]:
    """The normalised relative path and the reason it must not be written (None when fine)."""
    if not isinstance(path, str) or not path.strip():
        return str(path), "the path is empty"
    if "\x00" in path:
        return path, "the path contains a NUL byte"
    if "\\" in path or _DRIVE.match(path):
        return path, "the path uses backslashes or a drive letter; use relative POSIX paths"
    if path.startswith("/"):
        return path, "absolute paths are not allowed; use a path relative to the repo root"
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        return path, "'..' would leave the repository"
    if not parts:
        return path, "the path names the repository root"
    # Case and trailing dots/spaces vary on other file systems; .git is never ours to touch.
    if any(p.rstrip(". ").lower() == ".git" for p in parts):
        return path, "files inside .git/ are git's own and must not be written"
    return "/".join(parts), None


def write_files(
    root: Path,
    files: Mapping[str, str | bytes],
    *,
    protected: Mapping[str, bytes] | None = None,
    allow_workflows: bool = False,
    workflow_reason: str = WORKFLOW_REASON,
    own_workflow: str = OWN_WORKFLOW,
    max_bytes: int = MAX_BYTES,
    budget: Budget | None = None,
    secrets: Mapping[str, str] | None = None,
) -> WriteResult:
    """Write files under root atomically, refusing (with reasons) every unsafe or forbidden one.

    ``budget`` caps the file count and total size across calls; a file holding one of
    ``secrets`` (name → value) or a GitHub token is refused, and its reason names only the secret.
    """
    result = WriteResult()
    held_secret = over_cap = 0
    guarded = {check_path(k)[0]: v for k, v in (protected or {}).items()}
    for raw, content in files.items():
        path, reason = check_path(raw)
        data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
        lowered = path.lower()
        if reason is None and lowered == own_workflow.lower():
            reason = "this is llm-deploy's own workflow; the Action maintains it"
        elif reason is None and lowered.startswith(".github/workflows/") and not allow_workflows:
            reason = workflow_reason
        elif reason is None and lowered.startswith(".github/workflows/"):
            reason = workflow_refusal(data)
        if reason is None and len(data) > max_bytes:
            reason = f"the file is {len(data)} bytes, over the {max_bytes}-byte limit"
        elif reason is None and path in guarded and guarded[path] != data:
            reason = "this attachment must stay byte-for-byte as it was sent"
        if reason is None and secrets is not None and (found := secret_in(data, secrets)):
            reason = f"the file contains {found}; secrets are never committed"
            held_secret += 1
        if reason is None and budget is not None:
            reason = budget.refusal(path, len(data))
            over_cap += reason is not None
        if reason is None:
            reason = _write(Path(root), path, data)
        if reason is None:
            result.written.append(path)
            if budget is not None:
                budget.record(path, len(data))
            if lowered.startswith(".github/workflows/"):
                result.notes.append(f"{path} needs a push token with the 'workflow' scope.")
        else:
            result.refused.append((path, reason))
    if held_secret:
        result.notes.append(f"{held_secret} file(s) held a secret and were not written.")
    if over_cap and budget is not None:
        result.notes.append(
            f"{over_cap} file(s) were not written: the model may write at most "
            f"{budget.max_files} files and {budget.max_total_bytes} bytes in one run."
        )
    return result


def _write(root: Path, path: str, data: bytes) -> str | None:
    """Write one checked path; the reason on refusal."""
    parts = path.split("/")
    try:
        fd = os.open(root.resolve(), _DIR_FLAGS)
    except OSError as exc:
        return f"the repository root cannot be opened ({exc.strerror})"
    try:
        for index, part in enumerate(parts[:-1]):
            fd, reason = _enter(fd, part, "/".join(parts[: index + 1]))
            if reason:
                return reason
        name = parts[-1]
        mode = 0o644
        try:
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                return f"{path} is a symlink; symlinks are never written through"
            if not stat.S_ISREG(st.st_mode):
                return f"{path} exists and is not a regular file"
            mode = stat.S_IMODE(st.st_mode)  # keep an executable bit the repo already had
        except FileNotFoundError:
            pass
        if not _inside(root, path):
            return "the path resolves outside the repository"
        return _atomic_write(fd, name, data, mode)
    finally:
        os.close(fd)


def _enter(fd: int, part: str, shown: str) -> tuple[int, str | None]:
    """Open (creating if needed) a child directory without following symlinks."""
    try:
        st = os.stat(part, dir_fd=fd, follow_symlinks=False)
        if stat.S_ISLNK(st.st_mode):
            return fd, f"{shown} is a symlink; symlinks are never written through"
        if not stat.S_ISDIR(st.st_mode):
            return fd, f"{shown} exists and is not a directory"
    except FileNotFoundError:
        with contextlib.suppress(FileExistsError):
            os.mkdir(part, 0o755, dir_fd=fd)
    try:
        child = os.open(part, _DIR_FLAGS, dir_fd=fd)
    except OSError as exc:
        reason = "is a symlink" if exc.errno in (errno.ELOOP, errno.ENOTDIR) else exc.strerror
        return fd, f"{shown} cannot be entered safely ({reason})"
    os.close(fd)
    return child, None


def _inside(root: Path, path: str) -> bool:
    base = root.resolve()
    return (base / path).resolve().is_relative_to(base)


def _atomic_write(fd: int, name: str, data: bytes, mode: int) -> str | None:
    tmp = f".{name[:200]}.{secrets.token_hex(6)}.tmp"
    try:
        out = os.open(tmp, _FILE_FLAGS, mode, dir_fd=fd)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(out, view) :]
            os.fchmod(out, mode)
        finally:
            os.close(out)
        os.replace(tmp, name, src_dir_fd=fd, dst_dir_fd=fd)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=fd)
        return f"the file could not be written ({exc.strerror})"
    return None


def ensure_attachments(root: Path, attachments: Iterable[Attachment]) -> list[str]:
    """Write attachments byte-for-byte at the repo root under their safe names."""
    files = {safe_name(a.name): a.data for a in attachments}
    result = write_files(root, files, max_bytes=ATTACHMENT_MAX_BYTES)
    if result.refused:
        path, reason = result.refused[0]
        raise AttachmentError(f"Attachment {path!r} could not be written: {reason}.")
    return result.written
