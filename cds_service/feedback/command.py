"""`ane-cds feedback report [--json] [--plot FILE.png]`: the report over the configured store.

It reads the same CDS_DATA_DIR / CDS_DATABASE_URL (and CDS_KNOWLEDGE_FILE, for the names of our
override reasons) as the service, and nothing else, so it runs without the service's JWT setup.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cds_service.clinical.knowledge import DEFAULT_PATH, Knowledge, KnowledgeError, load_knowledge
from cds_service.config import DEFAULT_DATA_DIR, ConfigError, database_url
from cds_service.feedback import StoreError, open_store
from cds_service.feedback.report import build_report, report_json, report_text


def add_parser(commands: Any) -> None:
    """Add `feedback report` to the `ane-cds` subcommands."""
    feedback = commands.add_parser("feedback", help="what clinicians did with the cards")
    actions = feedback.add_subparsers(dest="feedback_command", required=True)
    report = actions.add_parser(
        "report",
        help="acceptance and override rates per topic and knowledge version, "
        "top override reasons, dose suggestions accepted",
    )
    report.add_argument("--json", action="store_true", help="print the report as JSON")
    report.add_argument(
        "--plot", metavar="FILE.png", type=Path, help="also draw the rates per topic as a PNG"
    )


def reason_names(knowledge: Knowledge) -> dict[tuple[str, str], str]:
    """Display text of our own override reasons, for feedback that sent only system and code."""
    system = knowledge.systems.override_reason
    return {(system, code): text for code, text in knowledge.override_reasons.items()}


def run(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> int:
    """Print the report (text or JSON); write the chart when --plot is given."""
    env = os.environ if env is None else env
    try:
        knowledge = load_knowledge(Path(env.get("CDS_KNOWLEDGE_FILE", str(DEFAULT_PATH))))
        data_dir = Path(env.get("CDS_DATA_DIR", str(DEFAULT_DATA_DIR)))
        store = open_store(data_dir, database_url(env))
        report = build_report(store.facts(), store.served_counts(), reason_names(knowledge))
    except (ConfigError, KnowledgeError, StoreError) as error:
        print(f"ane-cds feedback report: {error}", file=sys.stderr)
        return 2
    print(json.dumps(report_json(report), indent=2) if args.json else report_text(report), end="")
    if args.plot is not None:
        from cds_service.feedback.plot import plot_rates  # noqa: PLC0415 (matplotlib is slow to import)

        plot_rates(report, args.plot)
        print(f"chart written to {args.plot}", file=sys.stderr)
    return 0
