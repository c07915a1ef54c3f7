"""The integration team's commands as they run them: `ane-cds fixtures load` and `ane-cds fire`,
against a real Medplum server and the real service with JWT authentication on."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from tests.processes import ANE_CDS, Running, cds_service, medplum
from tests.tokens import Ehr

TOKEN = "cli-fhir-token-77"
ISSUER = "https://ehr.example.org/"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ANE_CDS), *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def fhir() -> Iterator[Running]:
    with medplum(TOKEN) as server:
        yield server


def test_fixtures_load_twice_reports_progress_and_a_summary(fhir: Running) -> None:
    for _ in range(2):
        result = _cli("fixtures", "load", "--fhir-base", fhir.base, "--token", TOKEN)
        assert result.returncode == 0, result.stderr
        assert "loaded 16 patients" in result.stdout and "0 failed" in result.stdout
        assert "16/16" in result.stderr  # the progress bar


def test_fixtures_load_with_a_wrong_token_fails_clearly(fhir: Running) -> None:
    result = _cli(
        "fixtures", "load", "--fhir-base", fhir.base, "--token", "nope", "--patient", "ane-adult"
    )
    assert result.returncode == 1
    assert "1 failed" in result.stdout and "HTTP 401" in result.stderr


def test_fire_signs_a_jwt_that_the_service_accepts(fhir: Running, tmp_path: Path) -> None:
    assert _cli("fixtures", "load", "--fhir-base", fhir.base, "--token", TOKEN).returncode == 0
    ehr = Ehr()
    key = tmp_path / "ehr-key.pem"
    key.write_bytes(
        ehr.ec_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    issuers = [
        {
            "iss": ISSUER,
            "jwks_file": str(ehr.write_jwks(tmp_path / "jwks.json")),
            "fhir_servers": [fhir.base],
        }
    ]
    env = {
        "CDS_AUTH": "on",
        "CDS_TRUSTED_ISSUERS": json.dumps(issuers),
        "CDS_DATA_DIR": str(tmp_path),
    }
    with cds_service(env) as service:
        common = [
            "fire",
            "--cds",
            service.base,
            "--fhir-base",
            fhir.base,
            "--fhir-token",
            TOKEN,
            "--patient",
            "ane-high-severity",
            "--hook",
            "order-select",
            "--drug",
            "mp",
            "--dose",
            "360",
        ]
        signed = _cli(*common, "--jwt-key", str(key), "--jwt-kid", ehr.ec_kid, "--jwt-iss", ISSUER)
        assert signed.returncode == 0, signed.stdout + signed.stderr
        assert "[INFO] mp-dose-below-target" in signed.stdout
        assert "Change to 540 mg once daily" in signed.stdout
        unsigned = _cli(*common)
        assert unsigned.returncode != 0
