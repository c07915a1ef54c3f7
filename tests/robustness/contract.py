"""The service's OpenAPI document as a test oracle: does a real response keep its promises?

`Contract.problems(method, path, status=..., content_type=..., headers=..., body=...)` names every way a
response breaks the document: an undocumented status, a wrong content type, a missing or wrong
documented header, a body where none is documented (401), or a body that fails the documented
JSON Schema (validated with jsonschema-rs, JSON Schema 2020-12 as OpenAPI 3.1 uses it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from typing import Any

import jsonschema_rs

from cds_service.web.openapi import openapi_bytes

DOCUMENT_URI = "urn:ane-cds:openapi"
DIALECT = "https://json-schema.org/draft/2020-12/schema"


@cache
def document() -> dict[str, Any]:
    """The shipped OpenAPI document (a fresh copy is made by callers that change it)."""
    loaded: dict[str, Any] = json.loads(openapi_bytes())
    return loaded


class Contract:
    """Response checks against one OpenAPI document."""

    def __init__(self, doc: Mapping[str, Any] | None = None) -> None:
        self.doc = dict(doc or document())
        self._registry = jsonschema_rs.Registry(
            [(DOCUMENT_URI, self.doc)], draft=jsonschema_rs.Draft202012
        )
        self._validators: dict[str, jsonschema_rs.Validator] = {}

    def operation(self, method: str, path: str) -> dict[str, Any] | None:
        """The operation answering METHOD path: a literal path first, then a templated one."""
        paths: dict[str, Any] = self.doc["paths"]
        if path in paths:
            found: dict[str, Any] | None = paths[path].get(method.lower())
            return found
        for template, item in paths.items():
            pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
            if re.match(pattern, path) and method.lower() in item:
                templated: dict[str, Any] = item[method.lower()]
                return templated
        return None

    def response(self, operation: Mapping[str, Any], status: int) -> dict[str, Any] | None:
        """The documented response for a status (a $ref to components/responses resolved)."""
        found = operation["responses"].get(str(status)) or operation["responses"].get("default")
        if found is None:
            return None
        return self.resolve(found)

    def resolve(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """Follow a local $ref (#/components/...) to what it names."""
        while "$ref" in item:
            node: Any = self.doc
            for part in str(item["$ref"]).removeprefix("#/").split("/"):
                node = node[part]
            item = node
        return dict(item)

    def schema_errors(self, schema: Mapping[str, Any], instance: object) -> list[str]:
        """JSON Schema errors of `instance` (refs resolve into the whole document)."""
        key = json.dumps(schema, sort_keys=True)
        validator = self._validators.get(key)
        if validator is None:
            wrapped = {"$schema": DIALECT, **_absolute_refs(schema)}
            validator = jsonschema_rs.validator_for(
                wrapped, registry=self._registry, validate_formats=True
            )
            self._validators[key] = validator
        return [f"{_where(e.instance_path)}: {e.message}" for e in validator.iter_errors(instance)]

    def problems(
        self,
        method: str,
        path: str,
        *,
        status: int,
        content_type: str | None,
        headers: Mapping[str, str],
        body: bytes,
    ) -> list[str]:
        """Every way this response breaks the document (empty: it keeps to it)."""
        operation = self.operation(method, path)
        if operation is None:
            return [f"{method} {path} is not in the document"]
        documented = self.response(operation, status)
        if documented is None:
            return [f"{method} {path}: status {status} is not documented"]
        found = self._header_problems(documented, headers)
        content = documented.get("content")
        if not content:
            return found + ([f"status {status} has a body, none documented"] if body else [])
        media = (content_type or "").split(";")[0].strip()
        if media not in content:
            return [*found, f"status {status}: content type {media!r} is not documented"]
        try:
            parsed = json.loads(body)
        except ValueError:
            return [*found, f"status {status}: the body is not JSON"]
        return found + self.schema_errors(content[media]["schema"], parsed)

    def _header_problems(
        self, documented: Mapping[str, Any], headers: Mapping[str, str]
    ) -> list[str]:
        found = []
        lowered = {key.lower(): value for key, value in headers.items()}
        for name, spec in documented.get("headers", {}).items():
            value = lowered.get(name.lower())
            if value is None:
                if spec.get("required"):
                    found.append(f"header {name} is missing")
                continue
            found += [f"header {name}: {e}" for e in self.schema_errors(spec["schema"], value)]
        return found


def _where(path: list[str | int]) -> str:
    """['cards', 0, 'summary'] -> '$.cards[0].summary'."""
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


def _absolute_refs(value: Any) -> Any:
    """Local refs (#/components/...) made absolute, so that they resolve in the registry."""
    if isinstance(value, dict):
        return {
            k: (DOCUMENT_URI + v if k == "$ref" and v.startswith("#") else _absolute_refs(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_absolute_refs(v) for v in value]
    return value
