"""Client authentication (CDS Hooks 2.0 JWT): each attack gets 401 and nothing else."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask.testing import FlaskClient

from cds_service import create_app
from cds_service.config import Issuer
from cds_service.web.auth import AuthError, JwtVerifier, KeyStore, ReplayStore
from tests.builders import condition, hook_request, patient
from tests.conftest import settings_for_tests
from tests.tokens import BASE, ISSUER, Ehr, bearer

PV = "/cds-services/ane-patient-view"
EHR = Ehr()
ALLOWED_JKU = "https://ehr.example.org/.well-known/jwks.json"


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[FlaskClient]:
    issuer = Issuer(
        iss=ISSUER,
        jwks_file=EHR.write_jwks(tmp_path / "jwks.json"),
        jku=(ALLOWED_JKU,),
        fhir_servers=("https://ehr.example.org/fhir",),
    )
    settings = settings_for_tests(
        auth_enabled=True,
        issuers=(issuer,),
        public_base_url=BASE,
        data_dir=tmp_path,
        fhir_servers=(),
    )
    yield create_app(settings).test_client()


def _body() -> dict[str, Any]:
    return hook_request("patient-view", [patient("2020-01-01"), condition("763310000", None)])


def _assert_refused(response: Any) -> None:
    assert response.status_code == 401
    assert response.get_data() == b""
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_valid_es384_and_rs384_tokens_pass(secured: FlaskClient) -> None:
    for alg in ("ES384", "RS384"):
        assert secured.get("/cds-services", headers=bearer(EHR.token(alg=alg))).status_code == 200
        response = secured.post(PV, json=_body(), headers=bearer(EHR.token(PV, alg=alg)))
        assert response.status_code == 200


def test_aud_may_be_an_array_and_extra_claims_are_tolerated(secured: FlaskClient) -> None:
    token = EHR.token(
        claims={
            "aud": ["https://other.example/x", BASE + "/cds-services"],
            "sub": "user-1",
            "nbf": int(time.time()) - 10,
        }
    )
    assert secured.get("/cds-services", headers=bearer(token)).status_code == 200


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(jti: str) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": ISSUER, "aud": BASE + "/cds-services", "exp": now + 300, "iat": now, "jti": jti}


def _none_token() -> str:
    header = {"alg": "none", "typ": "JWT", "kid": EHR.ec_kid}
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(_claims('none-1')).encode())}."


def _hs256_with_public_key() -> str:
    """The classic key-confusion forgery: HMAC keyed with the issuer's public key PEM."""
    pem = EHR.rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": EHR.rsa_kid}
    signing_input = (
        f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(_claims('hs-1')).encode())}"
    )
    signature = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _other_ehr_token() -> str:
    return Ehr().token()  # same kid, different key: signature fails


ATTACKS: dict[str, Any] = {
    "no token": None,
    "not bearer": "Basic dXNlcjpwYXNz",
    "malformed": "Bearer not-a-jwt",
    "three garbage parts": "Bearer a.b.c",
    "alg none": f"Bearer {_none_token()}",
    "HS256 signed with the public key": f"Bearer {_hs256_with_public_key()}",
    "wrong aud (another service)": f"Bearer {EHR.token('/cds-services/ane-order-sign')}",
    "expired": f"Bearer {EHR.token(claims={'exp': int(time.time()) - 3600})}",
    "not yet valid": f"Bearer {EHR.token(claims={'nbf': int(time.time()) + 3600})}",
    "issued in the future": f"Bearer {EHR.token(claims={'iat': int(time.time()) + 3600})}",
    "unknown issuer": f"Bearer {EHR.token(claims={'iss': 'https://evil.example/'})}",
    "unknown kid": f"Bearer {EHR.token(header={'kid': 'nobody'})}",
    "forged signature": f"Bearer {_other_ehr_token()}",
    "typ not JWT": f"Bearer {EHR.token(header={'typ': 'at+jwt'})}",
    "ES256 alg (not allowed)": "Bearer "
    + jwt.encode(
        _claims("es256"),
        ec.generate_private_key(ec.SECP256R1()),
        algorithm="ES256",
        headers={"kid": EHR.ec_kid, "typ": "JWT"},
    ),
    "exp not a number": f"Bearer {EHR.token(claims={'exp': 'tomorrow'})}",
    **{
        f"missing {claim}": f"Bearer {EHR.token(drop=(claim,))}"
        for claim in ("iss", "aud", "exp", "iat", "jti")
    },
}


