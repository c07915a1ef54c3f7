"""CDS Hooks 2.0 response shapes (cards, suggestions, actions) and the no-empty-value rule."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SUMMARY_MAX = 139  # spec: "<140 characters"; Inferno flags 140


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Coding(_Strict):
    """A Coding as CDS Hooks uses it (topic, override reason)."""

    system: str = Field(min_length=1)
    code: str = Field(min_length=1)
    display: str = Field(min_length=1)


class Source(_Strict):
    label: str = Field(min_length=1)
    topic: Coding


class Action(_Strict):
    type: Literal["create", "update", "delete"]
    description: str = Field(min_length=1)
    resource: dict[str, Any] | None = None
    resourceId: str | None = None

    @model_validator(mode="after")
    def _target(self) -> Action:
        if self.type == "delete" and not self.resourceId:
            raise ValueError("a delete action needs resourceId")
        if self.type != "delete" and not self.resource:
            raise ValueError(f"a {self.type} action needs a resource")
        return self


class Suggestion(_Strict):
    label: str = Field(min_length=1)
    uuid: str
    isRecommended: bool | None = None
    actions: list[Action] = Field(min_length=1)


class Card(_Strict):
    uuid: str
    summary: str = Field(min_length=1, max_length=SUMMARY_MAX)
    detail: str = Field(min_length=1)
    indicator: Literal["info", "warning", "critical"]
    source: Source
    suggestions: list[Suggestion] | None = None
    selectionBehavior: Literal["at-most-one", "any"] | None = None
    overrideReasons: list[Coding] | None = None
    extension: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _selection(self) -> Card:
        if self.suggestions and self.selectionBehavior is None:
            raise ValueError("a card with suggestions needs selectionBehavior")
        return self


class CardsResponse(_Strict):
    cards: list[Card]


def response_body(cards: list[Card]) -> dict[str, Any]:
    """The JSON body of a hook response, with absent optional fields omitted."""
    body = CardsResponse(cards=cards).model_dump(mode="json", exclude_none=True)
    empties = find_empty_values(body)
    if empties:
        raise ValueError(f"response has empty values at {empties}")
    return body


def find_empty_values(value: object, path: str = "$") -> list[str]:
    """Paths of null, "", [] or {} anywhere in a JSON value, except the top-level cards list."""
    if value is None or value in ("", [], {}):
        return [] if path == "$.cards" else [path]
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(find_empty_values(item, f"{path}.{key}"))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(find_empty_values(item, f"{path}[{index}]"))
    return found
