"""GET /openapi.json: the service's OpenAPI 3.1 document, shipped in the package, no JWT.

The document (cds_service/openapi.json) describes discovery, the three hook services, feedback
and the health endpoints with the CDS Hooks 2.0 shapes; tests/robustness checks real responses
against it and fuzzes the running service with it. It holds no patient data and no secret.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from flask import Blueprint, Response

openapi = Blueprint("openapi", __name__)
DOCUMENT = "openapi.json"


@cache
def openapi_bytes() -> bytes:
    """The shipped document, as it is in the package (read once per process)."""
    return resources.files("cds_service").joinpath(DOCUMENT).read_bytes()


@openapi.get("/openapi.json")
def document() -> Response:
    """The OpenAPI document of this service."""
    return Response(
        openapi_bytes(),
        mimetype="application/json",
        headers={"Cache-Control": "no-cache"},
    )
