"""The feedback report: its numbers from plain facts, and `ane-cds feedback report` over a store."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from pathlib import Path

import pytest

from cds_service.clinical.knowledge import default_knowledge
from cds_service.feedback import command, open_store
from cds_service.feedback.records import FeedbackFact, ServedCount, is_dose_topic
from cds_service.feedback.report import UNKNOWN_CARD, build_report, report_json, report_text
from tests.feedback.service import ANE_CDS
from tests.feedback.test_store import CARD, record, served
from tests.feedback.test_store import UNKNOWN_CARD as UNKNOWN_UUID

OURS = "urn:ane-cds:override-reason"
REVIEWED = default_knowledge().override_reasons["reviewed"]  # its display, from the knowledge
NAMES = {(OURS, "reviewed"): REVIEWED}


def fact(
    topic: str | None,
    outcome: str = "accepted",
    *,
    version: str | None = "v1",
    reason: str | None = None,
    display: str | None = None,
    comment: bool = False,
    suggestions: int = 1,
) -> FeedbackFact:
    return FeedbackFact(
        outcome=outcome,
        topic=topic,
        knowledge_version=version if topic else None,
        reason_system=OURS if reason else None,
        reason_code=reason,
        reason_display=display,
        has_comment=comment,
        suggestions_offered=suggestions if topic else 0,
    )


FACTS = [
    fact("mp-dose-above-max"),
    fact("mp-dose-above-max"),
    fact("mp-dose-above-max", "overridden", reason="reviewed"),
    fact("tcz-dose", "overridden", version="v2", reason="team_decision", display="Team decision"),
    fact("tcz-dose", "overridden", version="v2", reason="reviewed", comment=True),
    fact("severity-score", "overridden", reason="reviewed", suggestions=0),
    fact("mp-recommendation", "overridden", comment=True),
    fact(None, "accepted"),
]
SERVED = [
    ServedCount("mp-dose-above-max", "v1", 10),
    ServedCount("tcz-dose", "v2", 4),
    ServedCount("severity-score", "v1", 20),
    ServedCount("mp-recommendation", "v1", 2),
    ServedCount("ranbp2-testing", "v1", 3),
]


@pytest.mark.parametrize(
    ("topic", "dose"),
    [
        ("mp-dose-above-max", True),
        ("mp-dose-low", True),
        ("mp-recommendation", True),
        ("tcz-recommendation", True),
        ("tcz-dose", True),
        ("mp-duration", False),
        ("tcz-window", False),
        ("severity-score", False),
        (None, False),
    ],
)
def test_dose_topics(topic: str | None, dose: bool) -> None:
    assert is_dose_topic(topic) is dose


def test_rates_per_topic_and_version() -> None:
    report = build_report(FACTS, SERVED, NAMES)
    topics = {r.name: (r.served, r.feedback, r.accepted, r.overridden) for r in report.topics}
    assert topics == {
        "mp-dose-above-max": (10, 3, 2, 1),
        "tcz-dose": (4, 2, 0, 2),
        "severity-score": (20, 1, 0, 1),
        "mp-recommendation": (2, 1, 0, 1),
        "ranbp2-testing": (3, 0, 0, 0),
        UNKNOWN_CARD: (0, 1, 1, 0),
    }
    assert report.topics[0].name == "mp-dose-above-max"  # most feedback first
    assert report.topics[-1].name == UNKNOWN_CARD
    assert report.topics[0].acceptance_rate == pytest.approx(2 / 3)
    versions = {r.name: (r.served, r.feedback, r.accepted) for r in report.versions}
    assert versions == {"v1": (35, 5, 2), "v2": (4, 2, 0), UNKNOWN_CARD: (0, 1, 1)}
    assert (report.total.feedback, report.total.accepted, report.total.served) == (8, 3, 39)
    assert report.unknown_card_items == 1


def test_top_override_reasons_are_named_even_without_display() -> None:
    report = build_report(FACTS, SERVED, NAMES)
    assert [(r.code, r.count, r.display) for r in report.reasons] == [
        ("reviewed", 3, REVIEWED),
        ("team_decision", 1, "Team decision"),
    ]
    assert report.overrides_without_reason == 1
    assert report.overrides_with_comment == 2


def test_dose_suggestions_count_dose_cards_with_suggestions_only() -> None:
    report = build_report(FACTS, SERVED, NAMES)
    assert (report.dose.feedback, report.dose.accepted) == (6, 2)
    assert {r.name for r in report.dose_topics} == {
        "mp-dose-above-max",
        "tcz-dose",
        "mp-recommendation",
    }


def test_json_and_text_carry_the_same_numbers() -> None:
    report = build_report(FACTS, SERVED, NAMES)
    data = report_json(report)
    assert data["total"]["feedback"] == 8
    assert data["dose_suggestions"]["acceptance_rate"] == pytest.approx(0.3333)
    ranbp2 = next(t for t in data["topics"] if t["name"] == "ranbp2-testing")
    assert ranbp2["acceptance_rate"] is None
    text = report_text(report)
    assert "Feedback items: 8 (accepted 3, overridden 5" in text
    assert "2 of 6 accepted (33.3%)" in text
    assert REVIEWED in text


def test_an_empty_store_gives_an_empty_report() -> None:
    report = build_report([], [], NAMES)
    assert report.total.feedback == 0
    assert "(none)" in report_text(report)


def _report_command(*args: str, data_dir: Path) -> str:
    """The installed `ane-cds feedback report` (a subprocess: it sets up its own logging)."""
    env = {**os.environ, "CDS_DATA_DIR": str(data_dir)}
    env.pop("CDS_DATABASE_URL", None)
    done = subprocess.run(
        [str(ANE_CDS), "feedback", "report", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


def test_the_command_reports_the_stored_items_as_json_and_a_chart(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.record_cards([served(), served("c2", topic="tcz-dose")])
    store.add_feedback([record(minute=m) for m in range(3)])
    store.add_feedback([record(minute=9, outcome="overridden"), record(UNKNOWN_UUID)])
    chart = tmp_path / "rates.png"
    data = json.loads(_report_command("--json", "--plot", str(chart), data_dir=tmp_path))
    assert (data["total"]["feedback"], data["total"]["accepted"]) == (5, 4)
    topic = next(t for t in data["topics"] if t["name"] == "mp-dose-above-max")
    assert (topic["feedback"], topic["accepted"], topic["overridden"]) == (4, 3, 1)
    assert data["override_reasons"][0]["display"] == REVIEWED
    assert data["unknown_card_items"] == 1
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert CARD not in json.dumps(data)


def test_the_command_prints_text(tmp_path: Path) -> None:
    assert _report_command(data_dir=tmp_path).startswith("ANE CDS feedback report\n")


def test_the_command_refuses_a_bad_database_url(capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(json=False, plot=None)
    env = {"CDS_DATABASE_URL": "mysql://user:pw@127.0.0.1/x"}
    assert command.run(args, env) == 2
    error = capsys.readouterr().err
    assert "CDS_DATABASE_URL" in error
    assert "pw@" not in error
