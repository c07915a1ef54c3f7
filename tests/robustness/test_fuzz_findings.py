"""Inputs the fuzzer found that gave a 500, fixed in the protocol layer: now a 400 naming the field.

- A feedback outcomeTimestamp that is valid RFC 3339 but falls outside the calendar once moved to
  UTC (0001-01-01T00:00:00+01:00): datetime raised OverflowError.
- A fhirAuthorization.access_token with characters an HTTP header cannot carry: the FHIR call
  raised UnicodeEncodeError. A token must be visible ASCII (RFC 6750 tokens are).
"""

from __future__ import annotations

import pytest
import responses
from flask.testing import FlaskClient

from tests.builders import hook_request, patient

TEST_FHIR = "https://ehr.example.org/fhir"


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_feedback_time_outside_the_calendar_in_utc_is_400(
    client: FlaskClient, moment: str
) -> None:
    item = {"card": "c9e1f7a2-0000-4000-8000-000000000001", "outcome": "overridden"}
    response = client.post(
        "/cds-services/ane-patient-view/feedback",
        json={"feedback": [{**item, "outcomeTimestamp": moment}]},
    )
    assert response.status_code == 400
    assert response.get_json()["issue"][0]["expression"] == ["feedback[0].outcomeTimestamp"]


@responses.activate  # no call may leave: an unregistered URL fails the call
@pytest.mark.parametrize("token", ["t\u00f6ken", "tok en", "tok\r\nX-Injected: 1", "\U000de17e"])
def test_an_access_token_that_cannot_go_into_a_header_is_400(
    client: FlaskClient, token: str
) -> None:
    body = hook_request(
        "patient-view", [patient("2020-01-01")], prefetch=False, fhir_server=TEST_FHIR, token=token
    )
    response = client.post("/cds-services/ane-patient-view", json=body)
    assert response.status_code == 400
    issues = response.get_json()["issue"]
    assert [i["expression"] for i in issues] == [["fhirAuthorization.access_token"]]
    assert token not in response.get_data(as_text=True)
