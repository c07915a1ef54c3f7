"""Request guards on the CDS endpoints: CORS preflight, JWT authentication, CORS headers."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, g, request

from cds_service.web.auth import AuthError
from cds_service.web.state import AppState, app_state

log = logging.getLogger("cds_service.auth")
CORS_HEADERS = "Authorization, Content-Type"
CORS_METHODS = "GET, POST, OPTIONS"
CORS_MAX_AGE = "600"


def _allowed_origin(state: AppState) -> str | None:
    origin = request.headers.get("Origin")
    allowed = state.settings.cors_origins
    if "*" in allowed:
        return "*"
    return origin if origin and origin in allowed else None


def guard() -> Response | None:
    """Answer a CORS preflight; refuse a call without a valid JWT (401, no body)."""
    state = app_state()
    if request.method == "OPTIONS":
        return Response(status=204)
    if state.verifier is None:
        g.issuer = None
        return None
    audience = state.settings.public_base_url + request.path
    try:
        verified = state.verifier.verify(request.headers.get("Authorization"), audience)
    except AuthError as error:
        log.warning("authentication refused", extra={"reason": str(error), "status": 401})
        return Response(status=401, headers={"WWW-Authenticate": "Bearer"})
    g.issuer = verified.issuer
    return None


def add_cors_headers(response: Response) -> Response:
    """CORS headers for an allowed origin (never * together with credentials)."""
    origin = _allowed_origin(app_state())
    if origin is not None:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Headers"] = CORS_HEADERS
        response.headers["Access-Control-Allow-Methods"] = CORS_METHODS
        response.headers["Access-Control-Max-Age"] = CORS_MAX_AGE
        if origin != "*":
            response.headers["Vary"] = "Origin"
    return response


def protect(blueprint: Blueprint) -> None:
    """Install the guards on a blueprint of CDS endpoints."""
    blueprint.before_request(guard)
    blueprint.after_request(add_cors_headers)
