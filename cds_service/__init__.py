"""ANE CDS Hooks service: create_app builds the Flask application (no app at import)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from cds_service.clinical.knowledge import load_knowledge
from cds_service.config import Settings, settings_from_env
from cds_service.feedback import open_store
from cds_service.fhir.client import FhirClient
from cds_service.fhir.gather import ClientFactory
from cds_service.protocol.services import load_registry
from cds_service.web.auth import JwtVerifier, KeyStore, ReplayStore
from cds_service.web.errors import register_error_handlers
from cds_service.web.feedback import blueprint as feedback_blueprint
from cds_service.web.floor import floor
from cds_service.web.health import health as health_blueprint
from cds_service.web.openapi import openapi as openapi_blueprint
from cds_service.web.routes import blueprint
from cds_service.web.state import AppState

log = logging.getLogger("cds_service")


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
    settings = (settings or settings_from_env()).check()
    logging.getLogger("cds_service").setLevel(settings.log_level)
    fhir_settings = settings.fhir
    verifier = None
    if settings.auth_enabled:
        verifier = JwtVerifier(
            settings.issuers,
            KeyStore(settings.jwks_refresh_s),
            ReplayStore(settings.data_dir / "jti.sqlite3"),
        )
    else:
        log.warning(
            "authentication is OFF (CDS_AUTH=off): any caller is accepted; "
            "never run like this with patient data"
        )

    def default_factory(base_url: str, token: str | None) -> FhirClient:
        return FhirClient(base_url, token, fhir_settings)

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["ane_cds"] = AppState(
        settings=settings,
        knowledge=load_knowledge(settings.knowledge_file),
        registry=load_registry(settings.hooks_dir),
        clock=clock,
        client_factory=client_factory or default_factory,
        verifier=verifier,
        feedback=open_store(settings.data_dir, settings.database_url),
    )
    app.register_blueprint(blueprint)
    app.register_blueprint(feedback_blueprint)
    app.register_blueprint(health_blueprint)
    app.register_blueprint(openapi_blueprint)
    if settings.trusted_proxies:  # X-Forwarded-* only from the configured number of proxies
        hops = settings.trusted_proxies
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=hops
        )
    if os.environ.get("CDS_BENCH_FLOOR") == "on":  # benchmark only: see cds_service/web/floor.py
        app.register_blueprint(floor)
    register_error_handlers(app)
    return app