@pytest.mark.parametrize("name", sorted(ATTACKS))
@responses.activate
def test_attack_gets_401_and_nothing_else(secured: FlaskClient, name: str) -> None:
    header = ATTACKS[name]
    headers = {"Authorization": header} if header else {}
    if "aud (another" in name:
        response = secured.post(PV, json=_body(), headers=headers)
    else:
        response = secured.get("/cds-services", headers=headers)
    _assert_refused(response)
    assert len(responses.calls) == 0


@responses.activate
def test_jku_not_on_the_allowlist_is_refused_without_fetching(secured: FlaskClient) -> None:
    token = EHR.token(header={"jku": "https://attacker.example/jwks.json", "kid": "attacker"})
    _assert_refused(secured.get("/cds-services", headers=bearer(token)))
    assert len(responses.calls) == 0


@responses.activate
def test_allowlisted_jku_is_fetched_for_an_unknown_kid(tmp_path: Path) -> None:
    rotated = Ehr(ec_kid="rotated-1")
    responses.get(ALLOWED_JKU, json=rotated.jwks())
    issuer = Issuer(
        iss=ISSUER, jwks_file=EHR.write_jwks(tmp_path / "jwks.json"), jku=(ALLOWED_JKU,)
    )
    client = create_app(
        settings_for_tests(
            auth_enabled=True, issuers=(issuer,), public_base_url=BASE, data_dir=tmp_path
        )
    ).test_client()
    token = rotated.token(header={"jku": ALLOWED_JKU})
    assert client.get("/cds-services", headers=bearer(token)).status_code == 200
    assert len(responses.calls) == 1
    again = rotated.token(header={"jku": ALLOWED_JKU})
    assert client.get("/cds-services", headers=bearer(again)).status_code == 200
    assert len(responses.calls) == 1, "the JWKS is cached"


@responses.activate
def test_unknown_kid_refetches_the_jwks_url_at_most_once_per_interval(tmp_path: Path) -> None:
    url = "https://ehr.example.org/jwks"
    responses.get(url, json=EHR.jwks())
    issuer = Issuer(iss=ISSUER, jwks_url=url)
    client = create_app(
        settings_for_tests(
            auth_enabled=True, issuers=(issuer,), public_base_url=BASE, data_dir=tmp_path
        )
    ).test_client()
    assert client.get("/cds-services", headers=bearer(EHR.token())).status_code == 200
    for _ in range(3):
        unknown = EHR.token(header={"kid": "not-yet-published"})
        _assert_refused(client.get("/cds-services", headers=bearer(unknown)))
    assert len(responses.calls) == 2, "one load, then one refresh for the unknown kid"


def test_replayed_jti_is_refused(secured: FlaskClient) -> None:
    token = EHR.token()
    assert secured.get("/cds-services", headers=bearer(token)).status_code == 200
    _assert_refused(secured.get("/cds-services", headers=bearer(token)))


def test_replay_store_is_shared_across_app_instances(tmp_path: Path) -> None:
    """Two gunicorn workers share the data directory, so a replay to the other one fails too."""
    issuer = Issuer(iss=ISSUER, jwks_file=EHR.write_jwks(tmp_path / "jwks.json"))
    settings = settings_for_tests(
        auth_enabled=True, issuers=(issuer,), public_base_url=BASE, data_dir=tmp_path
    )
    first, second = create_app(settings).test_client(), create_app(settings).test_client()
    token = EHR.token()
    assert first.get("/cds-services", headers=bearer(token)).status_code == 200
    _assert_refused(second.get("/cds-services", headers=bearer(token)))


def test_tenant_is_checked_when_configured(tmp_path: Path) -> None:
    issuer = Issuer(
        iss=ISSUER, jwks_file=EHR.write_jwks(tmp_path / "jwks.json"), tenants=("tenant-a",)
    )
    client = create_app(
        settings_for_tests(
            auth_enabled=True, issuers=(issuer,), public_base_url=BASE, data_dir=tmp_path
        )
    ).test_client()
    ok = EHR.token(claims={"tenant": "tenant-a"})
    assert client.get("/cds-services", headers=bearer(ok)).status_code == 200
    _assert_refused(
        client.get("/cds-services", headers=bearer(EHR.token(claims={"tenant": "tenant-b"})))
    )
    _assert_refused(client.get("/cds-services", headers=bearer(EHR.token())))


