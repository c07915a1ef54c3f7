"""Errors that end a hook call before or during gathering, and their OperationOutcome bodies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Issue:
    """One problem: where (a field path or expression) and what, never a patient value."""

    path: str
    message: str
    code: str = "invalid"


class HookError(Exception):
    """A hook call that cannot be answered with cards: HTTP status plus issues."""

    def __init__(self, status: int, issues: list[Issue]) -> None:
        super().__init__("; ".join(f"{i.path}: {i.message}" for i in issues))
        self.status = status
        self.issues = issues


def bad_request(issues: list[Issue]) -> HookError:
    """400: the request body is malformed."""
    return HookError(400, issues)


def data_unavailable(issues: list[Issue]) -> HookError:
    """412: data the rules need can be neither prefetched nor fetched."""
    return HookError(412, issues)


def operation_outcome(issues: list[Issue], severity: str = "error") -> dict[str, Any]:
    """A FHIR OperationOutcome naming each issue (3.0-ballot style error body)."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": severity,
                "code": issue.code,
                "details": {"text": issue.message},
                "expression": [issue.path],
            }
            for issue in issues
        ],
    }
