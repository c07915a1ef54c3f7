"""POST /cds-services/{id}/feedback through the Flask app, and the cards each hook answer records."""

from __future__ import annotations

import copy
import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from cds_service import create_app
from cds_service.clinical.knowledge import default_knowledge
from cds_service.config import Issuer
from cds_service.feedback import SQLITE_FILE, StoreError
from cds_service.feedback.records import (
    FeedbackFact,
    FeedbackRecord,
    ServedCard,
    ServedCount,
    StoreResult,
)
from cds_service.fixtures import load_case, request_at
from cds_service.web.state import AppState
from tests.builders import REFERENCE
from tests.conftest import settings_for_tests
from tests.feedback.test_protocol import (
    SECRET_COMMENT,
    SPEC_ACCEPTED,
    SPEC_EXAMPLES,
    SPEC_OVERRIDDEN_WITH_REASON,
)
from tests.tokens import BASE, ISSUER, Ehr, bearer

FEEDBACK = "/cds-services/ane-order-select/feedback"


def _store(app: Flask) -> Any:
    state: AppState = app.extensions["ane_cds"]
    return state.feedback


def _e3_card(client: FlaskClient) -> dict[str, Any]:
    """Fire worked example E3 (MP 1,200 mg/day for 40 kg) and return its one card."""
    response = client.post(
        "/cds-services/ane-order-select", json=request_at(load_case("e3-order-select"), REFERENCE)
    )
    assert response.status_code == 200
    [card] = response.get_json()["cards"]
    return dict(card)


def _accepted(card: dict[str, Any]) -> dict[str, Any]:
    return {
        "card": card["uuid"],
        "outcome": "accepted",
        "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}],
        "outcomeTimestamp": "2026-11-21T12:05:00Z",
    }


@pytest.mark.parametrize("body", SPEC_EXAMPLES, ids=["accepted", "overridden", "with-reason"])
def test_spec_examples_are_stored(feedback_client: FlaskClient, body: dict[str, Any]) -> None:
    response = feedback_client.post("/cds-services/ane-patient-view/feedback", json=body)
    assert response.status_code == 200
    answer = response.get_json()
    assert answer["received"] == answer["stored"] == 1
    assert answer["unknownCards"] == [body["feedback"][0]["card"]]


def test_a_hook_answer_records_its_cards_without_patient_data(
    feedback_app: Flask, feedback_client: FlaskClient, tmp_path: Path
) -> None:
    card = _e3_card(feedback_client)
    with sqlite3.connect(tmp_path / SQLITE_FILE) as db:
        [row] = db.execute("SELECT * FROM served_card").fetchall()
        suggestions = db.execute("SELECT suggestion_uuid FROM served_suggestion").fetchall()
    request = load_case("e3-order-select")["request"]
    assert row == (
        card["uuid"],
        "ane-order-select",
        request["hookInstance"],
        "mp-dose-above-max",
        "warning",
        default_knowledge().meta.version,
        "2026-11-21T12:00:00.000000Z",
    )
    assert suggestions == [(card["suggestions"][0]["uuid"],)]
    assert request["context"]["patientId"] not in repr(row)


def test_feedback_is_joined_to_the_rule_that_made_the_card(
    feedback_app: Flask, feedback_client: FlaskClient
) -> None:
    card = _e3_card(feedback_client)
    response = feedback_client.post(FEEDBACK, json={"feedback": [_accepted(card)]})
    assert response.get_json() == {"received": 1, "stored": 1, "duplicates": 0}
    [fact] = _store(feedback_app).facts()
    assert (fact.topic, fact.knowledge_version, fact.outcome) == (
        "mp-dose-above-max",
        default_knowledge().meta.version,
        "accepted",
    )


def test_the_same_batch_twice_is_stored_once(
    feedback_app: Flask, feedback_client: FlaskClient
) -> None:
    card = _e3_card(feedback_client)
    batch = {"feedback": [_accepted(card), _accepted(card)]}
    assert feedback_client.post(FEEDBACK, json=batch).get_json()["stored"] == 1
    assert feedback_client.post(FEEDBACK, json=batch).get_json() == {
        "received": 2,
        "stored": 0,
        "duplicates": 2,
    }
    assert _store(feedback_app).feedback_count() == 1


