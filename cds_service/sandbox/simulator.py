"""`ane-cds fire`: call the service the way an EHR does.

Read the service's discovery, fill each prefetch template by querying the FHIR server (or leave
prefetch out so that the service fetches itself), optionally sign a client JWT, post the hook,
and show the cards.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import requests

from cds_service.fhir.client import ClientSettings, FhirClient, FhirError
from cds_service.protocol.services import fill_template

USER_ID = "Practitioner/ane-cds-simulator"
TIMEOUT_S = 30.0
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
DRUGS = {
    "mp": ("6902", "methylprednisolone"),
    "tcz": ("612865", "tocilizumab"),
    "infliximab": ("191831", "infliximab"),
    "adalimumab": ("327361", "adalimumab"),
    "etanercept": ("214555", "etanercept"),
}
EVERY_HOURS = {"once": None, "24h": 24, "12h": 12, "8h": 8, "6h": 6}


@dataclass(frozen=True)
class Signer:
    """Signs CDS Hooks client JWTs (ES384 or RS384) with a PEM private key."""

    key_pem: bytes
    kid: str
    issuer: str
    algorithm: str = "ES384"
    jku: str | None = None

    def token(self, audience: str) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": audience,
            "exp": now + 300,
            "iat": now,
            "jti": str(uuid.uuid4()),
        }
        headers = {"kid": self.kid, "typ": "JWT", **({"jku": self.jku} if self.jku else {})}
        return jwt.encode(claims, self.key_pem, algorithm=self.algorithm, headers=headers)


@dataclass(frozen=True)
class Fired:
    """The hook call made and what the service answered."""

    request: dict[str, Any]
    status: int
    answer: dict[str, Any]


def draft_order(
    patient_id: str, drug: str, dose_mg: float, every: str = "24h", order_id: str = "draft-1"
) -> dict[str, Any]:
    """A draft MedicationRequest from short options (drug, dose in mg, every 24h/12h/8h/6h/once)."""
    code, name = DRUGS.get(drug, (drug, f"RxNorm {drug}"))
    hours = EVERY_HOURS[every]
    repeat: dict[str, Any] = (
        {"count": 1} if hours is None else {"frequency": 1, "period": hours, "periodUnit": "h"}
    )
    timing_text = "once" if hours is None else f"every {hours} h"
    return {
        "resourceType": "MedicationRequest",
        "id": order_id,
        "status": "draft",
        "intent": "order",
        "subject": {"reference": f"Patient/{patient_id}"},
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": code}], "text": name},
        "dosageInstruction": [
            {
                "text": f"{name} {dose_mg:g} mg IV {timing_text}",
                "timing": {"repeat": repeat},
                "doseAndRate": [
                    {"doseQuantity": {"value": dose_mg, "unit": "mg", "system": UCUM, "code": "mg"}}
                ],
            }
        ],
    }


def load_draft(path: Path) -> dict[str, Any]:
    """A draft MedicationRequest from a JSON file."""
    draft: dict[str, Any] = json.loads(path.read_text("utf-8"))
    if draft.get("resourceType") != "MedicationRequest":
        raise ValueError(f"{path} is not a MedicationRequest")
    return draft


def _prefetch_value(client: FhirClient, query: str) -> dict[str, Any] | None:
    """What an EHR sends for one template: the resource, a searchset, null or an outcome."""
    try:
        if "?" not in query:
            return client.read(query)
        resources = client.search(query)
    except FhirError as error:
        if error.status == 404 and "?" not in query:  # noqa: PLR2004
            return None
        return {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "processing", "diagnostics": str(error)}],
        }
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [{"resource": r} for r in resources],
    }


def fire(
    cds_base: str,
    fhir_base: str,
    patient_id: str,
    hook: str,
    *,
    draft: dict[str, Any] | None = None,
    fhir_token: str | None = None,
    with_prefetch: bool = True,
    signer: Signer | None = None,
    service_id: str | None = None,
) -> Fired:
    """Fire one hook at the service like an EHR; return the request and the answer."""
    cds_base = cds_base.rstrip("/")
    session = requests.Session()
    discovery = _get_json(session, f"{cds_base}/cds-services", signer)
    service = _service(discovery, hook, service_id)
    context: dict[str, Any] = {"userId": USER_ID, "patientId": patient_id}
    drafts = [draft] if draft else []
    if hook != "patient-view":
        context["draftOrders"] = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": d} for d in drafts],
        }
    if hook == "order-select":
        context["selections"] = [f"MedicationRequest/{d['id']}" for d in drafts]
    request: dict[str, Any] = {
        "hook": hook,
        "hookInstance": str(uuid.uuid4()),
        "fhirServer": fhir_base,
        "context": context,
    }
    if fhir_token:
        request["fhirAuthorization"] = {
            "access_token": fhir_token,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/*.read",
            "subject": "ane-cds-simulator",
            "patient": patient_id,
        }
    if with_prefetch:
        client = FhirClient(fhir_base, fhir_token, ClientSettings(page_cap=200))
        request["prefetch"] = {
            key: _prefetch_value(client, query)
            for key, template in service.get("prefetch", {}).items()
            if (query := fill_template(template, context)) is not None
        }
    url = f"{cds_base}/cds-services/{service['id']}"
    headers = {"Authorization": f"Bearer {signer.token(url)}"} if signer else {}
    response = session.post(url, json=request, headers=headers, timeout=TIMEOUT_S)
    answer = response.json() if response.content else {}
    return Fired(request, response.status_code, answer)


def _get_json(session: requests.Session, url: str, signer: Signer | None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {signer.token(url)}"} if signer else {}
    response = session.get(url, headers=headers, timeout=TIMEOUT_S)
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def _service(discovery: dict[str, Any], hook: str, service_id: str | None) -> dict[str, Any]:
    for service in discovery.get("services", []):
        if (service_id and service["id"] == service_id) or (
            not service_id and service["hook"] == hook
        ):
            return dict(service)
    raise ValueError(f"the service lists no {service_id or hook} service")


def render_cards(fired: Fired, detail: bool = False) -> str:
    """The answer for people: one block per card."""
    if fired.status != 200:  # noqa: PLR2004
        return f"HTTP {fired.status}\n{json.dumps(fired.answer, indent=2)}"
    cards = fired.answer.get("cards", [])
    if not cards:
        return "no cards"
    blocks = []
    for card in cards:
        topic = card.get("source", {}).get("topic", {}).get("code", "?")
        lines = [f"[{card['indicator'].upper()}] {topic}: {card['summary']}"]
        for suggestion in card.get("suggestions", []):
            lines.append(f"    suggestion: {suggestion['label']}")
        if detail:
            lines += [f"    {line}" for line in card.get("detail", "").splitlines()]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
