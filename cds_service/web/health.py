"""Health endpoints for the container platform: liveness and readiness, without authentication.

`GET /health/live` answers 200 while the process serves HTTP. `GET /health/ready` answers 200 when
the knowledge file and the service descriptors are loaded and valid and the settings still check
(JWKS files present, CDS_DATA_DIR writable), else 503 naming the failed checks; the reasons go to
the log, never to the body. Neither endpoint reads patient data or needs a JWT.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from flask import Blueprint, Response, jsonify

from cds_service.config import ConfigError
from cds_service.web.state import AppState, app_state

log = logging.getLogger("cds_service.health")
health = Blueprint("health", __name__, url_prefix="/health")
NO_STORE = {"Cache-Control": "no-store"}


def _knowledge(state: AppState) -> str | None:
    """The knowledge file was loaded and validated at start; its version names it."""
    return None if state.knowledge.meta.version else "knowledge file has no version"


def _services(state: AppState) -> str | None:
    """At least one service descriptor was loaded."""
    return None if state.registry.discovery()["services"] else "no service descriptors"


def _configuration(state: AppState) -> str | None:
    """The settings still check (a JWKS file can disappear after start)."""
    try:
        state.settings.check()
    except ConfigError as error:
        return str(error)
    return None


def _data_dir(state: AppState) -> str | None:
    """CDS_DATA_DIR (jti replay store, SQLite stores) must stay writable."""
    data_dir = state.settings.data_dir
    if os.access(data_dir, os.W_OK | os.X_OK):
        return None
    return f"CDS_DATA_DIR {data_dir} is not writable"


CHECKS: dict[str, Callable[[AppState], str | None]] = {
    "knowledge": _knowledge,
    "services": _services,
    "configuration": _configuration,
    "data_dir": _data_dir,
}


def failed_checks(state: AppState) -> list[str]:
    """Names of the readiness checks that fail (empty when ready); each reason is logged."""
    failed = []
    for name, check in CHECKS.items():
        reason = check(state)
        if reason is not None:
            log.warning("not ready: %s check failed", name, extra={"reason": reason})
            failed.append(name)
    return failed


@health.get("/live")
def live() -> tuple[Response, int, dict[str, str]]:
    """Liveness: the process answers HTTP."""
    return jsonify(status="live"), 200, NO_STORE


@health.get("/ready")
def ready() -> tuple[Response, int, dict[str, str]]:
    """Readiness: 200 with the knowledge version, or 503 with the names of the failed checks."""
    state = app_state()
    failed = failed_checks(state)
    if failed:
        return jsonify(status="not-ready", failed=failed), 503, NO_STORE
    services = len(state.registry.discovery()["services"])
    body = {"status": "ready", "knowledge": state.knowledge.meta.version, "services": services}
    return jsonify(body), 200, NO_STORE
