"""Typed settings from CDS_* environment variables; an invalid value stops the service at start."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cds_service.clinical.knowledge import DEFAULT_PATH as DEFAULT_KNOWLEDGE
from cds_service.fhir.client import ClientSettings
from cds_service.protocol.services import DEFAULT_HOOKS_DIR

TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off"})
DEFAULT_DATA_DIR = Path(tempfile.gettempdir()) / "ane-cds"


class ConfigError(ValueError):
    """A CDS_* setting is invalid; the message names the variable."""


class Issuer(BaseModel):
    """A trusted EHR: its JWKS sources, the FHIR servers it may name, and its tenants."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    iss: str = Field(min_length=1)
    jwks_file: Path | None = None
    jwks_url: str | None = None
    jku: tuple[str, ...] = ()
    fhir_servers: tuple[str, ...] = ()
    tenants: tuple[str, ...] = ()


@dataclass(frozen=True)
class Settings:
    """Everything configurable, with safe defaults (authentication on)."""

    hooks_dir: Path = DEFAULT_HOOKS_DIR
    knowledge_file: Path = DEFAULT_KNOWLEDGE
    allow_anonymous_fhir: bool = False
    fhir: ClientSettings = field(default_factory=ClientSettings)
    log_level: str = "INFO"
    auth_enabled: bool = True
    public_base_url: str = ""
    issuers: tuple[Issuer, ...] = ()
    fhir_servers: tuple[str, ...] = ()
    cors_origins: tuple[str, ...] = ()
    max_body_bytes: int = 5_000_000
    data_dir: Path = DEFAULT_DATA_DIR
    jwks_refresh_s: float = 60.0
    trusted_proxies: int = 0  # reverse proxies whose X-Forwarded-* headers are honoured
    database_url: str = field(default="", repr=False)  # may hold a password: never shown

    def check(self) -> Settings:
        """Raise ConfigError when the settings cannot run safely together."""
        if self.auth_enabled and not (self.issuers and self.public_base_url):
            raise ConfigError(
                "authentication is on (CDS_AUTH): set CDS_TRUSTED_ISSUERS (or "
                "CDS_TRUSTED_ISSUERS_FILE) and CDS_PUBLIC_BASE_URL, or set CDS_AUTH=off explicitly"
            )
        if self.public_base_url and urlsplit(self.public_base_url).scheme not in ("http", "https"):
            raise ConfigError("CDS_PUBLIC_BASE_URL must be an absolute http(s) URL")
        for issuer in self.issuers:
            if not (issuer.jwks_file or issuer.jwks_url or issuer.jku):
                raise ConfigError(f"trusted issuer {issuer.iss} has no JWKS source")
            if issuer.jwks_file and not issuer.jwks_file.is_file():
                raise ConfigError(f"JWKS file of issuer {issuer.iss} does not exist")
        if "*" in self.cors_origins and len(self.cors_origins) > 1:
            raise ConfigError("CDS_CORS_ORIGINS is either * or a list of origins")
        return self


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    if raw.lower() in TRUE | FALSE:
        return raw.lower() in TRUE
    raise ConfigError(f"{name} must be true or false (or on/off)")


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number") from None
    if value < 0:
        raise ConfigError(f"{name} must not be negative")
    return value


def _count(
    env: Mapping[str, str], name: str, default: int, minimum: int = 0, empty_is_unset: bool = False
) -> int:
    raw = env.get(name)
    if raw is None or (empty_is_unset and raw == ""):
        return default
    if not raw.strip().isdecimal() or int(raw) < minimum:
        raise ConfigError(f"{name} must be a whole number of at least {minimum}")
    return int(raw)


def _list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in env.get(name, "").split(",") if item.strip())


def _issuers(env: Mapping[str, str]) -> tuple[Issuer, ...]:
    raw = env.get("CDS_TRUSTED_ISSUERS")
    path = env.get("CDS_TRUSTED_ISSUERS_FILE")
    name = "CDS_TRUSTED_ISSUERS"
    if path:
        name = "CDS_TRUSTED_ISSUERS_FILE"
        try:
            raw = Path(path).read_text("utf-8")
        except OSError as error:
            raise ConfigError(f"{name}: cannot read {path}: {error.strerror}") from None
    if not raw:
        return ()
    try:
        items: Any = json.loads(raw)
        return tuple(Issuer.model_validate(item) for item in items)
    except (ValueError, TypeError, ValidationError) as error:
        raise ConfigError(f"{name} must be a JSON list of issuers: {error}") from None


