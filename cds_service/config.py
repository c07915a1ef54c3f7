"""Typed settings from CDS_* environment variables; an invalid value stops the service at start."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cds_service.clinical.knowledge import DEFAULT_PATH as DEFAULT_KNOWLEDGE
from cds_service.fhir.client import ClientSettings
from cds_service.protocol.services import DEFAULT_HOOKS_DIR

TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off"})


class ConfigError(ValueError):
    """A CDS_* setting is invalid; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    """Everything configurable, with safe defaults."""

    hooks_dir: Path = DEFAULT_HOOKS_DIR
    knowledge_file: Path = DEFAULT_KNOWLEDGE
    allow_anonymous_fhir: bool = False
    fhir: ClientSettings = field(default_factory=ClientSettings)
    log_level: str = "INFO"


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    if raw.lower() in TRUE | FALSE:
        return raw.lower() in TRUE
    raise ConfigError(f"{name} must be true or false")


def _number(
    env: Mapping[str, str], name: str, default: float, cast: type[float] | type[int]
) -> float:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        value = cast(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a {cast.__name__}") from None
    if value < 0:
        raise ConfigError(f"{name} must not be negative")
    return value


def settings_from_env(env: Mapping[str, str] | None = None) -> Settings:
    """Read CDS_* variables (see the README's configuration table)."""
    env = os.environ if env is None else env
    fhir = ClientSettings(
        connect_timeout_s=_number(env, "CDS_FHIR_CONNECT_TIMEOUT", 3.05, float),
        read_timeout_s=_number(env, "CDS_FHIR_TIMEOUT", 10.0, float),
        retries=int(_number(env, "CDS_FHIR_RETRIES", 2, int)),
        page_cap=int(_number(env, "CDS_FHIR_PAGE_CAP", 20, int)),
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
    )
