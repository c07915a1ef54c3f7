"""Container probe: exit 0 when a URL answers 200, else 1. Standard library only.

    python healthcheck.py                     the service's readiness, http://127.0.0.1:8080/health/ready
    python healthcheck.py URL                 any URL (compose: the FHIR server's /metadata)
    python healthcheck.py --wait 180 URL      retry every 2 s until it answers 200, at most 180 s

The image's HEALTHCHECK runs the first form; CDS_HEALTH_URL overrides the default URL.
"""

from __future__ import annotations

import os
import sys
import time
import urllib.error
import urllib.request
from http import HTTPStatus

DEFAULT_URL = "http://127.0.0.1:8080/health/ready"
TIMEOUT_S = 4.0
RETRY_EVERY_S = 2.0


def answers_ok(url: str) -> bool:
    """True when a GET of the URL answers 200 within the timeout."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            return bool(response.status == HTTPStatus.OK)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def main(argv: list[str]) -> int:
    """Probe once, or until ready within --wait seconds."""
    wait_s = 0.0
    if argv[:1] == ["--wait"]:
        wait_s, argv = float(argv[1]), argv[2:]
    url = argv[0] if argv else os.environ.get("CDS_HEALTH_URL", DEFAULT_URL)
    deadline = time.monotonic() + wait_s
    while not answers_ok(url):
        if time.monotonic() >= deadline:
            print(f"healthcheck: {url} is not ready", file=sys.stderr)
            return 1
        time.sleep(RETRY_EVERY_S)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
