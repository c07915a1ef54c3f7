"""Command line: `ane-cds serve` (gunicorn) and `ane-cds example` (a fixture request at now)."""

from __future__ import annotations

import argparse
import json
import logging.config
import os
import sys
from collections.abc import Sequence
from typing import Any

from gunicorn.app.base import BaseApplication

from cds_service import create_app, utc_now
from cds_service.clinical.knowledge import KnowledgeError
from cds_service.config import ConfigError, settings_from_env
from cds_service.fixtures import case_names, load_case, request_at
from cds_service.web.logs import logging_config


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    """Gunicorn serving the app factory with options from the command line."""

    def __init__(self, options: dict[str, Any]) -> None:
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return create_app()


def serve(host: str, port: int, workers: int, threads: int, timeout: int) -> int:
    """Check that the app builds (knowledge, descriptors, settings), then serve it."""
    try:
        settings = settings_from_env()
        create_app(settings)
    except (KnowledgeError, ConfigError, ValueError) as error:
        print(f"ane-cds: cannot start: {error}", file=sys.stderr)
        return 2
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "timeout": timeout,
        "accesslog": "-",
        "access_log_format": '%(m)s %(U)s %(s)s %(D)sus',
        "logconfig_dict": logging_config(settings.log_level),
        "control_socket_disable": True,
    }
    _Gunicorn(options).run()
    return 0


def example(name: str) -> int:
    """Print a fixture case's hook request with its times moved to now."""
    if name not in case_names():
        print(f"ane-cds: no case '{name}'; cases: {', '.join(case_names())}", file=sys.stderr)
        return 2
    case = load_case(name)
    print(json.dumps(request_at(case, utc_now()), indent=2))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `ane-cds` console command."""
    parser = argparse.ArgumentParser(prog="ane-cds", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", help="serve the CDS Hooks API under gunicorn")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8080)
    run.add_argument("--workers", type=int, default=2)
    run.add_argument("--threads", type=int, default=4)
    run.add_argument("--timeout", type=int, default=30, help="worker timeout, seconds")
    show = commands.add_parser("example", help="print a fixture hook request, times moved to now")
    show.add_argument("name", help="case name in fhir_fixtures/cases (e.g. e3-order-select)")
    args = parser.parse_args(argv)
    logging.config.dictConfig(logging_config(os.environ.get("CDS_LOG_LEVEL", "INFO").upper()))
    if args.command == "serve":
        return serve(args.host, args.port, args.workers, args.threads, args.timeout)
    return example(args.name)


if __name__ == "__main__":
    sys.exit(main())
