"""Gather: the four prefetch states, fetching from fhirServer with the token, and its failures."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from flask.testing import FlaskClient

from tests.builders import (
    ago,
    birth_date,
    condition,
    finding,
    hook_request,
    patient,
    searchset,
    weight,
)
from tests.shapes import assert_cds_response

BASE = "https://ehr.example.org/fhir"
TOKEN = "secret-access-token-7f3a"
PV = "/cds-services/ane-patient-view"
KEYS = ("patient", "observations", "conditions", "medications", "allergies")


def _child() -> list[dict[str, Any]]:
    return [
        patient(birth_date(6)),
        weight(20, ago(hours=3)),
        condition("763310000", ago(hours=12)),
        finding("bilateral-thalamic-lesions", True, ago(hours=6)),
    ]


def _serve(resources: list[dict[str, Any]], rsps: responses.RequestsMock) -> None:
    """A fake FHIR server answering the service's queries from these resources."""
    by_type: dict[str, list[dict[str, Any]]] = {}
    for r in resources:
        by_type.setdefault(r["resourceType"], []).append(r)
    rsps.get(f"{BASE}/Patient/ane-child-1", json=by_type["Patient"][0])
    for kind in ("Observation", "Condition", "MedicationRequest", "AllergyIntolerance"):
        rsps.get(f"{BASE}/{kind}", json=searchset(by_type.get(kind, [])))


def _fetch_request(**kw: Any) -> dict[str, Any]:
    body = hook_request("patient-view", _child(), fhir_server=BASE, token=TOKEN, **kw)
    return body


def _topics(body: dict[str, Any]) -> list[str]:
    return sorted(c["source"]["topic"]["code"] for c in body["cards"])


@responses.activate
def test_full_prefetch_makes_no_fhir_call(client: FlaskClient) -> None:
    response = client.post(PV, json=_fetch_request())
    assert response.status_code == 200
    assert len(responses.calls) == 0
    assert_cds_response(response.get_json())


@pytest.mark.parametrize("key", KEYS)
def test_absent_key_is_fetched_with_the_bearer_token(client: FlaskClient, key: str) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        _serve(_child(), rsps)
        reference = client.post(PV, json=_fetch_request()).get_json()
        body = _fetch_request()
        del body["prefetch"][key]
        response = client.post(PV, json=body)
        assert response.status_code == 200
        assert response.get_json() == reference
        assert len(rsps.calls) == 1
        call = rsps.calls[0].request
        assert call.headers["Authorization"] == f"Bearer {TOKEN}"
        assert call.method == "GET"
        if key != "patient":
            assert parse_qs(urlsplit(call.url or "").query)["patient"] == ["ane-child-1"]


@pytest.mark.parametrize("key", KEYS)
def test_operation_outcome_key_is_fetched(client: FlaskClient, key: str) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        _serve(_child(), rsps)
        body = _fetch_request()
        body["prefetch"][key] = {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "processing"}],
        }
        response = client.post(PV, json=body)
        assert response.status_code == 200
        assert len(rsps.calls) == 1


@responses.activate
def test_null_key_means_no_data_and_no_fetch(client: FlaskClient) -> None:
    body = _fetch_request()
    body["prefetch"]["medications"] = None
    body["prefetch"]["observations"] = None
    response = client.post(PV, json=body)
    assert response.status_code == 200
    assert len(responses.calls) == 0
    # No observations at all: the thalamic finding and weight are gone, the ANE Condition remains.
    assert "weight-missing" in _topics(response.get_json())


@responses.activate
def test_no_prefetch_at_all_fetches_every_key_concurrently(client: FlaskClient) -> None:
    _serve(_child(), responses.mock)
    with_prefetch = client.post(PV, json=_fetch_request()).get_json()
    response = client.post(PV, json=_fetch_request(prefetch=False))
    assert response.status_code == 200
    assert response.get_json() == with_prefetch
    assert sorted(urlsplit(c.request.url or "").path for c in responses.calls) == sorted(
        [
            "/fhir/Patient/ane-child-1",
            "/fhir/Observation",
            "/fhir/Condition",
            "/fhir/MedicationRequest",
            "/fhir/AllergyIntolerance",
        ]
    )


@pytest.mark.parametrize("status", [401, 403, 404, 500, 400])
def test_fhir_error_status_is_412(client: FlaskClient, status: int) -> None:
    with responses.RequestsMock() as rsps:
        rsps.get(f"{BASE}/Condition", status=status, json={"resourceType": "OperationOutcome"})
        body = _fetch_request()
        del body["prefetch"]["conditions"]
        response = client.post(PV, json=body)
    assert response.status_code == 412
    outcome = response.get_json()
    assert outcome["issue"][0]["expression"] == ["prefetch.conditions"]
    assert str(status) in outcome["issue"][0]["details"]["text"]


@responses.activate
def test_transient_503_is_retried_then_succeeds(client: FlaskClient) -> None:
    responses.get(f"{BASE}/Condition", status=503)
    responses.get(f"{BASE}/Condition", json=searchset([condition("763310000", ago(hours=12))]))
    body = _fetch_request()
    del body["prefetch"]["conditions"]
    assert client.post(PV, json=body).status_code == 200
    assert len(responses.calls) == 2


