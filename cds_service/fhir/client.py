"""A small FHIR REST client: GET with bearer token, timeouts, GET-only retries, bounded paging."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

RETRY_STATUSES = frozenset({429, 502, 503, 504})
HTTP_UNAUTHORIZED = 401
HTTP_FORBIDDEN = 403
HTTP_NOT_FOUND = 404
HTTP_GONE = 410
HTTP_OK_FIRST = 200
HTTP_OK_END = 300


class FhirFailure(Enum):
    """Why a FHIR call did not give usable data."""

    UNAUTHORIZED = "the FHIR server refused the access token (401/403)"
    NOT_FOUND = "the FHIR server has no such resource (404/410)"
    SERVER_ERROR = "the FHIR server answered with an error"
    UNREACHABLE = "the FHIR server could not be reached"
    TIMEOUT = "the FHIR server did not answer in time"
    INVALID_RESPONSE = "the FHIR server sent a response that is not the FHIR JSON expected"
    TOO_MANY_PAGES = "the search result has more pages than the page limit"
    FOREIGN_NEXT_LINK = "a next link points to another server"


class FhirError(Exception):
    """A FHIR call failed; `failure` says why. Messages never carry tokens or patient values."""

    def __init__(self, failure: FhirFailure, status: int | None = None) -> None:
        detail = f" (HTTP {status})" if status is not None else ""
        super().__init__(failure.value + detail)
        self.failure = failure
        self.status = status


@dataclass(frozen=True)
class ClientSettings:
    """Timeouts in seconds, retry count for GET, and the page cap for searches."""

    connect_timeout_s: float = 3.05
    read_timeout_s: float = 10.0
    retries: int = 2
    retry_backoff_s: float = 0.2
    page_cap: int = 20


class FhirClient:
    """Reads from one FHIR base URL with an optional bearer token."""

    def __init__(
        self,
        base_url: str,
        access_token: str | None,
        settings: ClientSettings,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self._settings = settings
        self._session = session or requests.Session()
        self._headers = {"Accept": "application/fhir+json"}
        if access_token:
            self._headers["Authorization"] = f"Bearer {access_token}"

    def read(self, relative: str) -> dict[str, Any]:
        """GET one resource by relative URL (e.g. 'Patient/123')."""
        return self._get_json(urljoin(self.base_url, relative))

    def search(self, relative: str) -> list[dict[str, Any]]:
        """Run a search and return the resources of every page."""
        return self.collect(self._get_json(urljoin(self.base_url, relative)))

    def collect(self, bundle: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Resources of a searchset Bundle and of its next pages (same server, page cap)."""
        resources = bundle_resources(bundle)
        pages = 1
        next_url = next_link(bundle)
        while next_url is not None:
            if not self._same_server(next_url):
                raise FhirError(FhirFailure.FOREIGN_NEXT_LINK)
            pages += 1
            if pages > self._settings.page_cap:
                raise FhirError(FhirFailure.TOO_MANY_PAGES)
            page = self._get_json(next_url)
            if page.get("resourceType") != "Bundle":
                raise FhirError(FhirFailure.INVALID_RESPONSE)
            resources.extend(bundle_resources(page))
            next_url = next_link(page)
        return resources

    def _same_server(self, url: str) -> bool:
        mine, theirs = urlsplit(self.base_url), urlsplit(url)
        return (mine.scheme, mine.netloc) == (theirs.scheme, theirs.netloc) and (
            theirs.path.startswith(mine.path.rstrip("/"))
        )

    def _get_json(self, url: str) -> dict[str, Any]:
        response = self._get_with_retries(url)
        status = response.status_code
        if status in (HTTP_UNAUTHORIZED, HTTP_FORBIDDEN):
            raise FhirError(FhirFailure.UNAUTHORIZED, status)
        if status in (HTTP_NOT_FOUND, HTTP_GONE):
            raise FhirError(FhirFailure.NOT_FOUND, status)
        if not HTTP_OK_FIRST <= status < HTTP_OK_END:
            raise FhirError(FhirFailure.SERVER_ERROR, status)
        try:
            body = response.json()
        except ValueError:
            raise FhirError(FhirFailure.INVALID_RESPONSE) from None
        if not isinstance(body, dict):
            raise FhirError(FhirFailure.INVALID_RESPONSE)
        return body

    def _get_with_retries(self, url: str) -> requests.Response:
        timeout = (self._settings.connect_timeout_s, self._settings.read_timeout_s)
        attempt = 0
        while True:
            try:
                response = self._session.get(url, headers=self._headers, timeout=timeout)
            except requests.Timeout:
                failure = FhirFailure.TIMEOUT
            except requests.RequestException:
                failure = FhirFailure.UNREACHABLE
            else:
                if response.status_code not in RETRY_STATUSES:
                    return response
                failure = FhirFailure.SERVER_ERROR
            attempt += 1
            if attempt > self._settings.retries:
                raise FhirError(failure)
            time.sleep(self._settings.retry_backoff_s * attempt)


def bundle_resources(bundle: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The resources of a Bundle's entries, leaving out search outcome entries."""
    return [resource for _, resource in bundle_entries(bundle)]


def bundle_entries(bundle: Mapping[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    """(entry position, resource) of a Bundle's entries, leaving out search outcome entries."""
    resources: list[tuple[int, dict[str, Any]]] = []
    for position, entry in enumerate(_list(bundle, "entry")):
        search = entry.get("search") if isinstance(entry, dict) else None
        if not isinstance(entry, dict) or not isinstance(search, dict | None):
            raise FhirError(FhirFailure.INVALID_RESPONSE)
        if search is not None and search.get("mode") == "outcome":
            continue
        resource = entry.get("resource")
        if not isinstance(resource, dict):
            raise FhirError(FhirFailure.INVALID_RESPONSE)
        resources.append((position, resource))
    return resources


def _list(bundle: Mapping[str, Any], name: str) -> list[Any]:
    """A Bundle's list element (absent or null: empty); any other shape is an invalid Bundle."""
    value = bundle.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise FhirError(FhirFailure.INVALID_RESPONSE)
    return value


def next_link(bundle: Mapping[str, Any]) -> str | None:
    """The Bundle's `next` link URL, if it has a well-formed one."""
    for link in _list(bundle, "link"):
        if isinstance(link, dict) and link.get("relation") == "next":
            url = link.get("url")
            if isinstance(url, str) and urlsplit(url).scheme in ("http", "https"):
                return url
    return None
