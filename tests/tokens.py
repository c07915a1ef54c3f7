"""Test keys and tokens: an EHR that signs CDS Hooks client JWTs with ES384 or RS384."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ISSUER = "https://ehr.example.org/"
BASE = "https://cds.example.org"


class Ehr:
    """An EHR with one EC P-384 and one RSA key, publishing them as a JWKS."""

    def __init__(self, ec_kid: str = "ec-key-1", rsa_kid: str = "rsa/key+2=") -> None:
        self.ec_key = ec.generate_private_key(ec.SECP384R1())
        self.rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec_kid, self.rsa_kid = ec_kid, rsa_kid

    def jwks(self) -> dict[str, Any]:
        ec_jwk = json.loads(ECAlgorithm.to_jwk(self.ec_key.public_key()))
        rsa_jwk = json.loads(RSAAlgorithm.to_jwk(self.rsa_key.public_key()))
        ec_jwk.update(kid=self.ec_kid, use="sig", alg="ES384")
        rsa_jwk.update(kid=self.rsa_kid, use="sig", alg="RS384")
        return {"keys": [ec_jwk, rsa_jwk]}

    def write_jwks(self, path: Path) -> Path:
        path.write_text(json.dumps(self.jwks()))
        return path

    def token(
        self,
        path: str = "/cds-services",
        *,
        alg: str = "ES384",
        claims: dict[str, Any] | None = None,
        drop: tuple[str, ...] = (),
        header: dict[str, Any] | None = None,
    ) -> str:
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": ISSUER,
            "aud": BASE + path,
            "exp": now + 300,
            "iat": now,
            "jti": str(uuid.uuid4()),
        }
        payload.update(claims or {})
        for name in drop:
            payload.pop(name, None)
        kid = self.ec_kid if alg == "ES384" else self.rsa_kid
        key = self.ec_key if alg == "ES384" else self.rsa_key
        headers = {"kid": kid, "typ": "JWT", **(header or {})}
        return jwt.encode(payload, key, algorithm=alg, headers=headers)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