SPEC_TOKEN = (
    "eyJhbGciOiJFUzM4NCIsInR5cCI6IkpXVCIsImtpZCI6ImV4YW1wbGUta2lkIiwiamt1IjoiaHR0cHM6Ly9maGly"
    "LWVoci5leGFtcGxlLmNvbS9qd2tfdXJpIn0.eyJpc3MiOiJodHRwczovL2ZoaXItZWhyLmV4YW1wbGUuY29tLyIs"
    "ImF1ZCI6Imh0dHBzOi8vY2RzLmV4YW1wbGUub3JnL2Nkcy1zZXJ2aWNlcy9zb21lLXNlcnZpY2UiLCJleHAiOjE0"
    "MjI1Njg4NjAsImlhdCI6MTMxMTI4MDk3MCwianRpIjoiZWUyMmIwMjEtZTFiNy00NjExLWJhNWItOGVlYzZhMzNh"
    "YzFlIiwidGVuYW50IjoiMmRkZDZjM2EtOGU5YS00NGM2LWEzMDUtNTIxMTFhZDMwMmEyIn0.d1WfLjGRKlcWB94l9"
    "do4cM8REXeYJLL6SGUBO8VHZhfM8mwKYP70EMxJ67War4TQblEpaQrp11wx5p7oPFm2ETYgCicS84vXWEIYTdjooZ"
    "dooCSDf2L8-i4awdoUwiEb"
)
SPEC_JWKS = {
    "keys": [
        {
            "kty": "EC",
            "use": "sig",
            "crv": "P-384",
            "kid": "example-kid",
            "x": "46SDH7Znh821wblCBglA61sNE9ZrHYKKt3qRtRTmSXyOI_FIGBLWrWa0GPUkDCEk",
            "y": "XMcRuuoGW7CXjQdy-F5i3FeBE0x9hPLdeFdSoDd3ELmx404tLX0VRRcqzAsPhXcI",
            "alg": "ES384",
        }
    ]
}


def _spec_verifier(tmp_path: Path, at: float) -> JwtVerifier:
    jwks = tmp_path / "spec-jwks.json"
    jwks.write_text(json.dumps(SPEC_JWKS))
    issuer = Issuer(
        iss="https://fhir-ehr.example.com/",
        jwks_file=jwks,
        jku=("https://fhir-ehr.example.com/jwk_uri",),
        tenants=("2ddd6c3a-8e9a-44c6-a305-52111ad302a2",),
    )
    return JwtVerifier(
        (issuer,), KeyStore(60), ReplayStore(tmp_path / "jti.sqlite3"), clock=lambda: at
    )


@responses.activate
def test_the_specifications_example_token_verifies_as_a_fixed_vector(tmp_path: Path) -> None:
    verifier = _spec_verifier(tmp_path, at=1422568860 - 100)
    verified = verifier.verify(
        f"Bearer {SPEC_TOKEN}", "https://cds.example.org/cds-services/some-service"
    )
    assert verified.claims["jti"] == "ee22b021-e1b7-4611-ba5b-8eec6a33ac1e"
    assert len(responses.calls) == 0, "the key came from the local JWKS, the jku was not fetched"


def test_the_example_token_is_refused_at_todays_time_and_for_another_endpoint(
    tmp_path: Path,
) -> None:
    with pytest.raises(AuthError, match="expired"):
        _spec_verifier(tmp_path, at=time.time()).verify(
            f"Bearer {SPEC_TOKEN}", "https://cds.example.org/cds-services/some-service"
        )
    with pytest.raises(AuthError, match="aud"):
        _spec_verifier(tmp_path / "..", at=1422568860 - 100).verify(
            f"Bearer {SPEC_TOKEN}", "https://cds.example.org/cds-services/other"
        )


def test_auth_failures_are_logged_with_a_reason_but_never_the_token(
    secured: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    token = EHR.token(claims={"exp": int(time.time()) - 3600})
    secured.get("/cds-services", headers=bearer(token))
    reasons = [getattr(r, "reason", None) for r in caplog.records]
    assert "token expired" in reasons
    everything = caplog.text + repr([r.__dict__ for r in caplog.records])
    assert token.split(".")[1] not in everything and token.split(".")[2] not in everything
