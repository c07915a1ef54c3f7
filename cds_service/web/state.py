"""What the app holds for its routes: settings, knowledge, services, clock, FHIR, JWT verifier."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from cds_service.clinical.knowledge import Knowledge
from cds_service.config import Settings
from cds_service.feedback import FeedbackStore
from cds_service.fhir.gather import ClientFactory
from cds_service.protocol.services import ServiceRegistry
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