def database_url(env: Mapping[str, str]) -> str:
    """CDS_DATABASE_URL: a postgresql:// URL for the feedback store, or "" for SQLite."""
    url = env.get("CDS_DATABASE_URL", "").strip()
    if url and urlsplit(url).scheme not in ("postgresql", "postgres"):
        raise ConfigError(
            "CDS_DATABASE_URL must be a postgresql:// URL (unset: SQLite under CDS_DATA_DIR)"
        )
    return url


def settings_from_env(env: Mapping[str, str] | None = None) -> Settings:
    """Read CDS_* variables (see the README's configuration table) and check them."""
    env = os.environ if env is None else env
    fhir = ClientSettings(
        connect_timeout_s=_number(env, "CDS_FHIR_CONNECT_TIMEOUT", 3.05),
        read_timeout_s=_number(env, "CDS_FHIR_TIMEOUT", 10.0),
        retries=int(_number(env, "CDS_FHIR_RETRIES", 2)),
        page_cap=int(_number(env, "CDS_FHIR_PAGE_CAP", 20)),
    )
    level = env.get("CDS_LOG_LEVEL", "INFO").upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError("CDS_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")
    return Settings(
        hooks_dir=Path(env.get("CDS_HOOKS_DIR", str(DEFAULT_HOOKS_DIR))),
        knowledge_file=Path(env.get("CDS_KNOWLEDGE_FILE", str(DEFAULT_KNOWLEDGE))),
        allow_anonymous_fhir=_bool(env, "CDS_ALLOW_ANONYMOUS_FHIR", False),
        fhir=fhir,
        log_level=level,
        auth_enabled=_bool(env, "CDS_AUTH", True),
        public_base_url=env.get("CDS_PUBLIC_BASE_URL", "").rstrip("/"),
        issuers=_issuers(env),
        fhir_servers=_list(env, "CDS_FHIR_SERVERS"),
        cors_origins=_list(env, "CDS_CORS_ORIGINS"),
        max_body_bytes=int(_number(env, "CDS_MAX_BODY_BYTES", 5_000_000)),
        data_dir=Path(env.get("CDS_DATA_DIR", str(DEFAULT_DATA_DIR))),
        jwks_refresh_s=_number(env, "CDS_JWKS_REFRESH_SECONDS", 60.0),
        trusted_proxies=_count(env, "CDS_TRUSTED_PROXIES", 0),
        database_url=database_url(env),
    ).check()


# Hooks are CPU-bound Python (one core per process: the GIL), waiting only for FHIR fetches.
# Two processes per CPU with two threads each measured best in `make bench`: on 2 CPUs, 2
# workers x 4 threads gave a lower throughput and about twice the p99 at 8 concurrent calls
# (BENCHMARKS.md). A cap bounds the memory (about 70 MB per worker) on large machines.
THREADS_PER_WORKER = 2
MAX_DEFAULT_WORKERS = 16
CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def available_cpus(cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """CPUs this process may use: its CPU affinity, lowered by a cgroup v2 quota (docker --cpus)."""
    cpus = len(os.sched_getaffinity(0))
    try:
        quota, period = cpu_max.read_text("ascii").split()
        if quota != "max":
            cpus = min(cpus, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass  # no cgroup v2 limit readable: the affinity decides
    return cpus


@dataclass(frozen=True)
class ServeSettings:
    """How gunicorn serves: worker processes, threads per worker, and timeouts in seconds."""

    workers: int
    threads: int = THREADS_PER_WORKER
    timeout_s: int = 30
    graceful_timeout_s: int = 30
    keepalive_s: int = 5


def serve_settings_from_env(
    env: Mapping[str, str] | None = None, cpus: int | None = None
) -> ServeSettings:
    """CDS_WORKERS (default 2 per available CPU, at most 16), CDS_THREADS (2), CDS_TIMEOUT,
    CDS_GRACEFUL_TIMEOUT, CDS_KEEPALIVE (whole numbers)."""
    env = os.environ if env is None else env
    workers = min(2 * (cpus or available_cpus()), MAX_DEFAULT_WORKERS)
    return ServeSettings(
        # empty: the computed default (compose passes ${CDS_WORKERS:-} when none is chosen)
        workers=_count(env, "CDS_WORKERS", workers, minimum=1, empty_is_unset=True),
        threads=_count(env, "CDS_THREADS", THREADS_PER_WORKER, minimum=1, empty_is_unset=True),
        timeout_s=_count(env, "CDS_TIMEOUT", 30, minimum=1),
        graceful_timeout_s=_count(env, "CDS_GRACEFUL_TIMEOUT", 30, minimum=1),
        keepalive_s=_count(env, "CDS_KEEPALIVE", 5),
    )
