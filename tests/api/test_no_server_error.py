"""No input gives a 500: every element of a realistic request set to null, emptied or retyped."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.builders import (
    ago,
    birth_date,
    condition,
    culture,
    finding,
    hook_request,
    lab,
    med_order,
    patient,
    weight,
)

RESOURCES = [
    patient(birth_date(5)),
    weight(18, ago(hours=6)),
    condition("763310000", ago(hours=10)),
    finding("bilateral-thalamic-lesions", True, ago(hours=8)),
    lab("1742-6", 180, "U/L", ago(hours=5), ref_high=40),
    culture("600-7", True, ago(hours=4)),
    med_order("6902", 300, status="completed", authored=ago(hours=80), oid="old"),
]
DRAFTS = [
    med_order(
        "6902",
        600,
        frequency=1,
        period=12,
        period_unit="h",
        oid="mp",
        repeat_extra={"boundsDuration": {"value": 7, "unit": "d"}},
    ),
    med_order(
        "612865",
        300,
        frequency=None,
        period=None,
        period_unit=None,
        oid="tcz",
        repeat_extra={"count": 1},
    ),
]
REPLACEMENTS: list[Any] = [None, {}, [], "", "x", 0, -1, 1e300, True]


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*path, key)
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*path, index)
            yield from _paths(item, (*path, index))


def _set(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    changed = copy.deepcopy(value)
    target = changed
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = new
    return changed


SERVICES = {"order-sign": "ane-order-sign", "patient-view": "ane-patient-view"}


def _body(hook: str) -> dict[str, Any]:
    return hook_request(hook, RESOURCES, drafts=DRAFTS if hook != "patient-view" else None)


def _changeable(hook: str) -> list[tuple[Any, ...]]:
    roots = ("context", "prefetch", "hook", "hookInstance")
    return [p for p in _paths(_body(hook)) if p[0] in roots]


@pytest.mark.parametrize("hook", sorted(SERVICES))
@pytest.mark.parametrize("replacement", REPLACEMENTS, ids=repr)
def test_no_element_change_gives_a_server_error(
    client: FlaskClient, hook: str, replacement: Any
) -> None:
    statuses: dict[int, int] = {}
    paths = _changeable(hook)
    for path in paths:
        body = _set(_body(hook), path, replacement)
        response = client.post(f"/cds-services/{SERVICES[hook]}", json=body)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        assert response.status_code in (200, 400, 412), (path, response.get_json())
        assert response.get_json() is not None
    assert len(paths) > 100
    assert statuses.get(400, 0) > 0, "some changes must be refused as malformed"
