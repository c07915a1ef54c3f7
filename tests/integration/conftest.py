"""Real FHIR servers for the end-to-end suite: Medplum (Node) and sekmet-fhir (Python), or an
external R4 server named by ANE_CDS_FHIR_BASE (`make integration FHIR_BASE=...`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from cds_service.sandbox.loader import load_patients
from tests.processes import Running, cds_service, medplum, sekmet

TOKEN = "integration-fhir-token-4f2a"
EXTERNAL = os.environ.get("ANE_CDS_FHIR_BASE")
SERVERS = ["external"] if EXTERNAL else ["medplum", "sekmet"]


@dataclass(frozen=True)
class Stack:
    """A FHIR server loaded with the fixtures, and the service allowed to call it."""

    name: str
    fhir_base: str
    token: str | None
    service: Running


@pytest.fixture(scope="module", params=SERVERS)
def stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    with ExitStack() as stack:
        if request.param == "external":
            fhir_base, token = str(EXTERNAL), os.environ.get("ANE_CDS_FHIR_TOKEN")
        else:
            start = medplum if request.param == "medplum" else sekmet
            fhir_base, token = stack.enter_context(start(TOKEN)).base, TOKEN
        report = load_patients(fhir_base, datetime.now(UTC), token=token)
        assert report.failed == {}, report.failed
        service = stack.enter_context(cds_service({"CDS_FHIR_SERVERS": fhir_base}))
        yield Stack(request.param, fhir_base, token, service)
