"""Verify the EHR's JWT (CDS Hooks 2.0 and its best-practice page). Failures give a reason for
the log only; the caller answers 401 with no detail."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import requests
from jwt import PyJWKSet
from jwt.exceptions import InvalidTokenError, PyJWKError, PyJWKSetError

from cds_service.config import Issuer

ALGORITHMS = frozenset({"ES384", "RS384"})
REQUIRED_CLAIMS = ("iss", "aud", "exp", "iat", "jti")
LEEWAY_S = 60  # clock skew tolerated on exp, iat and nbf
MAX_TOKEN_LIFE_S = 3600  # best practice: tokens live at most an hour; jti kept that long at least
JWKS_TIMEOUT_S = 5.0
JWKS_MAX_AGE_S = 3600.0


class AuthError(Exception):
    """The token is refused; the message is for the log (never the token itself)."""


@dataclass(frozen=True)
class Verified:
    """Who called: the trusted issuer whose key signed the token."""

    issuer: Issuer
    claims: Mapping[str, Any]


class KeyStore:
    """Public keys per JWKS source (file or URL), cached.

    A URL's keys are reloaded after JWKS_MAX_AGE_S (so that revoked keys go), and at once for an
    unknown kid, but such forced reloads happen at most once per `refresh_s` per source.
    """

    def __init__(self, refresh_s: float, clock: Callable[[], float] = time.time) -> None:
        self._refresh_s = refresh_s
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}
        self._forced: dict[str, float] = {}

    def key(self, source: str, kid: str, is_file: bool) -> Any | None:
        """The key with this kid from a JWKS source, or None."""
        keys = self._keys(source, is_file, force=False)
        if kid not in keys and not is_file:
            keys = self._keys(source, is_file, force=True)
        return keys.get(kid)

    def _keys(self, source: str, is_file: bool, force: bool) -> dict[str, Any]:
        with self._lock:
            cached = self._cache.get(source)
            now = self._clock()
            if cached and not is_file:
                expired = now - cached[0] > JWKS_MAX_AGE_S
                may_force = now - self._forced.get(source, float("-inf")) >= self._refresh_s
                if force and may_force:
                    self._forced[source] = now
                elif not expired:
                    return cached[1]
            elif cached:
                return cached[1]
            keys = self._load(source, is_file)
            self._cache[source] = (now, keys)
            return keys

    @staticmethod
    def _load(source: str, is_file: bool) -> dict[str, Any]:
        try:
            if is_file:
                document = json.loads(Path(source).read_text("utf-8"))
            else:
                response = requests.get(
                    source, timeout=JWKS_TIMEOUT_S, headers={"Accept": "application/json"}
                )
                response.raise_for_status()
                document = response.json()
            keyset = PyJWKSet.from_dict(document)
        except (OSError, ValueError, requests.RequestException, PyJWKSetError, PyJWKError):
            return {}
        return {str(k.key_id): k.key for k in keyset.keys if k.key_id is not None}


class ReplayStore:
    """jti values seen, kept until their token expires; SQLite so that all workers share it."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS seen_jti "
                "(iss TEXT NOT NULL, jti TEXT NOT NULL, expires INTEGER NOT NULL, "
                "PRIMARY KEY (iss, jti))"
            )

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self._path, timeout=10, isolation_level=None)

    def first_use(self, iss: str, jti: str, expires: int, now: float) -> bool:
        """Record a jti; False when it was already used and has not expired."""
        with self._connect() as db:
            db.execute("DELETE FROM seen_jti WHERE expires < ?", (int(now),))
            try:
                db.execute("INSERT INTO seen_jti VALUES (?, ?, ?)", (iss, jti, expires))
            except sqlite3.IntegrityError:
                return False
        return True


