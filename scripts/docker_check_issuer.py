"""A throwaway test EHR for `make docker-check`: an ES384 key, its JWKS, and signed client JWTs.

    python docker_check_issuer.py keys DIR            writes DIR/jwks.json and DIR/private/key.pem
    python docker_check_issuer.py token DIR ISS AUD   prints a JWT for one call (5 minutes, new jti)

Runs on the host with the project's virtual environment (PyJWT, cryptography). The key exists only
for one check run, in its temporary folder; the container sees the public JWKS alone.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

KID = "docker-check"
LIFETIME_S = 300


def write_keys(folder: Path) -> None:
    """A new EC P-384 key: the private PEM under private/ (mode 600), the public JWKS beside it."""
    key = ec.generate_private_key(ec.SECP384R1())
    jwk = json.loads(ECAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid=KID, use="sig", alg="ES384")
    (folder / "jwks.json").write_text(json.dumps({"keys": [jwk]}))
    (folder / "jwks.json").chmod(0o644)
    private = folder / "private"
    private.mkdir(mode=0o700)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (private / "key.pem").write_bytes(pem)
    (private / "key.pem").chmod(0o600)


def token(folder: Path, issuer: str, audience: str) -> str:
    """A CDS Hooks client JWT for one call to `audience` (the service's public URL + path)."""
    key = serialization.load_pem_private_key((folder / "private" / "key.pem").read_bytes(), None)
    now = int(time.time())
    claims = {
        "iss": issuer,
        "aud": audience,
        "exp": now + LIFETIME_S,
        "iat": now,
        "jti": str(uuid.uuid4()),
    }
    return jwt.encode(claims, key, algorithm="ES384", headers={"kid": KID, "typ": "JWT"})  # type: ignore[arg-type]


def main(argv: list[str]) -> int:
    if argv[:1] == ["keys"] and len(argv) == 2:  # noqa: PLR2004
        write_keys(Path(argv[1]))
        return 0
    if argv[:1] == ["token"] and len(argv) == 4:  # noqa: PLR2004
        print(token(Path(argv[1]), argv[2], argv[3]))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
