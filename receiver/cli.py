"""The ``llm-deploy`` command: ``serve`` runs the receiver, ``run REQUEST.json`` one local job,
``doctor`` checks the setup before going live, ``eval`` scores models on the course's tasks."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
from collections.abc import Sequence

from receiver.config import ConfigError, Settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llm-deploy", description="Turn an app brief into a deployed GitHub Pages site."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the receiver (POST /api-deploy) with settings from the env")
    for name, text in [  # each parses (and explains with --help) its own arguments
        ("run", "run one request end to end in local mode"),
        ("doctor", "check the setup before going live (--help for more)"),
        ("eval", "score models on the course's tasks"),
    ]:
        command = sub.add_parser(name, help=text, add_help=False)
        command.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


def serve(settings: Settings) -> int:
    """Run the receiver under uvicorn until interrupted."""
    import uvicorn

    from receiver.app import create_app
    from receiver.modes import mode_for

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    mode = mode_for(settings)
    logging.getLogger("llm_deploy").info(
        "%s, listening on %s:%s", mode.describe(), settings.host, settings.port
    )
    # Uvicorn shuts down gracefully (the app's lifespan shuts the mode down), then raises the
    # signal again under the handler it found. Make SIGTERM's a clean exit, like SIGINT's
    # KeyboardInterrupt, and shut the mode down here too in case the lifespan never ran.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    try:
        # proxy_headers off: uvicorn would otherwise take X-Forwarded-For from any local peer;
        # the app reads it only when LLM_DEPLOY_TRUST_PROXY says a proxy is in front.
        uvicorn.run(
            create_app(settings, mode=mode),
            host=settings.host,
            port=settings.port,
            log_config=None,
            proxy_headers=False,
        )
    finally:
        mode.shutdown()
    return 0


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    words = list(sys.argv[1:] if argv is None else argv)
    # By hand: argparse's REMAINDER drops a leading --option, and each has its own --help.
    if words[:1] == ["doctor"]:
        from receiver.doctor.cli import main as doctor_main

        return doctor_main(words[1:])
    if words[:1] == ["eval"]:
        return int(importlib.import_module("receiver.evaluation.cli").main(words[1:]))
    args = _parser().parse_args(words)
    # Whatever else lands in the data folder (bare repos, sites, the runs' work folders) is
    # private too; the journal, logs and notifications set 0600 themselves (receiver.private).
    os.umask(0o077)
    if args.command == "run":
        # Imported by name: the one-shot runner belongs to local mode's wing.
        oneshot = importlib.import_module("receiver.local.oneshot")
        return int(oneshot.main(list(args.rest)))
    try:
        settings = Settings.from_environ()
    except ConfigError as exc:
        print(f"llm-deploy: {exc}", file=sys.stderr)
        return 2
    return serve(settings)


if __name__ == "__main__":
    sys.exit(main())
