"""The real `ane-cds serve` (gunicorn, several workers) on 127.0.0.1 for the feedback tests."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from tests.processes import ANE_CDS, Running, cds_service

__all__ = ["ANE_CDS", "running_service"]


@contextmanager
def running_service(
    env: Mapping[str, str], workers: int = 4, threads: int = 2
) -> Iterator[Running]:
    """Start gunicorn with `env` (CDS_AUTH off), wait until it answers, stop it afterwards."""
    with cds_service({"CDS_LOG_LEVEL": "INFO", **env}, workers=workers, threads=threads) as run:
        yield run
