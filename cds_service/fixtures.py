"""Fixture cases (fhir_fixtures/cases/*.json): hook requests with expected cards, times shiftable."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

FIXTURES_DIR = Path(__file__).resolve().parents[1] / "fhir_fixtures"
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def load_case(name: str, directory: Path = FIXTURES_DIR / "cases") -> dict[str, Any]:
    """A case by file name (without .json)."""
    path = directory / f"{name}.json"
    case: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return case


def case_names(directory: Path = FIXTURES_DIR / "cases") -> list[str]:
    """Every case in the fixtures directory."""
    return sorted(p.stem for p in directory.glob("*.json"))


def shift_times(value: Any, delta: timedelta) -> Any:
    """A copy of a JSON value with every dateTime moved by `delta` and every date by whole days."""
    if isinstance(value, dict):
        return {k: shift_times(v, delta) for k, v in value.items()}
    if isinstance(value, list):
        return [shift_times(v, delta) for v in value]
    if isinstance(value, str):
        if DATETIME.match(value):
            moved = datetime.fromisoformat(value) + delta
            return moved.isoformat().replace("+00:00", "Z")
        if DATE.match(value):
            return (date.fromisoformat(value) + timedelta(days=delta.days)).isoformat()
    return value


def request_at(case: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The case's hook request with its times moved so that its reference instant is `now`."""
    request: dict[str, Any] = shift_to(case["request"], case["referenceInstant"], now)
    return request


PATIENTS_DIR = FIXTURES_DIR / "patients"


def patient_manifest(directory: Path = PATIENTS_DIR) -> dict[str, Any]:
    """The synthetic patients: id, file, description and the cards each hook must give."""
    manifest: dict[str, Any] = json.loads((directory / "manifest.json").read_text("utf-8"))
    return manifest


def patient_bundle(entry: dict[str, Any], directory: Path = PATIENTS_DIR) -> dict[str, Any]:
    """A patient's transaction Bundle, as stored (times at the manifest's reference instant)."""
    bundle: dict[str, Any] = json.loads((directory / entry["file"]).read_text("utf-8"))
    return bundle


def bundle_resources(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    """The resources of a transaction Bundle."""
    return [entry["resource"] for entry in bundle.get("entry", [])]


def shift_to(value: Any, reference: str, now: datetime) -> Any:
    """A fixture value with its times moved so that `reference` becomes `now`."""
    return shift_times(value, now - datetime.fromisoformat(reference))
