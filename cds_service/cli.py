"""Command line: `ane-cds serve` (gunicorn) and `ane-cds example` (a fixture request at now)."""

from __future__ import annotations

import argparse
import gc
import json
import logging.config
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from cds_service import create_app, utc_now
from cds_service.clinical.knowledge import KnowledgeError
from cds_service.config import ConfigError, serve_settings_from_env, settings_from_env
from cds_service.feedback import StoreError
from cds_service.feedback import command as feedback_command
from cds_service.fixtures import case_names, load_case, patient_manifest, request_at
from cds_service.sandbox.loader import load_patients, progress_bar
from cds_service.sandbox.simulator import (
    EVERY_HOURS,
    Signer,
    draft_order,
    fire,
    load_draft,
    render_cards,
)
from cds_service.web.logs import logging_config

YOUNG_COLLECTION_EVERY = 50_000  # allocations between collections of the youngest generation


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    """Gunicorn serving the app factory with options from the command line."""

    def __init__(self, options: dict[str, Any]) -> None:
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        app = create_app()
        settle_heap()
        return app


def settle_heap() -> None:
    """Exempt what the worker built at start from every later garbage collection.

    Modules, knowledge and the FHIR and pydantic schemas are about 70,000 objects that live as
    long as the worker. A full collection scanned them all again (25 ms), which a hook that
    allocates a few thousand objects triggered now and then: the p99 latency of `make bench`.
    Frozen, they are never scanned; what requests allocate is collected as before.

    The first generation is also collected after 50,000 allocations instead of 700: a hook
    allocates a few thousand objects that reference counting frees when it ends, so collecting
    every 700 only scanned live request data (3% of a hook's time). Cycles are still collected.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_EVERY)


def serve(
    host: str, port: int, workers: int | None, threads: int | None, timeout: int | None
) -> int:
    """Check that the app builds (knowledge, descriptors, settings), then serve it."""
    try:
        settings = settings_from_env()
        server = serve_settings_from_env()  # CDS_WORKERS... unless given on the command line
        create_app(settings)
    except (KnowledgeError, ConfigError, StoreError, ValueError) as error:
        print(f"ane-cds: cannot start: {error}", file=sys.stderr)
        return 2
    options = {
        "bind": f"{host}:{port}",
        "workers": workers or server.workers,
        "threads": threads or server.threads,
        "timeout": timeout or server.timeout_s,
        "graceful_timeout": server.graceful_timeout_s,
        "keepalive": server.keepalive_s,
        "forwarded_allow_ips": "",  # X-Forwarded-*: only the app's ProxyFix (CDS_TRUSTED_PROXIES)
        "accesslog": "-",
        "access_log_format": "%(m)s %(U)s %(s)s %(D)sus",
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


def fixtures(args: argparse.Namespace) -> int:
    """List the synthetic patients, or load them into a FHIR server with times moved to now."""
    manifest = patient_manifest()
    if args.action == "list":
        for patient in manifest["patients"]:
            print(f"{patient['id']:<28} {patient['description']}")
        return 0
    report = load_patients(
        args.fhir_base, utc_now(), token=args.token, only=args.patient, progress=progress_bar()
    )
    print(
        f"loaded {len(report.loaded)} patients ({report.resources} resources) into "
        f"{args.fhir_base}; {len(report.failed)} failed"
    )
    for pid, reason in report.failed.items():
        print(f"  {pid}: {reason}", file=sys.stderr)
    return 1 if report.failed else 0


def fire_hook(args: argparse.Namespace) -> int:
    """Fire one hook like an EHR and print the cards."""
    draft = None
    if args.draft:
        draft = load_draft(Path(args.draft))
    elif args.drug:
        draft = draft_order(args.patient, args.drug, args.dose, args.every)
    if args.hook != "patient-view" and draft is None:
        print("ane-cds fire: order hooks need --draft FILE or --drug and --dose", file=sys.stderr)
        return 2
    signer = None
    if args.jwt_key:
        signer = Signer(
            Path(args.jwt_key).read_bytes(), args.jwt_kid, args.jwt_iss, args.jwt_alg, args.jwt_jku
        )
    fired = fire(
        args.cds,
        args.fhir_base,
        args.patient,
        args.hook,
        draft=draft,
        fhir_token=args.fhir_token,
        with_prefetch=not args.no_prefetch,
        signer=signer,
        service_id=args.service,
    )
    print(json.dumps(fired.answer, indent=2) if args.json else render_cards(fired, args.detail))
    return 0 if fired.status == 200 else 1  # noqa: PLR2004


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ane-cds", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", help="serve the CDS Hooks API under gunicorn")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8080)
    run.add_argument("--workers", type=int, help="worker processes (default CDS_WORKERS or 2)")
    run.add_argument("--threads", type=int, help="threads per worker (default CDS_THREADS or 4)")
    run.add_argument("--timeout", type=int, help="worker timeout, s (default CDS_TIMEOUT or 30)")
    show = commands.add_parser("example", help="print a fixture hook request, times moved to now")
    show.add_argument("name", help="case name in fhir_fixtures/cases (e.g. e3-order-select)")
    fix = commands.add_parser("fixtures", help="the synthetic patients of fhir_fixtures/patients")
    fix.add_argument("action", choices=["list", "load"])
    fix.add_argument("--fhir-base", help="FHIR R4 base URL to load into (load)")
    fix.add_argument("--token", help="bearer token for the FHIR server")
    fix.add_argument("--patient", action="append", help="load only this patient (repeatable)")
    shoot = commands.add_parser("fire", help="call the service like an EHR and print the cards")
    shoot.add_argument("--cds", default="http://127.0.0.1:8080", help="the service's base URL")
    shoot.add_argument("--fhir-base", required=True, help="FHIR server holding the patient")
    shoot.add_argument("--patient", required=True, help="patient id")
    shoot.add_argument(
        "--hook", required=True, choices=["patient-view", "order-select", "order-sign"]
    )
    shoot.add_argument("--service", help="service id (default: the one for the hook)")
    shoot.add_argument("--draft", help="JSON file with a draft MedicationRequest")
    shoot.add_argument(
        "--drug", help="mp, tcz, infliximab, adalimumab, etanercept or an RxNorm code"
    )
    shoot.add_argument("--dose", type=float, help="dose per administration, mg")
    shoot.add_argument("--every", default="24h", choices=sorted(EVERY_HOURS))
    shoot.add_argument("--fhir-token", help="access token the service gets (fhirAuthorization)")
    shoot.add_argument("--no-prefetch", action="store_true", help="send no prefetch")
    shoot.add_argument("--jwt-key", help="PEM private key to sign the client JWT")
    shoot.add_argument("--jwt-kid", default="ane-cds-simulator")
    shoot.add_argument("--jwt-iss", default="https://ehr.example.org/")
    shoot.add_argument("--jwt-alg", default="ES384", choices=["ES384", "RS384"])
    shoot.add_argument("--jwt-jku", help="jku header to send")
    shoot.add_argument("--json", action="store_true", help="print the raw JSON answer")
    shoot.add_argument("--detail", action="store_true", help="print each card's detail")
    feedback_command.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `ane-cds` console command."""
    args = _parser().parse_args(argv)
    logging.config.dictConfig(logging_config(os.environ.get("CDS_LOG_LEVEL", "INFO").upper()))
    if args.command == "serve":
        return serve(args.host, args.port, args.workers, args.threads, args.timeout)
    if args.command == "fixtures":
        if args.action == "load" and not args.fhir_base:
            print("ane-cds fixtures load: --fhir-base is required", file=sys.stderr)
            return 2
        return fixtures(args)
    if args.command == "fire":
        return fire_hook(args)
    if args.command == "feedback":
        return feedback_command.run(args)
    return example(args.name)


if __name__ == "__main__":
    sys.exit(main())
