"""The one place that knows FHIR R4 shapes: validation of incoming resources.

Data from the EHR (prefetch and FHIR fetches, often hundreds of Observations) is validated with
narrow models: every element the rules read is checked strictly (JSON types, FHIR date and time
formats, required elements), everything else is ignored. Profiling showed that full
fhir.resources models cost three quarters of a hook's time for such data. Draft orders are
validated narrowly too; one is validated whole with fhir.resources (R4 through R4B) before an
update suggestion echoes it back, and is never echoed if it fails (fhir/facts.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, NotRequired, Required

from fhir.resources.R4B import get_fhir_model_class
from pydantic import (
    Field,
    GetPydanticSchema,
    StrictBool,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
)
from pydantic_core import core_schema
from typing_extensions import TypedDict

# FHIR R4 primitive formats (https://hl7.org/fhir/R4/datatypes.html)
_YEAR = r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)"
_TZ = r"(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))"
_TIME = r"([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?"
DATE = rf"^{_YEAR}(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?$"
DATE_TIME = rf"^{_YEAR}(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T{_TIME}{_TZ})?)?)?$"
INSTANT = rf"^{_YEAR}-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])T{_TIME}{_TZ}$"

FhirDate = Annotated[StrictStr, Field(pattern=DATE)]
FhirDateTime = Annotated[StrictStr, Field(pattern=DATE_TIME)]
FhirInstant = Annotated[StrictStr, Field(pattern=INSTANT)]
FhirTime = Annotated[StrictStr, Field(pattern=rf"^{_TIME}$")]
FhirCode = Annotated[StrictStr, Field(pattern=r"^[^\s]+(\s[^\s]+)*$")]
FhirString = Annotated[StrictStr, Field(min_length=1)]


# A FHIR decimal in JSON is a number, never a string or a boolean; kept as given (int or float).
# Checked inside pydantic-core: a Python validator here cost a third of validating Observations.
JSON_NUMBER = core_schema.custom_error_schema(
    core_schema.union_schema(
        [core_schema.int_schema(strict=True), core_schema.float_schema(strict=True)],
        mode="left_to_right",
    ),
    custom_error_type="json_number",
    custom_error_message="must be a JSON number",
)
FhirDecimal = Annotated[Any, GetPydanticSchema(lambda _type, _handler: JSON_NUMBER)]
PositiveInt = Annotated[StrictInt, Field(gt=0)]
UnsignedInt = Annotated[StrictInt, Field(ge=0)]


# TypedDicts, not models: pydantic validates them into plain dicts about three times faster,
# and the normaliser reads dicts anyway. Elements not named here are ignored.


class Coding(TypedDict, total=False):
    system: FhirString
    code: FhirCode
    display: FhirString


class CodeableConcept(TypedDict, total=False):
    coding: list[Coding]
    text: FhirString


class Quantity(TypedDict, total=False):
    value: FhirDecimal
    comparator: FhirCode
    unit: FhirString
    system: FhirString
    code: FhirCode


class Period(TypedDict, total=False):
    start: FhirDateTime
    end: FhirDateTime


class Reference(TypedDict, total=False):
    reference: FhirString
    display: FhirString


class ReferenceRange(TypedDict, total=False):
    high: Quantity


class Patient(TypedDict):
    resourceType: Literal["Patient"]
    id: NotRequired[FhirString]
    birthDate: NotRequired[FhirDate]


class Observation(TypedDict):
    resourceType: Literal["Observation"]
    status: FhirCode
    code: CodeableConcept
    id: NotRequired[FhirString]
    effectiveDateTime: NotRequired[FhirDateTime]
    effectiveInstant: NotRequired[FhirInstant]
    effectivePeriod: NotRequired[Period]
    issued: NotRequired[FhirInstant]
    valueQuantity: NotRequired[Quantity]
    valueBoolean: NotRequired[StrictBool]
    interpretation: NotRequired[list[CodeableConcept]]
    referenceRange: NotRequired[list[ReferenceRange]]


class Condition(TypedDict, total=False):
    resourceType: Required[Literal["Condition"]]
    id: FhirString
    code: CodeableConcept
    clinicalStatus: CodeableConcept
    verificationStatus: CodeableConcept
    onsetDateTime: FhirDateTime
    onsetPeriod: Period


class Repeat(TypedDict, total=False):
    frequency: PositiveInt
    frequencyMax: PositiveInt
    period: FhirDecimal
    periodMax: FhirDecimal
    periodUnit: FhirCode
    count: PositiveInt
    timeOfDay: list[FhirTime]
    boundsDuration: Quantity
    boundsPeriod: Period


class Timing(TypedDict, total=False):
    repeat: Repeat
    code: CodeableConcept


class DoseAndRate(TypedDict, total=False):
    doseQuantity: Quantity
    doseRange: dict[str, Any]
    rateQuantity: Quantity
    rateRatio: dict[str, Any]
    rateRange: dict[str, Any]


class Dosage(TypedDict, total=False):
    sequence: StrictInt
    text: FhirString
    timing: Timing
    route: CodeableConcept
    doseAndRate: list[DoseAndRate]


class DispenseRequest(TypedDict, total=False):
    expectedSupplyDuration: Quantity


class ContainedResource(TypedDict, total=False):
    resourceType: Required[FhirString]
    id: FhirString
    code: CodeableConcept


class MedicationRequest(TypedDict, total=False):
    resourceType: Required[Literal["MedicationRequest"]]
    status: Required[FhirCode]
    intent: Required[FhirCode]
    id: FhirString
    medicationCodeableConcept: CodeableConcept
    medicationReference: Reference
    contained: list[ContainedResource]
    authoredOn: FhirDateTime
    dosageInstruction: list[Dosage]
    dispenseRequest: DispenseRequest


class AllergyIntolerance(TypedDict, total=False):
    resourceType: Required[Literal["AllergyIntolerance"]]
    id: FhirString
    code: CodeableConcept
    clinicalStatus: CodeableConcept
    verificationStatus: CodeableConcept


SHAPES: tuple[type, ...] = (Patient, Observation, Condition, MedicationRequest, AllergyIntolerance)
# Validators of a list of resources of one type: one call into pydantic for a whole Bundle
# (one call per resource spent a fifth of validation on call overhead for 233 Observations).
NARROW_LISTS: dict[str, TypeAdapter[Any]] = {
    shape.__name__: TypeAdapter(list[shape])  # type: ignore[valid-type]
    for shape in SHAPES
}
# Resource types the rules read; anything else in the data is refused or ignored by the caller.
READ_TYPES = frozenset(NARROW_LISTS)


class InvalidResource(Exception):
    """A resource is not valid FHIR R4; `paths` name the offending elements (never values).

    `position`: which resource of the list given to narrow; 0 for validate_whole_resource.
    """

    def __init__(self, resource_type: str, paths: list[str], position: int = 0) -> None:
        super().__init__(f"invalid {resource_type}: {', '.join(paths)}")
        self.resource_type = resource_type
        self.paths = paths
        self.position = position


def narrow(resources: Sequence[Mapping[str, Any]], resource_type: str) -> list[dict[str, Any]]:
    """Many resources of one type, validated at once, as the rules may read them.

    Every element the rules read is checked, each resource's resourceType included. What comes
    back holds only the validated elements, so the normaliser cannot read anything unchecked.
    Raises InvalidResource with the position of the first invalid resource.
    """
    adapter = NARROW_LISTS.get(resource_type)
    if adapter is None:
        if resources:
            raise InvalidResource(resource_type or "resource", ["resourceType"])
        return []
    # The first resource without its one medication[x] (MedicationRequest only): the shapes
    # cannot say "exactly one of two", so it is checked here, in the same order.
    no_medication = next(
        (i for i, r in enumerate(resources) if not _medication_ok(resource_type, r)), None
    )
    last = None if no_medication is None else no_medication + 1
    try:
        checked: list[dict[str, Any]] = adapter.validate_python(resources[:last])
    except ValidationError as error:
        first = min(int(item["loc"][0]) for item in error.errors())
        raise InvalidResource(resource_type, _paths(error, at=first), first) from None
    if no_medication is not None:
        raise InvalidResource(resource_type, ["medication[x]"], no_medication)
    return checked


def _medication_ok(resource_type: str, resource: Mapping[str, Any]) -> bool:
    """MedicationRequest.medication[x] is required (exactly one of its two forms)."""
    if resource_type != "MedicationRequest":
        return True
    forms = [k for k in ("medicationCodeableConcept", "medicationReference") if k in resource]
    return len(forms) == 1


def validate_whole_resource(resource: Mapping[str, Any]) -> None:
    """Validate every element of a resource with the full R4 model (fhir.resources R4B).

    Unknown elements are tolerated (EHRs add their own); wrong types and formats are not.
    """
    resource_type = str(resource.get("resourceType", ""))
    if resource_type not in READ_TYPES:
        raise InvalidResource(resource_type or "resource", ["resourceType"])
    try:
        get_fhir_model_class(resource_type).model_validate(resource)
    except ValidationError as error:
        paths = _paths(error, ignore={"extra_forbidden"})
        if paths:
            raise InvalidResource(resource_type, paths) from None
    except (KeyError, TypeError, AttributeError):  # e.g. a contained resource of unknown type
        raise InvalidResource(resource_type, ["(resource)"]) from None


def _paths(
    error: ValidationError, ignore: frozenset[str] | set[str] = frozenset(), at: int | None = None
) -> list[str]:
    """Dotted paths of the errors (of list item `at` only, without its index, when given)."""
    items = error.errors()
    if at is not None:
        items = [{**i, "loc": i["loc"][1:]} for i in items if i["loc"][0] == at]
    return sorted({_dotted(item["loc"]) for item in items if item["type"] not in ignore})


def _dotted(loc: tuple[int | str, ...]) -> str:
    """('dosageInstruction', 0, 'timing') -> 'dosageInstruction[0].timing'."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(resource)"
