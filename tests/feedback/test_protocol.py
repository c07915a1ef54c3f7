"""The feedback request (CDS Hooks 2.0): the spec's examples pass, each malformed item is named."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from cds_service.protocol.errors import HookError
from cds_service.protocol.feedback import parse_feedback

# The three feedback examples of the CDS Hooks 2.0 specification, verbatim.
SPEC_ACCEPTED: dict[str, Any] = {
    "feedback": [
        {
            "card": "4e0a3a1e-3283-4575-ab82-028d55fe2719",
            "outcome": "accepted",
            "acceptedSuggestions": [{"id": "e56e1945-20b3-4393-8503-a1a20fd73152"}],
            "outcomeTimestamp": "2021-12-11T10:05:31Z",
        }
    ]
}
SPEC_OVERRIDDEN: dict[str, Any] = {
    "feedback": [
        {
            "card": "f6b95768-b1c8-40dc-8385-bf3504b82ffb",
            "outcome": "overridden",
            "outcomeTimestamp": "2020-12-11T00:00:00Z",
        }
    ]
}
# The reason has code and system but no display, as a well-known EHR sandbox sends it.
SPEC_OVERRIDDEN_WITH_REASON: dict[str, Any] = {
    "feedback": [
        {
            "card": "9368d37b-283f-44a0-93ea-547cebab93ed",
            "outcome": "overridden",
            "overrideReason": {
                "reason": {
                    "code": "d7ecf885",
                    "system": "https://example.com/cds-hooks/override-reason-system",
                },
                "userComment": "A comment entered by the clinician.",
            },
            "outcomeTimestamp": "2020-12-11T00:00:00Z",
        }
    ]
}
SPEC_EXAMPLES = [SPEC_ACCEPTED, SPEC_OVERRIDDEN, SPEC_OVERRIDDEN_WITH_REASON]
SECRET_COMMENT = "Patient Jane Roe, MRN 0048213, refused"


@pytest.mark.parametrize("body", SPEC_EXAMPLES, ids=["accepted", "overridden", "with-reason"])
def test_spec_examples_are_accepted(body: dict[str, Any]) -> None:
    [item] = parse_feedback(body)
    assert item.card == body["feedback"][0]["card"]
    assert item.outcomeTimestamp.tzinfo is not None


def test_reason_without_display_is_read() -> None:
    [item] = parse_feedback(SPEC_OVERRIDDEN_WITH_REASON)
    assert item.overrideReason is not None and item.overrideReason.reason is not None
    assert item.overrideReason.reason.code == "d7ecf885"
    assert item.overrideReason.reason.display is None


def test_offsets_are_read_as_the_same_utc_instant() -> None:
    body = copy.deepcopy(SPEC_OVERRIDDEN)
    body["feedback"].append(
        {**body["feedback"][0], "outcomeTimestamp": "2020-12-11T02:00:00+02:00"}
    )
    first, second = parse_feedback(body)
    assert first.outcomeTimestamp == second.outcomeTimestamp == datetime(2020, 12, 11, tzinfo=UTC)


def test_unknown_fields_and_extensions_are_tolerated() -> None:
    body = copy.deepcopy(SPEC_ACCEPTED)
    body["feedback"][0]["extension"] = {"com.example.ehr": {"screen": "orders"}}
    body["extension"] = {"com.example.batch": 1}
    assert len(parse_feedback(body)) == 1


def _item(**changes: Any) -> dict[str, Any]:
    item: dict[str, Any] = copy.deepcopy(SPEC_ACCEPTED["feedback"][0])
    for name, value in changes.items():
        if value is None:
            item.pop(name, None)
        else:
            item[name] = value
    return item


MALFORMED_ITEMS = [
    ("card missing", _item(card=None), "feedback[0].card"),
    ("card empty", _item(card=""), "feedback[0].card"),
    ("card not text", _item(card=12), "feedback[0].card"),
    ("outcome missing", _item(outcome=None), "feedback[0].outcome"),
    ("outcome unknown", _item(outcome="rejected"), "feedback[0].outcome"),
    ("accepted without suggestions", _item(acceptedSuggestions=None), "feedback[0]"),
    ("accepted with an empty list", _item(acceptedSuggestions=[]), "feedback[0]"),
    (
        "suggestion without id",
        _item(acceptedSuggestions=[{}]),
        "feedback[0].acceptedSuggestions[0].id",
    ),
    ("timestamp missing", _item(outcomeTimestamp=None), "feedback[0].outcomeTimestamp"),
    (
        "timestamp without offset",
        _item(outcomeTimestamp="2021-12-11T10:05:31"),
        "feedback[0].outcomeTimestamp",
    ),
    ("timestamp a date", _item(outcomeTimestamp="2021-12-11"), "feedback[0].outcomeTimestamp"),
    ("timestamp a number", _item(outcomeTimestamp=1639217131), "feedback[0].outcomeTimestamp"),
    (
        "timestamp impossible",
        _item(outcomeTimestamp="2021-13-41T10:05:31Z"),
        "feedback[0].outcomeTimestamp",
    ),
    (
        "override reason empty",
        _item(outcome="overridden", acceptedSuggestions=None, overrideReason={}),
        "feedback[0].overrideReason",
    ),
    (
        "reason without code",
        _item(outcome="overridden", overrideReason={"reason": {"system": "urn:x"}}),
        "feedback[0].overrideReason.reason.code",
    ),
    (
        "reason without system",
        _item(outcome="overridden", overrideReason={"reason": {"code": "reviewed"}}),
        "feedback[0].overrideReason.reason.system",
    ),
    (
        "comment not text",
        _item(outcome="overridden", overrideReason={"userComment": 3}),
        "feedback[0].overrideReason.userComment",
    ),
    ("item not an object", "accepted", "feedback[0]"),
]


@pytest.mark.parametrize(
    ("item", "path"),
    [(i, p) for _, i, p in MALFORMED_ITEMS],
    ids=[n for n, _, _ in MALFORMED_ITEMS],
)
def test_a_malformed_item_is_refused_and_named(item: Any, path: str) -> None:
    with pytest.raises(HookError) as refused:
        parse_feedback({"feedback": [item]})
    assert refused.value.status == 400
    assert path in [issue.path for issue in refused.value.issues]


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({}, "feedback"),
        ({"feedback": []}, "feedback"),
        ({"feedback": {"card": "x"}}, "feedback"),
        ([SPEC_ACCEPTED], "$"),
        ("feedback", "$"),
    ],
    ids=["no feedback", "empty list", "not a list", "body a list", "body a string"],
)
def test_a_malformed_body_is_refused(body: Any, path: str) -> None:
    with pytest.raises(HookError) as refused:
        parse_feedback(body)
    assert [issue.path for issue in refused.value.issues] == [path]


def test_every_invalid_item_of_a_batch_is_named() -> None:
    good = SPEC_ACCEPTED["feedback"][0]
    body = {"feedback": [good, _item(outcome="maybe"), good, _item(outcomeTimestamp="today")]}
    with pytest.raises(HookError) as refused:
        parse_feedback(body)
    assert [i.path for i in refused.value.issues] == [
        "feedback[1].outcome",
        "feedback[3].outcomeTimestamp",
    ]


def test_issues_never_echo_the_clinician_comment() -> None:
    item = _item(outcome="overridden", outcomeTimestamp="soon")
    item["overrideReason"] = {"userComment": SECRET_COMMENT, "reason": {"code": 7}}
    with pytest.raises(HookError) as refused:
        parse_feedback({"feedback": [item]})
    text = repr(refused.value.issues) + str(refused.value)
    assert "Jane Roe" not in text
    assert "0048213" not in text
