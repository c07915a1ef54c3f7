"""CDS Hooks 2.0 request shapes, validated; unknown fields and `extension` are tolerated."""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlsplit
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cds_service.protocol.errors import Issue, bad_request


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class FhirAuthorization(_Tolerant):
    """The EHR's access token for its FHIR server (transient: never logged or stored)."""

    # Visible ASCII only: it goes into an HTTP header (anything else could not be sent: no 500).
    access_token: str = Field(min_length=1, pattern=r"^[\x21-\x7e]+$", repr=False)
    token_type: str
    expires_in: int
    scope: str
    subject: str
    patient: str | None = None

    @field_validator("token_type")
    @classmethod
    def _bearer(cls, value: str) -> str:
        if value.lower() != "bearer":
            raise ValueError("token_type must be 'Bearer'")
        return value


class PatientViewContext(_Tolerant):
    """patient-view context (hooks library 1.0)."""

    userId: str = Field(min_length=1)
    patientId: str = Field(min_length=1)
    encounterId: str | None = None


class DraftOrders(_Tolerant):
    """The draftOrders Bundle; entries are read (and validated) by the gather stage."""

    resourceType: Literal["Bundle"]
    entry: list[dict[str, Any]] = Field(default_factory=list)


class OrderSignContext(PatientViewContext):
    """order-sign context: every draft order is checked."""

    draftOrders: DraftOrders


class OrderSelectContext(OrderSignContext):
    """order-select context: the selected draft orders are checked."""

    selections: list[str] = Field(min_length=1)


CONTEXTS: dict[str, type[PatientViewContext]] = {
    "patient-view": PatientViewContext,
    "order-select": OrderSelectContext,
    "order-sign": OrderSignContext,
}


class HookRequest(_Tolerant):
    """A CDS Hooks 2.0 service call."""

    hook: str
    hookInstance: UUID
    context: dict[str, Any]
    fhirServer: str | None = None
    fhirAuthorization: FhirAuthorization | None = None
    prefetch: dict[str, Any] | None = None
    extension: dict[str, Any] | None = None

    @field_validator("fhirServer")
    @classmethod
    def _absolute_url(cls, value: str | None) -> str | None:
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError("fhirServer must be an absolute http(s) URL")
        return value


def parse_hook_request(body: object, expected_hook: str) -> tuple[HookRequest, PatientViewContext]:
    """Validate a decoded JSON body for a service of `expected_hook`; raise 400 naming fields."""
    if not isinstance(body, dict):
        raise bad_request([Issue("$", "the request body must be a JSON object")])
    try:
        request = HookRequest.model_validate(body)
    except ValidationError as error:
        raise bad_request(_issues(error)) from None
    issues: list[Issue] = []
    if request.hook != expected_hook:
        issues.append(Issue("hook", f"this service answers the '{expected_hook}' hook"))
    if request.fhirAuthorization is not None and request.fhirServer is None:
        issues.append(Issue("fhirServer", "fhirServer is required with fhirAuthorization"))
    if issues:
        raise bad_request(issues)
    try:
        context = CONTEXTS[expected_hook].model_validate(request.context)
    except ValidationError as error:
        raise bad_request(_issues(error, prefix="context")) from None
    return request, context


def _issues(error: ValidationError, prefix: str = "") -> list[Issue]:
    """Pydantic errors as field paths and messages, without the offending input values."""
    issues = []
    for item in error.errors(include_input=False, include_url=False):
        parts = [prefix] if prefix else []
        for loc in item["loc"]:
            if isinstance(loc, int):
                parts[-1:] = [f"{parts[-1]}[{loc}]"] if parts else [f"[{loc}]"]
            else:
                parts.append(str(loc))
        issues.append(
            Issue(
                ".".join(parts) or "$",
                item["msg"],
                code="required" if item["type"] == "missing" else "invalid",
            )
        )
    return issues
