"""PatientFacts: the frozen, unit-normalised input of the clinical rules (no FHIR models here)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal, NamedTuple

Drug = Literal["mp", "tcz", "tnf", "vasoactive"]


class LabValue(NamedTuple):
    """One usable Observation value in the fact's canonical unit.

    A NamedTuple, not a frozen dataclass like the other facts: hundreds are built per hook
    (time series), and a frozen dataclass costs twice as much to build. Immutable all the same.
    """

    fact: str
    value: Decimal
    at: datetime | None
    ref_high: Decimal | None = None


@dataclass(frozen=True)
class SkippedValue:
    """An Observation value the rules could not use, and why ('unit' or 'implausible')."""

    fact: str
    reason: Literal["unit", "implausible"]
    value_text: str
    unit: str
    at: datetime | None


@dataclass(frozen=True)
class FindingValue:
    """An imaging finding Observation (valueBoolean)."""

    name: str
    present: bool
    at: datetime | None


@dataclass(frozen=True)
class ConditionFact:
    """A Condition with its code groups (knowledge `conditions` names) and its statuses."""

    groups: frozenset[str]
    onset: datetime | None
    active: bool
    verified: bool

    @property
    def counts(self) -> bool:
        """Active (or no clinicalStatus) and not refuted or entered in error."""
        return self.active and self.verified


@dataclass(frozen=True)
class CultureFact:
    """A blood or CSF culture result."""

    positive: bool
    at: datetime | None


@dataclass(frozen=True)
class DoseQuantity:
    """A dose as written: value and unit code (unit read from UCUM code, else the unit text)."""

    value: Decimal
    unit: str


@dataclass(frozen=True)
class Dosage:
    """One dosageInstruction, reduced to what dose reading needs."""

    dose: DoseQuantity | None
    has_timing: bool = False
    frequency: int | None = None
    frequency_max: int | None = None
    period: Decimal | None = None
    period_max: Decimal | None = None
    period_unreadable: bool = False
    period_unit: str | None = None
    count: int | None = None
    time_of_day_count: int = 0
    timing_code: str | None = None
    bounds_duration_days: Decimal | None = None
    bounds_days: Decimal | None = None
    sequence: int | None = None
    dose_is_range: bool = False
    dose_is_rate: bool = False


@dataclass(frozen=True)
class MedicationOrder:
    """A MedicationRequest: history or draft. `raw` is its JSON, for update suggestions."""

    id: str | None
    drug: Drug | None
    status: str
    authored: datetime | None
    dosages: tuple[Dosage, ...]
    supply_days: Decimal | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)
    drug_text: str = ""
    route_iv: bool | None = None
    ref: str = ""  # "MedicationRequest/<id>", or the entry path of a draft order without id
    # Where the whole order is not valid FHIR R4 (element paths); () when it is. Asked only
    # before an update suggestion echoes the order back: the check costs more than the rules.
    echo_problems: Callable[[], tuple[str, ...]] = field(
        default=lambda: (), repr=False, compare=False
    )


@dataclass(frozen=True)
class PatientFacts:
    """Everything the rules read about one patient, already normalised."""

    patient_id: str
    birth_date: date | None
    labs: Mapping[str, tuple[LabValue, ...]]
    skipped: tuple[SkippedValue, ...]
    findings: tuple[FindingValue, ...]
    conditions: tuple[ConditionFact, ...]
    cultures: tuple[CultureFact, ...]
    medications: tuple[MedicationOrder, ...]
    tcz_allergy: bool
    draft_orders: tuple[MedicationOrder, ...] = ()
    selections: tuple[str, ...] | None = None
    birth_date_latest: date | None = None

    def values(self, fact: str) -> tuple[LabValue, ...]:
        """Usable values of a fact, newest first (undated last)."""
        return self.labs.get(fact, ())
