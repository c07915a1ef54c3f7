"""schemathesis against the real service (gunicorn on 127.0.0.1) with its own OpenAPI document.

Every operation of the document gets generated requests, valid ones and (for the POSTs, whose
bodies can be broken) invalid ones; each response must not be a 5xx and must keep the document:
documented status, content type, headers and body schema (schemathesis' checks and our own
oracle, tests/robustness/contract.py), and an invalid request must be refused (4xx).

No request leaves the machine: the service may call only a stub FHIR server in this process
(CDS_FHIR_SERVERS), and the fuzzed document's `fhirServer` is that server or null; any other URL
is refused with 403 before any outbound call. Authentication is off here (the document's
security is dropped from the fuzzed copy): 401 answers are checked in test_openapi.py.

Bounded: ANE_CDS_FUZZ_EXAMPLES examples per operation and mode (default 80, about a minute);
ANE_CDS_FUZZ_SEED fixes the seed (default: a new one each run, printed in the summary).
"""

from __future__ import annotations

import copy
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from bench.run import patient_resources
from tests.processes import Running, cds_service
from tests.robustness.contract import Contract, document
from tests.robustness.fhir_stub import StubFhir, stub_fhir
from tests.robustness.fuzzing import TALLY

EXAMPLES = int(os.environ.get("ANE_CDS_FUZZ_EXAMPLES", "80"))
SEED = int(os.environ.get("ANE_CDS_FUZZ_SEED", str(random.randrange(2**32))))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
REQUESTS = ("PatientViewRequest", "OrderSelectRequest", "OrderSignRequest")
READ_TYPES = ("Patient", "Observation", "Condition", "MedicationRequest", "AllergyIntolerance")


def fuzzed_document(fhir_base: str) -> dict[str, Any]:
    """The shipped document, narrowed for a local run: one FHIR server, no authentication."""
    doc = copy.deepcopy(document())
    doc.pop("security")
    schemas = doc["components"]["schemas"]
    for name in REQUESTS:
        schemas[name]["properties"]["fhirServer"] = {"enum": [fhir_base, None]}
    return doc


@dataclass(frozen=True)
class Target:
    service: Running
    schema: Any
    contract: Contract
    fhir: StubFhir


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    stub = StubFhir(patient_resources(datetime.now(UTC)))
    with stub_fhir(stub) as fhir:
        env = {
            "CDS_FHIR_SERVERS": fhir.base,
            "CDS_ALLOW_ANONYMOUS_FHIR": "true",
            "CDS_FHIR_TIMEOUT": "5",
            "CDS_LOG_LEVEL": "WARNING",
        }
        with cds_service(env) as service:
            doc = fuzzed_document(fhir.base)
            schema = schemathesis.openapi.from_dict(doc)
            yield Target(service, schema, Contract(doc), fhir)
        TALLY.fhir_requests += len(fhir.paths)


OPERATIONS = [
    ("GET", "/cds-services"),
    ("POST", "/cds-services/ane-patient-view"),
    ("POST", "/cds-services/ane-order-select"),
    ("POST", "/cds-services/ane-order-sign"),
    ("POST", "/cds-services/{id}/feedback"),
    ("GET", "/health/live"),
    ("GET", "/health/ready"),
    ("GET", "/openapi.json"),
]
CASES = [
    (method, path, mode)
    for method, path in OPERATIONS
    for mode in (
        (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        if method == "POST"
        else (GenerationMode.POSITIVE,)
    )
]


def test_every_operation_of_the_document_is_fuzzed() -> None:
    listed = schemathesis.openapi.from_dict(document()).get_all_operations()
    found = [result.ok() for result in listed if isinstance(result, Ok)]
    assert sorted(f"{op.method.upper()} {op.path}" for op in found) == sorted(
        f"{method} {path}" for method, path in OPERATIONS
    )


@pytest.mark.parametrize(
    ("method", "path", "mode"), CASES, ids=[f"{m} {p} {g.value}" for m, p, g in CASES]
)
def test_no_server_error_and_no_answer_breaking_the_document(
    target: Target, method: str, path: str, mode: GenerationMode
) -> None:
    operation = target.schema[path][method]
    session = requests.Session()
    found: list[str] = []
    TALLY.seed = SEED
    label = f"{method} {path} ({mode.value})"

    @seed(SEED)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def fuzz(case: Case[Any]) -> None:
        response = case.call(base_url=target.service.base, session=session, timeout=30)
        TALLY.examples[label] += 1
        TALLY.statuses[response.status_code] += 1
        if response.status_code >= 500:
            TALLY.server_errors.append(f"{label}: {response.status_code}")
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as failures:
            found.append(f"{label}: {failures}"[:2000])
        headers = {name: values[0] for name, values in response.headers.items()}
        problems = target.contract.problems(
            method,
            case.formatted_path,
            status=response.status_code,
            content_type=headers.get("content-type"),
            headers=headers,
            body=response.content,
        )
        if problems:
            found.append(f"{label}: {response.status_code} {problems}"[:2000])

    fuzz()
    TALLY.violations.extend(found)
    assert found == [], "\n\n".join(found[:3])
