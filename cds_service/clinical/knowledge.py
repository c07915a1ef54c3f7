"""The knowledge file (knowledge/ane.toml) as typed, validated, immutable settings."""

from __future__ import annotations

import tomllib
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "knowledge" / "ane.toml"

Indicator = Literal["info", "warning", "critical"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Meta(_Frozen):
    version: str
    specification: str
    service_label: str
    choices: tuple[str, ...]


class Source(_Frozen):
    citation: str
    certainty: str


class Scope(_Frozen):
    adult_age_years: int
    imaging_context_days: int
    severity_age_months: int
    tcz_min_age_months: int


class Windows(_Frozen):
    presentation_before_onset_hours: int
    presentation_after_onset_hours: int
    presentation_default_days: int
    recent_lab_hours: int
    weight_stale_days: int
    trigger_before_onset_days: int
    prior_episode_days: int
    tcz_window_hours: int
    mp_window_hours: int
    response_after_mp_hours: int
    tcz_repeat_min_hours: int
    tcz_max_doses: int


class WeightLimits(_Frozen):
    min_kg: Decimal
    max_kg: Decimal


class Systems(_Frozen):
    loinc: str
    snomed: str
    rxnorm: str
    ucum: str
    finding: str
    interpretation: str
    card_topic: str
    override_reason: str


class Statuses(_Frozen):
    observation: frozenset[str]
    vital_sign_extra: frozenset[str]
    condition_clinical: frozenset[str]
    condition_verification_excluded: frozenset[str]
    episode_order: frozenset[str]
    dose_time_order: frozenset[str]
    allergy_clinical: frozenset[str]
    positive_interpretations: frozenset[str]


class Lab(_Frozen):
    display: str
    loinc: tuple[str, ...]
    unit: str
    units: dict[str, Decimal]
    vital_sign: bool = False
    uln_default: Decimal | None = None

    @model_validator(mode="after")
    def _canonical_unit_accepted(self) -> Lab:
        if self.units.get(self.unit) != 1:
            raise ValueError(f"canonical unit {self.unit} must be accepted with factor 1")
        return self


class Cultures(_Frozen):
    blood_loinc: tuple[str, ...]
    csf_loinc: tuple[str, ...]


class Finding(_Frozen):
    display: str
    codes: tuple[str, ...]


class Conditions(_Frozen):
    ane: frozenset[str]
    familial_ane: frozenset[str]
    encephalopathy: frozenset[str]
    fever_trigger: frozenset[str]
    shock: frozenset[str]
    bacterial_infection: frozenset[str]
    fungal_or_tb: frozenset[str]
    sepsis_no_organism: frozenset[str]
    gi_perforation: frozenset[str]
    confirm: frozenset[str]


class Medication(_Frozen):
    display: str
    codes: frozenset[str]
    ingredient: str | None = None
    text: str | None = None
    confirm: frozenset[str] = frozenset()


class AllergyCodes(_Frozen):
    codes: frozenset[str]


class RouteCoding(_Frozen):
    system: str
    code: str
    display: str


class Dosing(_Frozen):
    mass_units: dict[str, Decimal]
    per_kg_units: dict[str, Decimal]
    period_seconds: dict[str, Decimal]
    timing_codes: dict[str, Decimal]
    route_iv: RouteCoding
    iv_route_codes: frozenset[str]
    iv_route_words: frozenset[str]
    duration_seconds: dict[str, Decimal]


class Band(_Frozen):
    name: str
    min: int
    max: int


class Severity(_Frozen):
    shock_points: int
    brainstem_points: int
    age_points: int
    platelets_points: int
    platelets_below: Decimal
    csf_protein_points: int
    csf_protein_above: Decimal
    bands: tuple[Band, ...]

    def band_of(self, score: int) -> str:
        """Name of the band that holds `score` points."""
        for band in self.bands:
            if band.min <= score <= band.max:
                return band.name
        raise ValueError(f"no severity band holds {score}")

    @property
    def max_points(self) -> int:
        """Highest possible score."""
        return (
            self.shock_points
            + self.brainstem_points
            + self.age_points
            + self.platelets_points
            + self.csf_protein_points
        )


class Criteria(_Frozen):
    pleocytosis_at_or_above: Decimal
    csf_protein_raised_above: Decimal


class Methylprednisolone(_Frozen):
    mg_per_kg_day: Decimal
    max_mg_day: Decimal
    min_days: int
    max_days: int
    infusion_min_minutes: int
    taper_weeks: str
    above_target_ratio: Decimal
    low_ratio_numerator: int
    low_ratio_denominator: int
    below_target_ratio: Decimal
    duration_min_mg_per_kg_day: Decimal
    duration_min_mg_day_no_weight: Decimal
    duration_max_days: Decimal
    ivig_g_per_kg: Decimal
    ivig_days: int


class EvidenceS1(_Frozen):
    sequelae_discharge: str
    mortality: str
    markers: str


class Evidence(_Frozen):
    s1: EvidenceS1


class Tocilizumab(_Frozen):
    weight_threshold_kg: Decimal
    mg_per_kg_below: Decimal
    mg_per_kg_at_or_above: Decimal
    max_mg: Decimal
    infusion_minutes: int
    weight_explain_within_kg: Decimal
    dose_tolerance_ratio: Decimal
    anc_critical_below: Decimal
    anc_mild_at_or_below: Decimal
    platelets_critical_below: Decimal
    platelets_mild_at_or_below: Decimal
    liver_critical_above_uln: Decimal
    liver_warning_above_uln: Decimal
    liver_mild_at_or_above_uln: Decimal


class CardText(_Frozen):
    display: str
    indicator: Indicator
    summary: str
    sources: tuple[str, ...]
    override: tuple[str, ...] = ()
    indicator_high: Indicator | None = None


class Knowledge(_Frozen):
    """Every clinical number, code, unit and card text, with its source."""

    meta: Meta
    sources: dict[str, Source]
    scope: Scope
    windows: Windows
    weight: WeightLimits
    systems: Systems
    statuses: Statuses
    labs: dict[str, Lab]
    cultures: Cultures
    findings: dict[str, Finding]
    conditions: Conditions
    medications: dict[str, Medication]
    allergies: dict[str, AllergyCodes]
    dosing: Dosing
    severity: Severity
    criteria: Criteria
    mp: Methylprednisolone
    evidence: Evidence
    tcz: Tocilizumab
    override_reasons: dict[str, str]
    cards: dict[str, CardText] = Field(min_length=1)

    @model_validator(mode="after")
    def _references_resolve(self) -> Knowledge:
        for topic, card in self.cards.items():
            missing_sources = [s for s in card.sources if s not in self.sources]
            missing_reasons = [r for r in card.override if r not in self.override_reasons]
            if missing_sources or missing_reasons:
                raise ValueError(
                    f"card {topic}: unknown sources {missing_sources} or reasons {missing_reasons}"
                )
        return self

    def card(self, topic: str) -> CardText:
        """The catalogue entry of a card topic."""
        return self.cards[topic]

    def lab(self, fact: str) -> Lab:
        """The data-contract row of a quantitative fact."""
        return self.labs[fact]


class KnowledgeError(Exception):
    """The knowledge file is missing or invalid; the service must not start."""


def load_knowledge(path: Path = DEFAULT_PATH) -> Knowledge:
    """Read and validate a knowledge file; raise KnowledgeError saying why it is unusable."""
    try:
        with path.open("rb") as handle:
            raw = tomllib.load(handle, parse_float=Decimal)
    except OSError as error:
        raise KnowledgeError(f"cannot read knowledge file {path}: {error.strerror}") from error
    except tomllib.TOMLDecodeError as error:
        raise KnowledgeError(f"knowledge file {path} is not valid TOML: {error}") from error
    try:
        return Knowledge.model_validate(raw)
    except ValueError as error:
        raise KnowledgeError(f"knowledge file {path} is invalid: {error}") from error


@cache
def default_knowledge() -> Knowledge:
    """The knowledge file shipped with the package, loaded once."""
    return load_knowledge()
