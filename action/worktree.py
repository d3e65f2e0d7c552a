"""The working copy as one run changes it: what it wrote, what was there before, and snapshots
of versions, so a repair that makes things worse can be undone exactly."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from action import gitops, writer
from action.output_policy import Budget

Snapshot = dict[str, bytes | None]


class Worktree:
    """Writes model files through ``action.writer`` and remembers every path it touched.

    One ``Budget`` covers the whole run, so repairs cannot add what the first answer could not.
    """

    def __init__(
        self,
        root: Path,
        *,
        allow_workflows: bool,
        secrets: Mapping[str, str] | None = None,
        budget: Budget | None = None,
    ) -> None:
        self.root = root
        self.allow_workflows = allow_workflows
        self.workflow_reason = writer.WORKFLOW_REASON  # why workflows are refused, when they are
        self.secrets = dict(secrets or {})
        self.budget = budget or Budget()
        self.touched: Snapshot = {}  # path → content before this run (None: did not exist)

    def read(self, path: str) -> bytes | None:
        """A regular file's bytes, or None (missing or a symlink)."""
        target = self.root / path
        return target.read_bytes() if target.is_file() and not target.is_symlink() else None

    def context(self) -> dict[str, str]:
        """The files the model sees and edits: tracked text plus what this run wrote."""
        files = gitops.tracked_text_files(self.root, skip=[writer.OWN_WORKFLOW])
        for path in self.touched:
            data = self.read(path)
            if data is not None:
                try:
                    files[path] = data.decode("utf-8")
                except UnicodeDecodeError:
                    continue
        return files

    def write(self, files: Mapping[str, str], protected: Mapping[str, bytes]) -> writer.WriteResult:
        """Write through the safe writer; remember the prior content of each accepted path."""
        safe = [p for p, reason in (writer.check_path(k) for k in files) if reason is None]
        before = {p: self.read(p) for p in safe if p not in self.touched}
        result = writer.write_files(
            self.root,
            files,
            protected=protected,
            allow_workflows=self.allow_workflows,
            workflow_reason=self.workflow_reason,
            budget=self.budget,
            secrets=self.secrets,
        )
        # Only paths the writer accepted are ever restored, so a refused one is never touched.
        for path in result.written:
            self.touched.setdefault(path, before.get(path))
        return result

    def snapshot(self) -> Snapshot:
        """The current content of every touched path."""
        return {path: self.read(path) for path in self.touched}

    def restore(self, snapshot: Snapshot) -> None:
        """Put every touched path back as in `snapshot` (paths touched later: as before the run)."""
        for path, before in self.touched.items():
            content = snapshot.get(path, before)
            target = self.root / path
            if content is None:
                target.unlink(missing_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
        # The budget counts what the model's files weigh now, not what an undone repair wrote.
        current = {path: self.read(path) for path in self.touched}
        self.budget.sizes = {p: len(c) for p, c in current.items() if c is not None}