def test_a_partly_invalid_batch_is_refused_whole_and_names_the_items(
    feedback_app: Flask, feedback_client: FlaskClient
) -> None:
    good = SPEC_ACCEPTED["feedback"][0]
    bad = {**good, "outcome": "ignored"}
    worse = {k: v for k, v in good.items() if k != "acceptedSuggestions"}
    response = feedback_client.post(FEEDBACK, json={"feedback": [good, bad, good, worse]})
    assert response.status_code == 400
    outcome = response.get_json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert [i["expression"] for i in outcome["issue"]] == [["feedback[1].outcome"], ["feedback[3]"]]
    assert _store(feedback_app).feedback_count() == 0


@pytest.mark.parametrize(
    ("path", "kwargs", "status"),
    [
        ("/cds-services/no-such-service/feedback", {"json": SPEC_ACCEPTED}, 404),
        (FEEDBACK, {"data": "feedback", "content_type": "text/plain"}, 415),
        (FEEDBACK, {"data": "{not json", "content_type": "application/json"}, 400),
        (FEEDBACK, {"json": {"feedback": []}}, 400),
    ],
    ids=["unknown service", "not json", "invalid json", "empty feedback"],
)
def test_refusals_are_operation_outcomes(
    feedback_client: FlaskClient, path: str, kwargs: dict[str, Any], status: int
) -> None:
    response = feedback_client.post(path, **kwargs)
    assert response.status_code == status
    assert response.get_json()["resourceType"] == "OperationOutcome"


def test_the_clinician_comment_is_stored_but_never_logged(
    feedback_app: Flask, feedback_client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    stored = copy.deepcopy(SPEC_OVERRIDDEN_WITH_REASON)
    stored["feedback"][0]["overrideReason"]["userComment"] = SECRET_COMMENT
    refused = copy.deepcopy(stored)
    refused["feedback"][0]["outcomeTimestamp"] = "yesterday"
    with caplog.at_level(logging.DEBUG):
        assert feedback_client.post(FEEDBACK, json=stored).status_code == 200
        answer = feedback_client.post(FEEDBACK, json=refused)
    assert answer.status_code == 400
    assert "Jane Roe" not in answer.get_data(as_text=True)
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "feedback stored" in logged
    assert "Jane Roe" not in logged and "0048213" not in logged
    [fact] = _store(feedback_app).facts()
    assert fact.has_comment


class FailingStore:
    """A store whose database is down."""

    def record_cards(self, cards: Sequence[ServedCard]) -> None:
        raise StoreError("feedback database unreachable (OperationalError)")

    def add_feedback(self, records: Sequence[FeedbackRecord]) -> StoreResult:
        raise StoreError("feedback database unreachable (OperationalError)")

    def facts(self) -> list[FeedbackFact]:
        return []

    def served_counts(self) -> list[ServedCount]:
        return []

    def feedback_count(self) -> int:
        return 0

    def schema_version(self) -> int:
        return 1


def test_a_store_outage_is_a_503_and_never_fails_a_hook(tmp_path: Path) -> None:
    app = create_app(settings_for_tests(data_dir=tmp_path), clock=lambda: REFERENCE)
    app.extensions["ane_cds"] = AppState(
        **{**app.extensions["ane_cds"].__dict__, "feedback": FailingStore()}
    )
    client = app.test_client()
    card = _e3_card(client)  # recording fails: logged, the cards are still answered
    response = client.post(FEEDBACK, json={"feedback": [_accepted(card)]})
    assert response.status_code == 503
    assert response.get_json()["issue"][0]["code"] == "transient"


@pytest.fixture
def secured(tmp_path: Path) -> tuple[FlaskClient, Ehr]:
    ehr = Ehr()
    issuer = Issuer(iss=ISSUER, jwks_file=ehr.write_jwks(tmp_path / "jwks.json"))
    settings = settings_for_tests(
        auth_enabled=True, issuers=(issuer,), public_base_url=BASE, data_dir=tmp_path
    )
    return create_app(settings, clock=lambda: REFERENCE).test_client(), ehr


def test_feedback_needs_the_ehr_jwt_for_this_endpoint(secured: tuple[FlaskClient, Ehr]) -> None:
    client, ehr = secured
    assert client.post(FEEDBACK, json=SPEC_ACCEPTED).status_code == 401
    for_the_service = bearer(ehr.token("/cds-services/ane-order-select"))
    assert client.post(FEEDBACK, json=SPEC_ACCEPTED, headers=for_the_service).status_code == 401
    for_feedback = bearer(ehr.token(FEEDBACK))
    assert client.post(FEEDBACK, json=SPEC_ACCEPTED, headers=for_feedback).status_code == 200
