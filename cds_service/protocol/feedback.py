"""CDS Hooks 2.0 feedback request: `{"feedback": [...]}`, validated item by item.

A batch is accepted whole or refused whole: every invalid item is named in the 400 (its path and
what is wrong), never by echoing its values (a userComment may hold patient data).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cds_service.protocol.errors import Issue, bad_request

ID_MAX = 200  # card and suggestion ids: our uuids are 36 characters; other text is refused
COMMENT_MAX = 10_000
# RFC 3339 section 5.6 date-time: full date, full time, offset required ("Z" or +hh:mm).
RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$",
)


class _Tolerant(BaseModel):
    """Unknown fields and `extension` are tolerated, as in hook requests."""

    model_config = ConfigDict(extra="allow", frozen=True)


class FeedbackCoding(_Tolerant):
    """The override reason the clinician chose; `display` is optional (some EHRs omit it)."""

    system: str = Field(min_length=1, max_length=ID_MAX * 5)
    code: str = Field(min_length=1, max_length=ID_MAX)
    display: str | None = Field(default=None, min_length=1)


class OverrideReason(_Tolerant):
    """Why a card was overridden: a Coding, a free-text comment, or both (3.0 invariant cds-fb-3)."""

    reason: FeedbackCoding | None = None
    userComment: str | None = Field(default=None, min_length=1, max_length=COMMENT_MAX, repr=False)

    @model_validator(mode="after")
    def _reason_or_comment(self) -> OverrideReason:
        if self.reason is None and self.userComment is None:
            raise ValueError("an overrideReason needs a reason, a userComment or both")
        return self


class AcceptedSuggestion(_Tolerant):
    """One suggestion the clinician accepted, by its uuid."""

    id: str = Field(min_length=1, max_length=ID_MAX)


class FeedbackItem(_Tolerant):
    """One clinician action on one card."""

    card: str = Field(min_length=1, max_length=ID_MAX)
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: list[AcceptedSuggestion] | None = None
    overrideReason: OverrideReason | None = None
    outcomeTimestamp: datetime

    @field_validator("outcomeTimestamp", mode="before")
    @classmethod
    def _rfc3339(cls, value: object) -> datetime:
        if not isinstance(value, str) or not RFC3339.match(value):
            raise ValueError("outcomeTimestamp must be an RFC 3339 date-time with an offset")
        try:
            return datetime.fromisoformat(value.upper()).astimezone(UTC)
        except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00: before year 1 in UTC
            raise ValueError("outcomeTimestamp is out of the representable range") from None

    @model_validator(mode="after")
    def _accepted_names_suggestions(self) -> FeedbackItem:
        if self.outcome == "accepted" and not self.acceptedSuggestions:
            raise ValueError("an accepted outcome needs acceptedSuggestions (at least one)")
        return self


class FeedbackRequest(_Tolerant):
    """The body POSTed to {base}/cds-services/{id}/feedback."""

    feedback: list[Any] = Field(min_length=1)  # items are validated one by one


def parse_feedback(body: object) -> list[FeedbackItem]:
    """Every item of a feedback body, or HookError(400) naming each invalid item and field."""
    try:
        request = FeedbackRequest.model_validate(body)
    except ValidationError as error:
        raise bad_request(_issues(error, "")) from None
    items: list[FeedbackItem] = []
    issues: list[Issue] = []
    for index, raw in enumerate(request.feedback):
        if not isinstance(raw, dict):
            issues.append(Issue(f"feedback[{index}]", "a feedback item must be a JSON object"))
            continue
        try:
            items.append(FeedbackItem.model_validate(raw))
        except ValidationError as error:
            issues.extend(_issues(error, f"feedback[{index}]"))
    if issues:
        raise bad_request(issues)
    return items


def _issues(error: ValidationError, prefix: str) -> list[Issue]:
    """One issue per pydantic error: the path and the message, never the input value."""
    found = []
    for detail in error.errors(include_input=False, include_url=False):
        path = prefix
        for part in detail["loc"]:
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        message = str(detail["msg"]).removeprefix("Value error, ")
        found.append(Issue(path or "$", message))
    return found
