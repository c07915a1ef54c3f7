"""Routes: discovery and one service call; each is one line into the pipeline."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request

from cds_service.pipeline import answer_hook
from cds_service.protocol.errors import HookError, Issue
from cds_service.web.errors import outcome_response
from cds_service.web.feedback import record_served
from cds_service.web.security import protect
from cds_service.web.state import AppState

log = logging.getLogger("cds_service")
blueprint = Blueprint("cds", __name__)
protect(blueprint)
UUID_TEXT = re.compile(r"^[0-9a-fA-F-]{36}$")


def _state() -> AppState:
    state: AppState = current_app.extensions["ane_cds"]
    return state


def _allowed_fhir_servers(state: AppState) -> tuple[str, ...]:
    """Per issuer when authentication is on, else the configured list."""
    issuer = g.get("issuer")
    return issuer.fhir_servers if issuer is not None else state.settings.fhir_servers


@blueprint.get("/cds-services")
def discovery() -> Response:
    """CDS Hooks discovery document."""
    return jsonify(_state().registry.discovery())


@blueprint.post("/cds-services/<service_id>")
def call_service(service_id: str) -> tuple[Response, int] | Response:
    """Answer one hook call with cards, or an OperationOutcome (400/403/404/412/415)."""
    started = time.perf_counter()
    state = _state()
    service = state.registry.get(service_id)
    if service is None:
        issue = Issue("service", "no CDS service with this id", code="not-found")
        return outcome_response(404, [issue])
    if not request.is_json:
        return outcome_response(
            415, [Issue("Content-Type", "send application/json", code="not-supported")]
        )
    body: Any = request.get_json(silent=True)
    if body is None:
        return outcome_response(400, [Issue("$", "the request body is not valid JSON")])
    fields = {"service": service_id, "hook_instance": _hook_instance(body)}
    try:
        answer = answer_hook(
            service,
            body,
            knowledge=state.knowledge,
            now=state.clock(),
            client_factory=state.client_factory,
            allow_anonymous_fhir=state.settings.allow_anonymous_fhir,
            allowed_fhir_servers=_allowed_fhir_servers(state),
        )
    except HookError as error:
        log.info(
            "hook refused",
            extra={**fields, "status": error.status, "paths": [i.path for i in error.issues]},
        )
        return outcome_response(error.status, error.issues)
    log.info(
        "hook answered",
        extra={
            **fields,
            "status": 200,
            "cards": len(answer["cards"]),
            "duration_ms": round(1000 * (time.perf_counter() - started), 1),
        },
    )
    record_served(state, service_id, fields["hook_instance"], answer)
    return jsonify(answer)


def _hook_instance(body: object) -> str | None:
    """The hookInstance for log correlation, only when it looks like a UUID (never free text)."""
    value = body.get("hookInstance") if isinstance(body, dict) else None
    return value if isinstance(value, str) and UUID_TEXT.match(value) else None
