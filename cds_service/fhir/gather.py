"""Gather stage: each prefetch key from the prefetch, else from the EHR's FHIR server.

Prefetch key states (CDS Hooks 2.0):
- present, a resource or Bundle: use it (a Bundle's next pages are fetched from fhirServer);
- present, null: no data, nothing is fetched;
- present, an OperationOutcome: the EHR could not prefetch it: fetch;
- absent: fetch.
Data that can be neither prefetched nor fetched ends the call with 412.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum
from typing import Any

from cds_service.fhir.client import FhirClient, FhirError, bundle_entries, next_link
from cds_service.fhir.guard import fhir_server_allowed
from cds_service.fhir.r4 import InvalidResource, narrow
from cds_service.protocol.errors import HookError, Issue, bad_request, data_unavailable
from cds_service.protocol.request import HookRequest
from cds_service.protocol.services import ServiceDescriptor, fill_template

ClientFactory = Callable[[str, str | None], FhirClient]


class KeyState(Enum):
    """What the EHR sent for one prefetch key."""

    PRESENT = "present"
    NULL = "null"
    FAILED = "operation-outcome"
    ABSENT = "absent"


@dataclass(frozen=True)
class Gathered:
    """Validated resources of every prefetch key."""

    resources: Mapping[str, tuple[dict[str, Any], ...]]

    def all_resources(self) -> list[dict[str, Any]]:
        """Every resource of every key, in key order."""
        return [r for key in self.resources for r in self.resources[key]]


def key_state(prefetch: Mapping[str, Any] | None, key: str) -> KeyState:
    """Classify one prefetch key."""
    if prefetch is None or key not in prefetch:
        return KeyState.ABSENT
    value = prefetch[key]
    if value is None:
        return KeyState.NULL
    if isinstance(value, dict) and value.get("resourceType") == "OperationOutcome":
        return KeyState.FAILED
    return KeyState.PRESENT


def expected_type(template: str) -> str:
    """The resource type a prefetch template returns ('Observation?...' -> 'Observation')."""
    return template.split("?", 1)[0].split("/", 1)[0]


def gather_resources(
    service: ServiceDescriptor,
    request: HookRequest,
    client_factory: ClientFactory,
    allow_anonymous: bool,
) -> Gathered:
    """Obtain every prefetch key of the service for this request, or raise 400/412."""
    states = {key: key_state(request.prefetch, key) for key in service.prefetch}
    client = _client_if_possible(request, client_factory, allow_anonymous)
    results: dict[str, tuple[dict[str, Any], ...]] = {}
    pending: dict[str, Callable[[], list[dict[str, Any]]]] = {}
    for key, template in service.prefetch.items():
        state = states[key]
        if state is KeyState.NULL:
            results[key] = ()
        elif state is KeyState.PRESENT:
            value = (request.prefetch or {})[key]
            resources, next_url = _from_prefetch(key, value, expected_type(template))
            if next_url is None:
                results[key] = resources
            else:
                pending[key] = _remaining_pages(
                    client, key, value, resources, expected_type(template)
                )
        else:
            pending[key] = _fetch(client, key, template, request.context)
    results.update(_run_concurrently(pending))
    return Gathered({key: results[key] for key in service.prefetch})


def check_fhir_server(request: HookRequest, allowed: tuple[str, ...]) -> None:
    """403 before any outbound call when the request names a FHIR server that is not allowed."""
    if request.fhirServer is not None and not fhir_server_allowed(request.fhirServer, allowed):
        raise HookError(
            403,
            [
                Issue(
                    "fhirServer",
                    "this FHIR server is not an allowed FHIR server for this service",
                    code="forbidden",
                )
            ],
        )


def _client_if_possible(
    request: HookRequest, factory: ClientFactory, allow_anonymous: bool
) -> FhirClient | None:
    if request.fhirServer is None:
        return None
    token = request.fhirAuthorization.access_token if request.fhirAuthorization else None
    if token is None and not allow_anonymous:
        return None
    return factory(request.fhirServer, token)


def _no_client_issue(key: str) -> HookError:
    return data_unavailable(
        [
            Issue(
                f"prefetch.{key}",
                "data not prefetched and no FHIR server with fhirAuthorization to fetch it from",
                code="processing",
            )
        ]
    )


def _fetch(
    client: FhirClient | None, key: str, template: str, context: Mapping[str, Any]
) -> Callable[[], list[dict[str, Any]]]:
    def run() -> list[dict[str, Any]]:
        if client is None:
            raise _no_client_issue(key)
        query = fill_template(template, dict(context))
        if query is None:
            raise data_unavailable(
                [Issue(f"prefetch.{key}", "the prefetch template's context value is missing")]
            )
        found = client.search(query) if "?" in query else [client.read(query)]
        return _validated_fetch(key, found, expected_type(template))

    return run


def _remaining_pages(
    client: FhirClient | None,
    key: str,
    bundle: Mapping[str, Any],
    first: tuple[dict[str, Any], ...],
    resource_type: str,
) -> Callable[[], list[dict[str, Any]]]:
    def run() -> list[dict[str, Any]]:
        if client is None:
            raise data_unavailable(
                [
                    Issue(
                        f"prefetch.{key}",
                        "the prefetched Bundle has more pages and no FHIR server to read them",
                        code="processing",
                    )
                ]
            )
        rest = client.collect({"link": bundle.get("link", [])})
        return list(first) + _validated_fetch(key, rest, resource_type)

    return run


def _run_concurrently(
    pending: Mapping[str, Callable[[], list[dict[str, Any]]]],
) -> dict[str, tuple[dict[str, Any], ...]]:
    """Run the fetches in parallel; the first failure (in key order) decides the error."""
    if not pending:
        return {}
    with ThreadPoolExecutor(max_workers=len(pending), thread_name_prefix="fhir") as pool:
        futures = {key: pool.submit(job) for key, job in pending.items()}
        outcomes: dict[str, tuple[dict[str, Any], ...]] = {}
        issues: list[Issue] = []
        for key, future in futures.items():
            try:
                outcomes[key] = tuple(future.result())
            except FhirError as error:
                issues.append(Issue(f"prefetch.{key}", str(error), code="processing"))
            except HookError as error:
                issues.extend(error.issues)
    if issues:
        raise data_unavailable(issues)
    return outcomes


def _from_prefetch(
    key: str, value: object, resource_type: str
) -> tuple[tuple[dict[str, Any], ...], str | None]:
    """Resources of a present prefetch value, and the next-page URL if the Bundle has one."""
    path = f"prefetch.{key}"
    if not isinstance(value, dict):
        raise bad_request([Issue(path, "a prefetch value must be a FHIR resource, Bundle or null")])
    if value.get("resourceType") != "Bundle":
        return tuple(_narrow([value], resource_type, lambda _: path, bad_request)), None
    try:
        entries = bundle_entries(value)
        next_url = next_link(value)
    except FhirError:
        raise bad_request(
            [Issue(f"{path}.entry", "a Bundle's entry and link must be lists of objects")]
        ) from None
    resources = _narrow(
        [resource for _, resource in entries],
        resource_type,
        lambda i: f"{path}.entry[{entries[i][0]}].resource",
        bad_request,
    )
    return tuple(resources), next_url


def _validated_fetch(
    key: str, resources: list[dict[str, Any]], resource_type: str
) -> list[dict[str, Any]]:
    return _narrow(
        resources, resource_type, lambda i: f"prefetch.{key} (fetched)[{i}]", data_unavailable
    )


def _narrow(
    resources: list[dict[str, Any]],
    resource_type: str,
    path_of: Callable[[int], str],
    error: Callable[[list[Issue]], HookError],
) -> list[dict[str, Any]]:
    """Resources of one type validated in one call, as the rules read them (fhir/r4.py).

    The first wrong one, in order, is reported: invalid, or of another resource type.
    """
    wrong_type = next(
        (i for i, r in enumerate(resources) if r.get("resourceType") != resource_type), None
    )
    try:
        checked = narrow(resources[:wrong_type], resource_type)
    except InvalidResource as invalid:
        at = path_of(invalid.position)
        raise error([Issue(f"{at}.{p}", "not valid FHIR R4") for p in invalid.paths]) from None
    if wrong_type is not None:
        raise error([Issue(f"{path_of(wrong_type)}.resourceType", f"expected a {resource_type}")])
    return checked


def draft_medication_requests(context: object) -> list[dict[str, Any]]:
    """The validated MedicationRequests of context.draftOrders (other order types are not read)."""
    bundle = getattr(context, "draftOrders", None)
    if bundle is None:
        return []
    orders: list[dict[str, Any]] = []
    for index, entry in enumerate(bundle.entry):
        resource = entry.get("resource")
        path = f"context.draftOrders.entry[{index}].resource"
        if not isinstance(resource, dict):
            raise bad_request([Issue(path, "each draft order entry must hold a resource")])
        if resource.get("resourceType") == "MedicationRequest":
            orders.append(_draft(resource, path))
    return orders


def _draft(resource: dict[str, Any], path: str) -> dict[str, Any]:
    """A draft order, its read elements validated; kept raw, since an update suggestion echoes
    it whole (fhir/facts.py checks the whole order only then)."""
    _narrow([resource], "MedicationRequest", lambda _: path, bad_request)
    return resource
