"""Scope, gating and time windows (ane-rules.md sections 2 and 3): pure, `now` injected."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from cds_service.clinical.facts import LabValue, MedicationOrder, PatientFacts, SkippedValue
from cds_service.clinical.knowledge import Knowledge

MONTHS_PER_YEAR = 12


@dataclass(frozen=True)
class Age:
    """Completed years and completed months at evaluation time."""

    years: int
    months: int


@dataclass(frozen=True)
class WeightFact:
    """The weight the rules use, whether it is stale, and newer values that were skipped."""

    value: LabValue | None
    stale: bool
    skipped: tuple[SkippedValue, ...]


@dataclass(frozen=True)
class Episode:
    """The evaluation frame: now, onset, presentation window, episode, age, weight, context."""

    now: datetime
    onset: datetime | None
    window_start: datetime
    window_end: datetime
    age: Age | None
    ane_context: bool
    weight: WeightFact
    youngest_age: Age | None = None

    @property
    def episode_start(self) -> datetime:
        """Start of the episode (= start of the presentation window)."""
        return self.window_start

    def in_window(self, at: datetime | None) -> bool:
        """Whether a dated value lies in the presentation window."""
        return at is not None and self.window_start <= at <= self.window_end

    def in_episode(self, at: datetime | None) -> bool:
        """Whether a dated event lies in the episode (window start to now)."""
        return at is not None and self.episode_start <= at <= self.now

    def hours_since_onset(self) -> float | None:
        """Hours from onset to now, or None when onset is unknown."""
        return None if self.onset is None else (self.now - self.onset).total_seconds() / 3600


def completed_age(birth: date, today: date) -> Age:
    """Whole years and whole months from birth to today (48 months and 10 days is 48)."""
    months = (today.year - birth.year) * MONTHS_PER_YEAR + today.month - birth.month
    if today.day < birth.day:
        months -= 1
    return Age(years=months // MONTHS_PER_YEAR, months=months)


def _age(birth: date | None, now: datetime) -> Age | None:
    """Completed age, or None when the birth date is unknown or after now (a data error)."""
    if birth is None or birth > now.date():
        return None
    return completed_age(birth, now.date())


def find_onset(facts: PatientFacts) -> datetime | None:
    """Onset of the most recent ANE Condition, else of an encephalopathy Condition."""
    for group in ("ane", "encephalopathy"):
        onsets = [c.onset for c in facts.conditions if group in c.groups and c.counts and c.onset]
        if onsets:
            return max(onsets)
    return None


def has_ane_context(facts: PatientFacts, now: datetime, knowledge: Knowledge) -> bool:
    """An active ANE Condition, or bilateral thalamic lesions dated in the last 30 days."""
    if any("ane" in c.groups and c.counts for c in facts.conditions):
        return True
    since = now - timedelta(days=knowledge.scope.imaging_context_days)
    return any(
        f.name == "bilateral_thalamic_lesions" and f.present and f.at and since <= f.at <= now
        for f in facts.findings
    )


def choose_weight(facts: PatientFacts, now: datetime, knowledge: Knowledge) -> WeightFact:
    """The most recent plausible weight; stale when older than 30 days or undated."""
    weights = [w for w in facts.values("weight") if w.at is None or w.at <= now]
    chosen = weights[0] if weights else None
    skipped = tuple(s for s in facts.skipped if s.fact == "weight" and _newer(s.at, chosen))
    if chosen is None:
        return WeightFact(None, False, skipped)
    limit = timedelta(days=knowledge.windows.weight_stale_days)
    stale = chosen.at is None or now - chosen.at > limit
    return WeightFact(chosen, stale, skipped)


def _newer(at: datetime | None, chosen: LabValue | None) -> bool:
    if chosen is None:
        return True
    if chosen.at is None:
        return at is not None
    return at is not None and at > chosen.at


def assess_episode(facts: PatientFacts, now: datetime, knowledge: Knowledge) -> Episode:
    """Work out the evaluation frame for these facts at `now`."""
    windows = knowledge.windows
    onset = find_onset(facts)
    if onset is None:
        start, end = now - timedelta(days=windows.presentation_default_days), now
    else:
        start = onset - timedelta(hours=windows.presentation_before_onset_hours)
        end = onset + timedelta(hours=windows.presentation_after_onset_hours)
    return Episode(
        now=now,
        onset=onset,
        window_start=start,
        window_end=end,
        age=_age(facts.birth_date, now),
        youngest_age=_age(facts.birth_date_latest, now),
        ane_context=has_ane_context(facts, now, knowledge),
        weight=choose_weight(facts, now, knowledge),
    )


def orders_in_episode(
    facts: PatientFacts, episode: Episode, drug: str, statuses: frozenset[str]
) -> list[MedicationOrder]:
    """Orders of a drug with these statuses authored in the episode.

    An active or on-hold order without authoredOn cannot be placed in time: it is taken to be
    current (so that it holds back a duplicate recommendation).
    """
    return [
        m
        for m in facts.medications
        if m.drug == drug
        and m.status in statuses
        and (episode.in_episode(m.authored) or (m.authored is None and m.status != "completed"))
    ]


def in_window(values: Iterable[LabValue], episode: Episode) -> list[LabValue]:
    """Values dated in the presentation window."""
    return [v for v in values if episode.in_window(v.at)]


def recent(values: Iterable[LabValue], episode: Episode, knowledge: Knowledge) -> LabValue | None:
    """The most recent value in the 72 h before now (safety labs), or None."""
    since = episode.now - timedelta(hours=knowledge.windows.recent_lab_hours)
    dated = [v for v in values if v.at is not None and since <= v.at <= episode.now]
    return max(dated, key=lambda v: v.at or episode.now) if dated else None
