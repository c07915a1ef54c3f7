"""Routes: discovery and one service call; each is one line into the pipeline."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from flask import Blueprint, Response, g, jsonify

from cds_service.pipeline import answer_hook
from cds_service.protocol.errors import HookError
from cds_service.web.errors import outcome_response
from cds_service.web.feedback import record_served
from cds_service.web.security import protect
from cds_service.web.state import AppState, app_state, read_call

log = logging.getLogger("cds_service")
blueprint = Blueprint("cds", __name__)
protect(blueprint)
UUID_TEXT = re.compile(r"^[0-9a-fA-F-]{36}$")


def _allowed_fhir_servers(state: AppState) -> tuple[str, ...]:
    """Per issuer when authentication is on, else the configured list."""
    issuer = g.get("issuer")
    return issuer.fhir_servers if issuer is not None else state.settings.fhir_servers


@blueprint.get("/cds-services")
def discovery() -> Response:
    """CDS Hooks discovery document."""
    return jsonify(app_state().registry.discovery())


@blueprint.post("/cds-services/<service_id>")
def call_service(service_id: str) -> tuple[Response, int] | Response:
    """Answer one hook call with cards, or an OperationOutcome (400/403/404/412/415)."""
    started = time.perf_counter()
    state = app_state()
    fields: dict[str, Any] = {"service": service_id, "hook_instance": None}
    try:
        service, body = read_call(state, service_id)
        fields["hook_instance"] = _hook_instance(body)
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
