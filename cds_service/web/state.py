"""What the app holds for its routes: settings, knowledge, services, clock, FHIR, JWT verifier."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app, request

from cds_service.clinical.knowledge import Knowledge
from cds_service.config import Settings
from cds_service.feedback import FeedbackStore
from cds_service.fhir.gather import ClientFactory
from cds_service.protocol.errors import HookError, Issue, bad_request
from cds_service.protocol.services import ServiceDescriptor, ServiceRegistry
from cds_service.web.auth import JwtVerifier


@dataclass(frozen=True)
class AppState:
    settings: Settings
    knowledge: Knowledge
    registry: ServiceRegistry
    clock: Callable[[], datetime]
    client_factory: ClientFactory
    verifier: JwtVerifier | None
    feedback: FeedbackStore | None = None  # served cards and feedback (None: not recorded)


def app_state() -> AppState:
    """The AppState of the app handling the current request."""
    state: AppState = current_app.extensions["ane_cds"]
    return state


def read_call(state: AppState, service_id: str) -> tuple[ServiceDescriptor, Any]:
    """The service called and the decoded JSON body; HookError 404, 415 or 400 otherwise."""
    service = state.registry.get(service_id)
    if service is None:
        raise HookError(404, [Issue("service", "no CDS service with this id", code="not-found")])
    if not request.is_json:
        raise HookError(415, [Issue("Content-Type", "send application/json", code="not-supported")])
    body: Any = request.get_json(silent=True)
    if body is None:
        raise bad_request([Issue("$", "the request body is not valid JSON")])
    return service, body
