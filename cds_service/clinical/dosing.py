"""Reading the dose of a MedicationRequest (ane-rules.md sections 4, 8 and 11): never guessed."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from cds_service.clinical.facts import Dosage, MedicationOrder
from cds_service.clinical.knowledge import Knowledge


@dataclass(frozen=True)
class Unreadable:
    """The dose cannot be read: `reason` is a short fixed phrase, `detail` quotes the order."""

    reason: str
    detail: str = ""


@dataclass(frozen=True)
class DoseReading:
    """An order's dose: per administration and per day, in mg and, with a weight, in mg/kg.

    `doses_per_day` is None when the order has no timing: the dose is then read as the daily
    total (and `notes` says so). `mg_*` are None only for a mg/kg order without a usable weight.
    """

    mg_per_dose: Decimal | None
    mg_per_kg_per_dose: Decimal | None
    doses_per_day: Decimal | None
    notes: tuple[str, ...]

    @property
    def mg_per_day(self) -> Decimal | None:
        """Daily dose in mg."""
        return _times(self.mg_per_dose, self.doses_per_day)

    @property
    def mg_per_kg_per_day(self) -> Decimal | None:
        """Daily dose in mg/kg."""
        return _times(self.mg_per_kg_per_dose, self.doses_per_day)


def _times(dose: Decimal | None, per_day: Decimal | None) -> Decimal | None:
    if dose is None:
        return None
    return dose if per_day is None else dose * per_day


@dataclass(frozen=True)
class _Part:
    mg: Decimal | None
    mg_per_kg: Decimal | None
    per_day: Decimal | None
    notes: tuple[str, ...]


def read_dose(
    order: MedicationOrder, weight_kg: Decimal | None, knowledge: Knowledge
) -> DoseReading | Unreadable:
    """The order's dose, summing concurrent instructions; phases (sequence) give their highest."""
    if not order.dosages:
        return Unreadable("no dosage instruction")
    parts: dict[int | None, list[_Part]] = {}
    for dosage in order.dosages:
        part = _read_part(dosage, weight_kg, knowledge)
        if isinstance(part, Unreadable):
            return part
        parts.setdefault(dosage.sequence, []).append(part)
    readings = [_combine(group) for group in parts.values()]
    if len(readings) == 1:
        return readings[0]
    highest = max(readings, key=lambda r: r.mg_per_day or r.mg_per_kg_per_day or Decimal(0))
    note = "the order has several phases; the phase with the highest daily dose was checked"
    return DoseReading(
        highest.mg_per_dose,
        highest.mg_per_kg_per_dose,
        highest.doses_per_day,
        (*highest.notes, note),
    )


def _combine(group: list[_Part]) -> DoseReading:
    if len(group) == 1:
        only = group[0]
        return DoseReading(only.mg, only.mg_per_kg, only.per_day, only.notes)
    mg = _sum_daily([(p.mg, p.per_day) for p in group])
    mg_per_kg = _sum_daily([(p.mg_per_kg, p.per_day) for p in group])
    notes = tuple(dict.fromkeys(n for p in group for n in p.notes))
    note = "several concurrent dosage instructions were added up into one daily dose"
    return DoseReading(mg, mg_per_kg, None, (*notes, note))


def _sum_daily(items: list[tuple[Decimal | None, Decimal | None]]) -> Decimal | None:
    total = Decimal(0)
    for dose, per_day in items:
        daily = _times(dose, per_day)
        if daily is None:
            return None
        total += daily
    return total


def _read_part(
    dosage: Dosage, weight_kg: Decimal | None, knowledge: Knowledge
) -> _Part | Unreadable:
    if dosage.dose is None:
        if dosage.dose_is_rate:
            return Unreadable("the dose is given only as an infusion rate")
        return Unreadable("the dose is given as a range" if dosage.dose_is_range else "no dose")
    unit, value = dosage.dose.unit, dosage.dose.value
    per_day = doses_per_day(dosage, knowledge)
    if isinstance(per_day, Unreadable):
        return per_day
    per_day_value, notes = per_day
    if unit in knowledge.dosing.mass_units:
        mg = value * knowledge.dosing.mass_units[unit]
        per_kg = mg / weight_kg if weight_kg else None
        return _Part(mg, per_kg, per_day_value, notes)
    if unit in knowledge.dosing.per_kg_units:
        per_kg = value * knowledge.dosing.per_kg_units[unit]
        return _Part(per_kg * weight_kg if weight_kg else None, per_kg, per_day_value, notes)
    return Unreadable(
        "the dose unit is not a mass or mg/kg", f"the dose unit is '{unit or 'none'}'"
    )


NO_TIMING = "the order has no timing: its dose was read as the daily total"


def doses_per_day(
    dosage: Dosage, knowledge: Knowledge
) -> tuple[Decimal | None, tuple[str, ...]] | Unreadable:
    """Administrations per day from timing.repeat (or timing.code); None: no timing."""
    day = knowledge.dosing.period_seconds["d"]
    if dosage.period_unreadable:
        return Unreadable("the timing period cannot be read")
    if dosage.period is not None:
        seconds = knowledge.dosing.period_seconds.get(dosage.period_unit or "")
        if seconds is None:
            return Unreadable(
                "the period unit cannot be read",
                f"the period unit is '{dosage.period_unit or 'none'}'",
            )
        if dosage.period <= 0:
            return Unreadable("the timing period is not positive")
        frequency = dosage.frequency_max or dosage.frequency or 1
        notes: tuple[str, ...] = ()
        if dosage.frequency_max or dosage.period_max:
            notes = ("the timing gives a range: the highest possible daily dose was checked",)
        return Decimal(frequency) * day / (dosage.period * seconds), notes
    if dosage.time_of_day_count:
        return Decimal(dosage.time_of_day_count), ()
    if dosage.frequency is not None:
        return Unreadable("the timing has a frequency but no period")
    if dosage.timing_code is not None:
        per_day = knowledge.dosing.timing_codes.get(dosage.timing_code)
        if per_day is None:
            return Unreadable(
                "the timing code cannot be read", f"the timing code is '{dosage.timing_code}'"
            )
        return per_day, ()
    return None, (NO_TIMING,)


def course_days(order: MedicationOrder, knowledge: Knowledge) -> Decimal | None:
    """How many days the order lasts: bounds, count / doses per day, or expected supply."""
    for dosage in order.dosages:
        if dosage.bounds_duration_days is not None:
            return dosage.bounds_duration_days
        if dosage.bounds_days is not None:
            return dosage.bounds_days
        per_day = doses_per_day(dosage, knowledge)
        if dosage.count is not None and isinstance(per_day, tuple) and per_day[0]:
            return Decimal(dosage.count) / per_day[0]
    return order.supply_days
