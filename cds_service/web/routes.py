"""Routes: discovery, one service call; each is one line into the pipeline."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from cds_service.pipeline import answer_hook
from cds_service.protocol.errors import HookError, Issue
from cds_service.web.errors import outcome_response
from cds_service.web.state import AppState

log = logging.getLogger("cds_service")
blueprint = Blueprint("cds", __name__)


def _state() -> AppState:
    state: AppState = current_app.extensions["ane_cds"]
    return state


@blueprint.get("/cds-services")
def discovery() -> Response:
    """CDS Hooks discovery document."""
    return jsonify(_state().registry.discovery())


@blueprint.post("/cds-services/<service_id>")
def call_service(service_id: str) -> tuple[Response, int] | Response:
    """Answer one hook call with cards, or an OperationOutcome (400/404/412/415)."""
    state = _state()
    service = state.registry.get(service_id)
    if service is None:
        return outcome_response(
            404, [Issue("service", f"no CDS service '{service_id}'", code="not-found")]
        )
    if not request.is_json:
        return outcome_response(
            415, [Issue("Content-Type", "send application/json", code="not-supported")]
        )
    body: Any = request.get_json(silent=True)
    if body is None:
        return outcome_response(400, [Issue("$", "the request body is not valid JSON")])
    try:
        answer = answer_hook(
            service,
            body,
            knowledge=state.knowledge,
            now=state.clock(),
            client_factory=state.client_factory,
            allow_anonymous_fhir=state.settings.allow_anonymous_fhir,
        )
    except HookError as error:
        log.info(
            "hook %s refused: %s %s",
            service_id,
            error.status,
            [issue.path for issue in error.issues],
        )
        return outcome_response(error.status, error.issues)
    log.info("hook %s answered %d cards", service_id, len(answer["cards"]))
    return jsonify(answer)
