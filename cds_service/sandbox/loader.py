"""`ane-cds fixtures load`: put the synthetic patients into a FHIR server, times moved to now.

Each patient is one transaction Bundle of PUTs with fixed ids, so loading twice leaves the
server as loading once (idempotent).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TextIO

import requests

from cds_service.fixtures import (
    bundle_resources,
    patient_bundle,
    patient_manifest,
    shift_to,
)

TIMEOUT_S = 60.0


@dataclass
class LoadReport:
    """What a load did."""

    loaded: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    resources: int = 0


def fhir_session(token: str | None) -> requests.Session:
    """A session sending FHIR JSON, with the bearer token when one is given."""
    session = requests.Session()
    session.headers.update(
        {"Accept": "application/fhir+json", "Content-Type": "application/fhir+json"}
    )
    if token:
        session.headers["Authorization"] = f"Bearer {token}"
    return session


def load_patients(
    fhir_base: str,
    now: datetime,
    token: str | None = None,
    only: list[str] | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> LoadReport:
    """POST each patient's transaction Bundle (times moved to `now`) to the server's base."""
    manifest = patient_manifest()
    patients = [p for p in manifest["patients"] if not only or p["id"] in only]
    session = fhir_session(token)
    report = LoadReport()
    for index, patient in enumerate(patients, start=1):
        if progress:
            progress(index - 1, len(patients), patient["id"])
        bundle = shift_to(patient_bundle(patient), manifest["referenceInstant"], now)
        error = _post(session, fhir_base, bundle)
        if error is None:
            report.loaded.append(patient["id"])
            report.resources += len(bundle_resources(bundle))
        else:
            report.failed[patient["id"]] = error
    if progress:
        progress(len(patients), len(patients), "done")
    return report


def _post(session: requests.Session, fhir_base: str, bundle: dict[str, Any]) -> str | None:
    try:
        response = session.post(fhir_base.rstrip("/"), json=bundle, timeout=TIMEOUT_S)
    except requests.RequestException as error:
        return f"cannot reach the server ({type(error).__name__})"
    if response.status_code >= 300:  # noqa: PLR2004 (HTTP success range)
        return f"HTTP {response.status_code}: {_outcome_text(response)}"
    return None


def _outcome_text(response: requests.Response) -> str:
    try:
        body = response.json()
        issues = body.get("issue", []) if isinstance(body, dict) else []
        texts = [i.get("diagnostics") or (i.get("details") or {}).get("text") for i in issues]
        return "; ".join(t for t in texts if t)[:300] or "no detail"
    except ValueError:
        return response.text[:300]


def progress_bar(stream: TextIO = sys.stderr, width: int = 30) -> Callable[[int, int, str], None]:
    """A one-line text progress bar."""

    def show(done: int, total: int, label: str) -> None:
        filled = width * done // max(total, 1)
        stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {label:<30}")
        if done == total:
            stream.write("\n")
        stream.flush()

    return show
