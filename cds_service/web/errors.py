"""Error bodies: every non-2xx is a JSON OperationOutcome; never a stack trace."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from cds_service.protocol.errors import Issue, operation_outcome

log = logging.getLogger("cds_service")


def outcome_response(status: int, issues: list[Issue]) -> tuple[Response, int]:
    """A JSON OperationOutcome with the given status."""
    response = jsonify(operation_outcome(issues))
    return response, status


def register_error_handlers(app: Flask) -> None:
    """Turn HTTP errors and unexpected exceptions into OperationOutcome bodies."""

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> tuple[Response, int]:
        status = error.code or 500
        response, status = outcome_response(status, [Issue("$", error.name, code="processing")])
        allow = error.get_response().headers.get("Allow")  # 405 must say which methods work
        if allow:
            response.headers["Allow"] = allow
        return response, status

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> tuple[Response, int]:
        log.exception("unexpected error (%s)", type(error).__name__)
        return outcome_response(
            500, [Issue("$", "internal error: the hook could not be evaluated", code="exception")]
        )
