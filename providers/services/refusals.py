"""Refusals of OAuth clients' proofs in the trail: the OAuth endpoints' and the API's."""

from __future__ import annotations

from django.db import transaction

from audit.models import ActorKind, EventType
from audit.services import Actor, event_record
from providers.models import ApiClient


@transaction.atomic
def oauth_refusal_record(*, reason: str, endpoint: str, client_id: str = "") -> None:
    """A refused client assertion, DPoP proof, pushed request or authorization detail: the reason
    (a short stable code) and where, in the trail; never the value that was refused. A client id
    is recorded only when it is a registered client's: what a stranger sends is not kept."""
    consumer = ""
    if client_id:
        consumer = (
            ApiClient.objects.filter(application__client_id=client_id)
            .values_list("organisation__siret", flat=True)
            .first()
            or ""
        )
    event_record(
        type=EventType.OAUTH_REFUSED,
        actor=Actor(ActorKind.CONSUMER, client_id if consumer else "unknown"),
        consumer=consumer,
        detail={"reason": reason, "endpoint": endpoint},
    )