class JwtVerifier:
    """Checks header, signature and claims of a CDS Hooks client JWT."""

    def __init__(
        self,
        issuers: tuple[Issuer, ...],
        keys: KeyStore,
        replay: ReplayStore,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._issuers = {issuer.iss: issuer for issuer in issuers}
        self._keys = keys
        self._replay = replay
        self._clock = clock

    def verify(self, authorization: str | None, audience: str) -> Verified:
        """Verify an Authorization header for the endpoint URL `audience`."""
        token = _bearer(authorization)
        header = _header(token)
        issuer = self._issuer(token)
        key = self._key(issuer, header)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[header["alg"]],
                options={
                    "verify_signature": True,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "verify_aud": False,
                    "verify_iss": False,
                },
            )
        except InvalidTokenError as error:
            raise AuthError(f"signature or format rejected ({type(error).__name__})") from None
        self._check_claims(claims, issuer, audience)
        return Verified(issuer, claims)

    def _issuer(self, token: str) -> Issuer:
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except InvalidTokenError:
            raise AuthError("payload is not a JWT claims set") from None
        issuer = self._issuers.get(str(unverified.get("iss")))
        if issuer is None:
            raise AuthError("issuer is not trusted")
        return issuer

    def _key(self, issuer: Issuer, header: Mapping[str, Any]) -> Any:
        kid = header["kid"]
        jku = header.get("jku")
        if jku is not None and jku not in issuer.jku:
            raise AuthError("jku is not on the issuer's allowlist (not fetched)")
        sources: list[tuple[str, bool]] = []
        if issuer.jwks_file:
            sources.append((str(issuer.jwks_file), True))
        if issuer.jwks_url:
            sources.append((issuer.jwks_url, False))
        if jku is not None:
            sources.append((jku, False))
        for source, is_file in sources:
            key = self._keys.key(source, kid, is_file)
            if key is not None:
                return key
        raise AuthError("no key with this kid for the issuer")

    def _check_claims(self, claims: Mapping[str, Any], issuer: Issuer, audience: str) -> None:
        missing = [name for name in REQUIRED_CLAIMS if name not in claims]
        if missing:
            raise AuthError(f"claims missing: {', '.join(missing)}")
        aud = claims["aud"]
        audiences = aud if isinstance(aud, list) else [aud]
        if audience not in audiences:
            raise AuthError("aud is not this endpoint")
        now = self._clock()
        exp, iat = _number(claims, "exp"), _number(claims, "iat")
        if exp + LEEWAY_S < now:
            raise AuthError("token expired")
        if iat - LEEWAY_S > now:
            raise AuthError("token issued in the future")
        if "nbf" in claims and _number(claims, "nbf") - LEEWAY_S > now:
            raise AuthError("token not yet valid")
        if issuer.tenants and claims.get("tenant") not in issuer.tenants:
            raise AuthError("tenant is not allowed")
        keep_until = int(max(exp, now + MAX_TOKEN_LIFE_S) + LEEWAY_S)
        if not self._replay.first_use(issuer.iss, str(claims["jti"]), keep_until, now):
            raise AuthError("jti replayed")


def _bearer(authorization: str | None) -> str:
    if not authorization:
        raise AuthError("no Authorization header")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("Authorization is not a Bearer token")
    return token.strip()


def _header(token: str) -> dict[str, Any]:
    try:
        header: dict[str, Any] = jwt.get_unverified_header(token)
    except InvalidTokenError:
        raise AuthError("header is not a JWT header") from None
    if header.get("alg") not in ALGORITHMS:
        raise AuthError("alg is not ES384 or RS384")
    if not isinstance(header.get("kid"), str) or not header["kid"]:
        raise AuthError("kid missing")
    if str(header.get("typ", "")).upper() != "JWT":
        raise AuthError("typ is not JWT")
    if "jku" in header and not isinstance(header["jku"], str):
        raise AuthError("jku is not a URL")
    return header


def _number(claims: Mapping[str, Any], name: str) -> float:
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AuthError(f"{name} is not a number")
    return float(value)
