"""Outbound guard: the service calls only FHIR servers it was configured to trust."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise_base(url: str) -> str:
    """scheme://host:port/path without a trailing slash, scheme and host lowercased."""
    parts = urlsplit(url.strip())
    if parts.username or parts.password or parts.query or parts.fragment:
        return ""  # credentials, queries and fragments never name a FHIR base
    scheme = parts.scheme.lower()
    try:
        port = parts.port or DEFAULT_PORTS.get(scheme)
    except ValueError:
        return ""
    host = (parts.hostname or "").lower()
    return f"{scheme}://{host}:{port}{parts.path.rstrip('/')}"


def fhir_server_allowed(url: str, allowed: Iterable[str]) -> bool:
    """Whether `url` is exactly one of the allowed bases.

    https is required unless the allowed entry itself is written with http:// (an explicit
    allowance, meant for loopback test servers); no prefix matching, no redirects to others.
    """
    wanted = normalise_base(url)
    return bool(wanted) and any(wanted == normalise_base(base) for base in allowed)
