"""The one place that imports fhir.resources: R4 (through R4B) validation of incoming resources."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

# Resource types the rules read; anything else in the data is refused or ignored by the caller.
READ_TYPES = frozenset(
    {"Patient", "Observation", "Condition", "MedicationRequest", "AllergyIntolerance"}
)


class InvalidResource(Exception):
    """A resource is not valid FHIR R4; `paths` name the offending elements (never values)."""

    def __init__(self, resource_type: str, paths: list[str]) -> None:
        super().__init__(f"invalid {resource_type}: {', '.join(paths)}")
        self.resource_type = resource_type
        self.paths = paths


def validate_resource(resource: Mapping[str, Any]) -> None:
    """Validate one R4 resource of a type the rules read; raise InvalidResource if it is not."""
    resource_type = str(resource.get("resourceType", ""))
    if resource_type not in READ_TYPES:
        raise InvalidResource(resource_type or "resource", ["resourceType"])
    model = get_fhir_model_class(resource_type)
    try:
        model.model_validate(resource)
    except ValidationError as error:
        # Unknown elements are tolerated (EHRs add their own); wrong types and formats are not.
        paths = sorted(
            {_dotted(item["loc"]) for item in error.errors() if item["type"] != "extra_forbidden"}
        )
        if paths:
            raise InvalidResource(resource_type, paths) from None


def _dotted(loc: tuple[int | str, ...]) -> str:
    """('dosageInstruction', 0, 'timing') -> 'dosageInstruction[0].timing'."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(resource)"
