"""Run INSIDE the container by `make docker-check` (the container has no network but loopback).

Checks health, that discovery refuses a call without a JWT, discovery with one, and the worked
example E3 (order-select) against the cards its fixture case expects. Tokens come from the
environment (CHECK_TOKEN_DISCOVERY, CHECK_TOKEN_HOOK), minted on the host for this run.
Prints one line per check; exits 1 on the first failure.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from cds_service.fixtures import load_case, request_at

BASE = "http://127.0.0.1:8080"
CASE = "e3-order-select"


def call(path: str, token: str | None = None, body: Any = None) -> tuple[int, Any]:
    """GET (or POST a JSON body) on the service; the status and the JSON answer (None if empty)."""
    headers = {"Accept": "application/json"}
    data = None
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(BASE + path, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    return status, json.loads(raw) if raw else None


def check(ok: bool, what: str) -> None:
    """Print the check; stop the run at the first failure."""
    print(f"  {'ok  ' if ok else 'FAIL'} {what}")
    if not ok:
        sys.exit(1)


def main() -> int:
    status, body = call("/health/live")
    check(status == HTTPStatus.OK and body == {"status": "live"}, f"GET /health/live -> {status}")
    status, body = call("/health/ready")
    check(
        status == HTTPStatus.OK and body["status"] == "ready",
        f"GET /health/ready -> {status} {body}",
    )
    status, _ = call("/cds-services")
    check(
        status == HTTPStatus.UNAUTHORIZED,
        f"GET /cds-services without a JWT -> {status} (authentication is on)",
    )
    status, body = call("/cds-services", os.environ["CHECK_TOKEN_DISCOVERY"])
    ids = sorted(s["id"] for s in body["services"]) if status == HTTPStatus.OK else []
    check(status == HTTPStatus.OK and bool(ids), f"GET /cds-services with a JWT -> {status} {ids}")
    case = load_case(CASE)
    request = request_at(case, datetime.now(UTC))
    path = f"/cds-services/{case['service']}"
    status, body = call(path, os.environ["CHECK_TOKEN_HOOK"], request)
    check(status == case["expect"]["status"], f"POST {path} ({CASE}) -> {status}")
    got = sorted((c["source"]["topic"]["code"], c["indicator"]) for c in body["cards"])
    want = sorted((c["topic"], c["indicator"]) for c in case["expect"]["cards"])
    check(got == want, f"cards {got} (expected {want})")
    for card in body["cards"]:
        print(f"       {card['indicator']}: {card['summary']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
