"""Eight EHR clients send 1,000 feedback items each, with duplicates, to four gunicorn workers at
once, on SQLite and on a real PostgreSQL: every distinct item is stored once, a restart keeps
them all, and `ane-cds feedback report` counts exactly them."""

from __future__ import annotations

import json
import os
import random
import subprocess
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from cds_service.feedback.report import UNKNOWN_CARD
from cds_service.fixtures import load_case, request_at
from tests.feedback.service import ANE_CDS, running_service

WRITERS = 8
ITEMS_PER_WRITER = 1000
BATCH = 25
SHARED_ITEMS = 150  # every writer sends these same items, in its own order
SHARED_BASE = 1_000_000
CASES = ("e1-patient-view", "e2-order-sign", "e3-order-select", "e4-order-select-tcz")
HOOK_CALLS_PER_CASE = 3
FIRST_OUTCOME = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
UNKNOWN_NAMESPACE = uuid.UUID("c0ffee00-0000-4000-8000-000000000000")
COMMENT_MARKER = "Jane Roe"


def serve_cards(base: str) -> list[dict[str, Any]]:
    """Fire each worked example a few times (new hookInstance each time): the cards served."""
    cards: list[dict[str, Any]] = []
    for name in CASES:
        case = load_case(name)
        for _ in range(HOOK_CALLS_PER_CASE):
            body = request_at(case, datetime.now(UTC))
            body["hookInstance"] = str(uuid.uuid4())
            response = requests.post(
                f"{base}/cds-services/{case['service']}", json=body, timeout=30
            )
            assert response.status_code == 200
            cards.extend(response.json()["cards"])
    return cards


def logical_ids(writer: int) -> list[int]:
    """What one writer sends: its own items, items every writer sends, and its own repeats."""
    own = writer * ITEMS_PER_WRITER
    ids = []
    for i in range(ITEMS_PER_WRITER):
        if i % 4 == 0:
            ids.append(SHARED_BASE + (i // 4) % SHARED_ITEMS)
        elif i % 9 == 0:
            ids.append(own + i - (1 if (i - 1) % 4 else 2))  # repeats an item it also sends
        else:
            ids.append(own + i)
    random.Random(writer).shuffle(ids)
    return ids


def feedback_item(n: int, cards: list[dict[str, Any]]) -> tuple[dict[str, Any], str]:
    """Logical item n as the EHR sends it, and the topic it belongs to."""
    stamp = (FIRST_OUTCOME + timedelta(seconds=n)).isoformat().replace("+00:00", "Z")
    if n % 13 == 0:
        card_id = str(uuid.uuid5(UNKNOWN_NAMESPACE, str(n)))
        return {"card": card_id, "outcome": "overridden", "outcomeTimestamp": stamp}, UNKNOWN_CARD
    card = cards[n % len(cards)]
    item: dict[str, Any] = {"card": card["uuid"], "outcomeTimestamp": stamp}
    suggestions = card.get("suggestions", [])
    if suggestions and n % 3:
        item["outcome"] = "accepted"
        item["acceptedSuggestions"] = [{"id": suggestions[0]["uuid"]}]
    else:
        item["outcome"] = "overridden"
        reasons = card.get("overrideReasons", [])
        override: dict[str, Any] = {}
        if reasons:
            chosen = reasons[n % len(reasons)]
            override["reason"] = {"system": chosen["system"], "code": chosen["code"]}
        if n % 10 == 0:
            override["userComment"] = f"note {n}: {COMMENT_MARKER} asked to wait"
        if override:
            item["overrideReason"] = override
    return item, card["source"]["topic"]["code"]


def send_all(
    base: str, batches: list[list[dict[str, Any]]], start: threading.Barrier
) -> Counter[str]:
    """One EHR client: post its batches one after the other; count what the service said."""
    counts: Counter[str] = Counter()
    with requests.Session() as session:
        start.wait()
        for batch in batches:
            response = session.post(
                f"{base}/cds-services/ane-order-select/feedback",
                json={"feedback": batch},
                timeout=60,
            )
            counts[f"status {response.status_code}"] += 1
            if response.status_code == 200:
                answer = response.json()
                counts["stored"] += answer["stored"]
                counts["duplicates"] += answer["duplicates"]
    return counts


def report_json(env: dict[str, str]) -> dict[str, Any]:
    """`ane-cds feedback report --json` with the service's store settings."""
    done = subprocess.run(
        [str(ANE_CDS), "feedback", "report", "--json"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    report: dict[str, Any] = json.loads(done.stdout)
    return report


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_concurrent_writers_lose_nothing_and_a_restart_keeps_everything(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {"CDS_DATA_DIR": str(tmp_path)}
    if kind == "postgres":
        env["CDS_DATABASE_URL"] = request.getfixturevalue("postgres_url")
    with running_service(env) as first:
        cards = serve_cards(first.base)
        plans = [logical_ids(w) for w in range(WRITERS)]
        items = {n: feedback_item(n, cards) for plan in plans for n in plan}
        batches = [
            [[items[n][0] for n in plan[i : i + BATCH]] for i in range(0, len(plan), BATCH)]
            for plan in plans
        ]
        start = threading.Barrier(WRITERS)
        began = time.perf_counter()
        with ThreadPoolExecutor(WRITERS) as pool:
            results = list(pool.map(lambda b: send_all(first.base, b, start), batches))
        seconds = time.perf_counter() - began
    sent = sum(len(plan) for plan in plans)
    total = sum(results, Counter())
    assert total["status 200"] == sum(len(b) for b in batches)
    assert total["stored"] == len(items)
    assert total["stored"] + total["duplicates"] == sent

    with running_service(env) as second:
        again = send_all(second.base, batches[0], threading.Barrier(1))
    assert (again["stored"], again["duplicates"]) == (0, ITEMS_PER_WRITER)

    report = report_json(env)
    expected_topics = Counter(topic for _, topic in items.values())
    accepted = sum(1 for item, _ in items.values() if item["outcome"] == "accepted")
    assert report["total"]["feedback"] == len(items)
    assert report["total"]["accepted"] == accepted
    assert report["total"]["served"] == len(cards)
    assert report["unknown_card_items"] == expected_topics[UNKNOWN_CARD]
    assert {t["name"]: t["feedback"] for t in report["topics"] if t["feedback"]} == dict(
        expected_topics
    )
    logs = first.log + second.log
    assert not [line for line in logs if COMMENT_MARKER in line or "not recorded" in line]
    with capsys.disabled():
        print(
            f"\n[feedback {kind}] {WRITERS} writers x {ITEMS_PER_WRITER} items = {sent} sent "
            f"in batches of {BATCH} to 4 gunicorn workers: {len(items)} distinct, "
            f"{total['stored']} stored, {total['duplicates']} duplicates, {seconds:.2f} s"
        )
