"""Assert that a hook response has the CDS Hooks 2.0 shapes (the test-side response check)."""

from __future__ import annotations

from typing import Any

from cds_service.fhir.r4 import validate_whole_resource
from cds_service.protocol.cards import CardsResponse, find_empty_values


def assert_cds_response(body: dict[str, Any]) -> None:
    """Cards validate, nothing is empty, suggestions carry uuids, resources are valid R4."""
    CardsResponse.model_validate(body)
    assert find_empty_values(body) == []
    for card in body["cards"]:
        assert len(card["summary"]) < 140
        assert card["source"]["topic"]["system"] == "urn:ane-cds:card-topic"
        if "suggestions" in card:
            assert card["selectionBehavior"] in ("at-most-one", "any")
            recommended = [s for s in card["suggestions"] if s.get("isRecommended")]
            assert card["selectionBehavior"] == "any" or len(recommended) <= 1
        for suggestion in card.get("suggestions", []):
            assert suggestion["uuid"]
            for action in suggestion["actions"]:
                if action["type"] in ("create", "update"):
                    validate_whole_resource(action["resource"])
        for reason in card.get("overrideReasons", []):
            assert reason["code"] and reason["system"] and reason["display"]
