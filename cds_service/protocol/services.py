"""Service descriptors (hooks/*.json): the discovery document and each service's prefetch."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cds_service.protocol.request import CONTEXTS

# CDS Hooks 2.0 prefetch tokens: root-level context fields and the user tokens.
ALLOWED_TOKENS = frozenset(
    {
        "context.patientId",
        "context.userId",
        "context.encounterId",
        "userPractitionerId",
        "userPractitionerRoleId",
        "userPatientId",
        "userRelatedPersonId",
    }
)
TOKEN = re.compile(r"\{\{\s*([^}]*?)\s*\}\}")
DEFAULT_HOOKS_DIR = Path(__file__).resolve().parents[2] / "hooks"


class ServiceDescriptor(BaseModel):
    """One CDS service as listed in discovery."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    hook: str
    title: str = Field(min_length=1)
    description: str = Field(min_length=1)
    usageRequirements: str = Field(min_length=1)
    prefetch: dict[str, str] = Field(min_length=1)

    @field_validator("hook")
    @classmethod
    def _known_hook(cls, value: str) -> str:
        if value not in CONTEXTS:
            raise ValueError(f"hook must be one of {sorted(CONTEXTS)}")
        return value

    @field_validator("prefetch")
    @classmethod
    def _tokens(cls, value: dict[str, str]) -> dict[str, str]:
        for key, template in value.items():
            unknown = set(TOKEN.findall(template)) - ALLOWED_TOKENS
            if unknown:
                raise ValueError(f"prefetch {key}: tokens {sorted(unknown)} are not CDS Hooks 2.0")
        return value

    def discovery_entry(self) -> dict[str, Any]:
        """The service as a discovery document entry."""
        return self.model_dump()


def fill_template(template: str, context: dict[str, Any]) -> str | None:
    """Replace prefetch tokens with context values; None when a token has no value."""
    missing = False

    def value(match: re.Match[str]) -> str:
        nonlocal missing
        token = match.group(1)
        found = (
            context.get(token.removeprefix("context.")) if token.startswith("context.") else None
        )
        if not isinstance(found, str) or not found:
            missing = True
            return ""
        return found

    filled = TOKEN.sub(value, template)
    return None if missing else filled


class ServiceRegistry:
    """The services of a hooks directory, by id."""

    def __init__(self, services: list[ServiceDescriptor]) -> None:
        self._services = {service.id: service for service in services}
        if len(self._services) != len(services):
            raise ValueError("two service descriptors share an id")

    def get(self, service_id: str) -> ServiceDescriptor | None:
        """The service with this id, or None."""
        return self._services.get(service_id)

    def discovery(self) -> dict[str, Any]:
        """The CDS Hooks discovery document."""
        return {"services": [s.discovery_entry() for s in self._services.values()]}


def load_registry(directory: Path = DEFAULT_HOOKS_DIR) -> ServiceRegistry:
    """Read every *.json descriptor of a directory, in name order."""
    files = sorted(directory.glob("*.json"))
    if not files:
        raise ValueError(f"no service descriptors in {directory}")
    return ServiceRegistry(
        [ServiceDescriptor.model_validate(json.loads(f.read_text("utf-8"))) for f in files]
    )
