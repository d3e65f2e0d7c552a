"""The ``llm-deploy`` command: ``serve`` runs the receiver, ``run REQUEST.json`` one local job,
``eval`` scores models on the course's tasks."""

from __future__ import annotations

import argparse
import importlib
import logging
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
    run = sub.add_parser("run", help="run one request end to end in local mode", add_help=False)
    run.add_argument("rest", nargs=argparse.REMAINDER)
    ev = sub.add_parser("eval", help="score models on the course's tasks", add_help=False)
    ev.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


def serve(settings: Settings) -> int:
    """Run the receiver under uvicorn until interrupted."""
    import uvicorn

    from receiver.app import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    log = logging.getLogger("llm_deploy")
    if settings.local_mode:
        log.info("local mode (no GITHUB_TOKEN), listening on %s:%s", settings.host, settings.port)
    else:
        log.info("GitHub mode as %s, listening on %s:%s",
                 settings.github_owner or "the token's user", settings.host, settings.port)
    # Uvicorn shuts down gracefully, then raises the signal again under the handler it found. Make
    # SIGTERM's a clean exit (like SIGINT's KeyboardInterrupt), so exit hooks still run: they end
    # local-mode steps, which run in their own sessions and would otherwise outlive the receiver.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None)
    return 0


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["eval"]:  # its own parser, so that `eval --help` reaches it
        return int(importlib.import_module("receiver.evaluation.cli").main(argv[1:]))
    args = _parser().parse_args(argv)
    if args.command == "run":
        # Imported by name: the one-shot runner is optional and pulls in the local runner.
        oneshot = importlib.import_module("receiver.oneshot")
        return int(oneshot.main(list(args.rest)))
    try:
        settings = Settings.from_environ()
    except ConfigError as exc:
        print(f"llm-deploy: {exc}", file=sys.stderr)
        return 2
    return serve(settings)


if __name__ == "__main__":
    sys.exit(main())
