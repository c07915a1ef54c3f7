"""POST /cds-services/{id}/feedback, behind the same JWT guard, and recording the cards served.

Logs carry the service id, status, item count and field paths: never a userComment (free text a
clinician typed may name the patient), never a card's content.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response, jsonify

from cds_service.feedback import StoreError
from cds_service.feedback.records import cards_served, feedback_record
from cds_service.protocol.errors import HookError, Issue
from cds_service.protocol.feedback import parse_feedback
from cds_service.web.errors import outcome_response
from cds_service.web.security import protect
from cds_service.web.state import AppState, app_state, read_call

log = logging.getLogger("cds_service")
blueprint = Blueprint("cds_feedback", __name__)
protect(blueprint)


@blueprint.post("/cds-services/<service_id>/feedback")
def receive_feedback(service_id: str) -> tuple[Response, int] | Response:
    """Store a feedback batch whole (200), or refuse it whole (400/404/415/503)."""
    started = time.perf_counter()
    state = app_state()
    try:
        _, body = read_call(state, service_id)
        items = parse_feedback(body)
    except HookError as error:
        log.info(
            "feedback refused",
            extra={
                "service": service_id,
                "status": error.status,
                "paths": [i.path for i in error.issues],
            },
        )
        return outcome_response(error.status, error.issues)
    if state.feedback is None:
        return _unavailable(service_id)
    received_at = state.clock()
    records = [feedback_record(service_id, item, received_at) for item in items]
    try:
        result = state.feedback.add_feedback(records)
    except StoreError as error:
        return _unavailable(service_id, str(error))
    log.info(
        "feedback stored",
        extra={
            "service": service_id,
            "status": 200,
            "cards": result.stored,
            "duration_ms": round(1000 * (time.perf_counter() - started), 1),
        },
    )
    return jsonify(result.body())


def _unavailable(service_id: str, reason: str = "no feedback store") -> tuple[Response, int]:
    """503: nothing of the batch was stored; the EHR may send it again."""
    log.error("feedback not stored", extra={"service": service_id, "status": 503, "reason": reason})
    issue = Issue("$", "feedback store unavailable: nothing was stored; send again", "transient")
    return outcome_response(503, [issue])


def record_served(
    state: AppState, service_id: str, hook_instance: str | None, answer: Mapping[str, Any]
) -> None:
    """Record the cards of a hook answer; a store failure is logged, never fails the answer."""
    if state.feedback is None or hook_instance is None or not answer.get("cards"):
        return
    cards = cards_served(
        service_id, hook_instance, answer["cards"], state.knowledge.meta.version, state.clock()
    )
    try:
        state.feedback.record_cards(cards)
    except StoreError as error:
        log.error(
            "served cards not recorded",
            extra={"service": service_id, "hook_instance": hook_instance, "reason": str(error)},
        )
