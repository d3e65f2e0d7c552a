"""Print the journal writer's CPU per MB of request body: direct I/O against the page cache.

    python bench/journal_write.py [--mb 200] [--batches 1 20]

The real ``Journal._write_batch`` writes 1 MB requests (one data-URI attachment each) in batches
of the given sizes, on the calling thread, into a journal in a temporary folder on the disk that
holds the repo (``/tmp`` may be memory). It runs twice: as shipped (the body log opened
``O_DIRECT``) and through the page cache (the fallback the journal takes where a filesystem has
no direct I/O, forced here). Printed per MB written: the thread's user and system CPU
(``RUSAGE_THREAD``) and its minor page faults, each the median of ``--runs`` runs. Every batch
is fdatasync'd and its rows committed, as at the door. Linux only.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import os
import resource
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import receiver.journal as journal_module
from receiver.journal import Journal
from receiver.request import DeployRequest

MB = 1024 * 1024


def _requests(count: int, tag: str) -> list[DeployRequest]:
    url = (
        "data:application/octet-stream;base64," + base64.b64encode(os.urandom(MB * 3 // 4)).decode()
    )
    base = DeployRequest(
        email="bench@example.com",
        secret="s",
        task="bench-journal",
        round=1,
        nonce="",
        brief="b",
        evaluation_url="http://127.0.0.1:9/",
        attachments=[{"name": "data.bin", "url": url}],
    )
    return [dataclasses.replace(base, nonce=f"{tag}-{i}") for i in range(count)]


def _one(folder: Path, mb: int, batch: int, direct: bool, tag: str) -> tuple[float, float, float]:
    """User ms, system ms and minor faults per MB for ``mb`` requests in batches of ``batch``."""
    reqs = _requests(mb, tag)
    opener = journal_module._open_for_writes
    with mock.patch.object(
        journal_module, "_open_for_writes", lambda log: opener(log, direct=direct)
    ):
        journal = Journal(folder / f"{tag}.sqlite3")
    try:
        before = resource.getrusage(resource.RUSAGE_THREAD)
        for first in range(0, len(reqs), batch):
            journal._write_batch(reqs[first : first + batch])
        after = resource.getrusage(resource.RUSAGE_THREAD)
    finally:
        journal.close()
    return (
        (after.ru_utime - before.ru_utime) * 1000 / mb,
        (after.ru_stime - before.ru_stime) * 1000 / mb,
        (after.ru_minflt - before.ru_minflt) / mb,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--mb", type=int, default=200, help="1 MB requests per run")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 20], help="batch sizes")
    parser.add_argument("--runs", type=int, default=3, help="runs per variant; medians printed")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="llmd-journal-bench-", dir=Path(__file__).parent))
    print(f"load average at start: {Path('/proc/loadavg').read_text().strip()}")
    try:
        for batch in args.batches:
            for direct in (True, False):
                runs = [
                    _one(folder, args.mb, batch, direct, f"b{batch}-{direct:d}-{run}")
                    for run in range(args.runs)
                ]
                user, system, faults = (statistics.median(r[i] for r in runs) for i in range(3))
                way = "direct I/O " if direct else "page cache "
                print(
                    f"batch {batch:3} x 1 MB, {way}: user {user:5.2f} ms/MB  system "
                    f"{system:5.2f} ms/MB  minor faults {faults:6.1f}/MB  ({args.runs} runs)"
                )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"load average at end: {Path('/proc/loadavg').read_text().strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