@responses.activate
def test_retries_are_bounded(client: FlaskClient) -> None:
    for _ in range(5):
        responses.get(f"{BASE}/Condition", status=503)
    body = _fetch_request()
    del body["prefetch"]["conditions"]
    assert client.post(PV, json=body).status_code == 412
    assert len(responses.calls) == 3  # first try and two retries (tests' FAST_FHIR setting)


@responses.activate
def test_unreachable_server_is_412(client: FlaskClient) -> None:
    body = _fetch_request()
    del body["prefetch"]["patient"]
    response = client.post(PV, json=body)  # responses refuses unregistered URLs: no connection
    assert response.status_code == 412
    assert "could not be reached" in response.get_json()["issue"][0]["details"]["text"]


@pytest.mark.parametrize(
    "payload",
    [
        "not json",
        "[1, 2]",
        '{"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Condition", '
        '"onsetDateTime": "never"}}]}',
        '{"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Observation", '
        '"status": "final", "code": {"text": "x"}}}]}',
    ],
    ids=["not-json", "array", "invalid-condition", "wrong-type"],
)
def test_malformed_fhir_answer_is_412(client: FlaskClient, payload: str) -> None:
    with responses.RequestsMock() as rsps:
        rsps.get(f"{BASE}/Condition", body=payload, content_type="application/fhir+json")
        body = _fetch_request()
        del body["prefetch"]["conditions"]
        response = client.post(PV, json=body)
    assert response.status_code == 412
    assert "Traceback" not in response.get_data(as_text=True)


def _page(url: str, resources: list[dict[str, Any]], next_url: str | None) -> dict[str, Any]:
    bundle = searchset(resources)
    bundle["link"] = [{"relation": "self", "url": url}]
    if next_url:
        bundle["link"].append({"relation": "next", "url": next_url})
    return bundle


@responses.activate
def test_next_links_are_followed_on_the_same_server(client: FlaskClient) -> None:
    page2 = f"{BASE}?_getpages=abc&_page=2"
    responses.get(f"{BASE}/Observation", json=_page("self", [weight(20, ago(hours=3))], page2))
    responses.get(
        page2, json=_page(page2, [finding("bilateral-thalamic-lesions", True, ago(hours=6))], None)
    )
    body = _fetch_request()
    del body["prefetch"]["observations"]
    body["prefetch"]["conditions"] = None  # only the paged thalamic finding gives the context
    response = client.post(PV, json=body)
    assert response.status_code == 200
    assert len(responses.calls) == 2
    assert response.get_json()["cards"], "the finding on page 2 gives an ANE context"


@responses.activate
def test_prefetched_bundle_with_next_link_is_completed_from_the_server(
    client: FlaskClient,
) -> None:
    page2 = f"{BASE}/Condition?page=2"
    responses.get(page2, json=_page(page2, [condition("763310000", ago(hours=12))], None))
    body = _fetch_request()
    body["prefetch"]["observations"] = None
    body["prefetch"]["conditions"] = _page("self", [], page2)
    response = client.post(PV, json=body)
    assert response.status_code == 200
    assert len(responses.calls) == 1
    assert response.get_json()["cards"]


def test_prefetched_next_link_without_server_is_412(client: FlaskClient) -> None:
    body = hook_request("patient-view", _child())
    body["prefetch"]["conditions"] = _page("self", [], f"{BASE}/Condition?page=2")
    response = client.post(PV, json=body)
    assert response.status_code == 412


@responses.activate
def test_next_link_to_another_host_is_refused(client: FlaskClient) -> None:
    responses.get(
        f"{BASE}/Observation",
        json=_page("self", [], "https://elsewhere.example.com/fhir/Observation?p=2"),
    )
    body = _fetch_request()
    del body["prefetch"]["observations"]
    response = client.post(PV, json=body)
    assert response.status_code == 412
    assert "another server" in response.get_json()["issue"][0]["details"]["text"]
    assert len(responses.calls) == 1


@responses.activate
def test_paging_stops_at_the_page_cap(client: FlaskClient) -> None:
    responses.get(f"{BASE}/Observation", json=_page("self", [], f"{BASE}/Observation?p=1"))
    for n in range(1, 40):
        url = f"{BASE}/Observation?p={n}"
        responses.get(
            url,
            json=_page(url, [], f"{BASE}/Observation?p={n + 1}"),
            match=[responses.matchers.query_param_matcher({"p": str(n)})],
        )
    body = _fetch_request()
    del body["prefetch"]["observations"]
    response = client.post(PV, json=body)
    assert response.status_code == 412
    assert "page limit" in response.get_json()["issue"][0]["details"]["text"]
    assert len(responses.calls) == 20  # the default page cap


@responses.activate
def test_access_token_is_never_logged(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    responses.get(f"{BASE}/Condition", status=401)
    body = _fetch_request()
    del body["prefetch"]["conditions"]
    client.post(PV, json=body)
    body = _fetch_request(prefetch=False)
    client.post(PV, json=body)
    assert caplog.records, "the service logs hook outcomes"
    assert TOKEN not in caplog.text
