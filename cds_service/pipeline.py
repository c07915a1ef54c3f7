"""The whole story of one hook call, one stage per line."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cds_service.clinical.engine import evaluate
from cds_service.clinical.knowledge import Knowledge
from cds_service.fhir.facts import build_facts
from cds_service.fhir.gather import (
    ClientFactory,
    check_fhir_server,
    draft_medication_requests,
    gather_resources,
)
from cds_service.protocol.cards import response_body
from cds_service.protocol.render import render_cards
from cds_service.protocol.request import OrderSelectContext, parse_hook_request
from cds_service.protocol.services import ServiceDescriptor


def answer_hook(
    service: ServiceDescriptor,
    body: object,
    *,
    knowledge: Knowledge,
    now: datetime,
    client_factory: ClientFactory,
    allow_anonymous_fhir: bool,
    allowed_fhir_servers: tuple[str, ...],
) -> dict[str, Any]:
    """Validate, gather, normalise, evaluate, build cards; raise HookError for 400/403/412."""
    request, context = parse_hook_request(body, service.hook)
    check_fhir_server(request, allowed_fhir_servers)
    drafts = draft_medication_requests(context)
    gathered = gather_resources(service, request, client_factory, allow_anonymous_fhir)
    selections = context.selections if isinstance(context, OrderSelectContext) else None
    facts = build_facts(context.patientId, gathered.all_resources(), knowledge, drafts, selections)
    advice = evaluate(service.hook, facts, now, knowledge)
    return response_body(render_cards(advice, str(request.hookInstance), knowledge))
