"""ANE CDS Hooks service: create_app builds the Flask application (no app at import)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from flask import Flask

from cds_service.clinical.knowledge import load_knowledge
from cds_service.config import Settings, settings_from_env
from cds_service.fhir.client import FhirClient
from cds_service.fhir.gather import ClientFactory
from cds_service.protocol.services import load_registry
from cds_service.web.errors import register_error_handlers
from cds_service.web.routes import blueprint
from cds_service.web.state import AppState


def utc_now() -> datetime:
    """The evaluation time of a hook call."""
    return datetime.now(UTC)


def create_app(
    settings: Settings | None = None,
    *,
    clock: Callable[[], datetime] = utc_now,
    client_factory: ClientFactory | None = None,
) -> Flask:
    """Build the service; refuses to start (raises) when knowledge or descriptors are invalid."""
    settings = settings or settings_from_env()
    logging.getLogger("cds_service").setLevel(settings.log_level)
    fhir_settings = settings.fhir

    def default_factory(base_url: str, token: str | None) -> FhirClient:
        return FhirClient(base_url, token, fhir_settings)

    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["ane_cds"] = AppState(
        settings=settings,
        knowledge=load_knowledge(settings.knowledge_file),
        registry=load_registry(settings.hooks_dir),
        clock=clock,
        client_factory=client_factory or default_factory,
    )
    app.register_blueprint(blueprint)
    register_error_handlers(app)
    return app
