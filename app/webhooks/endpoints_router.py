"""HTTP for the organisation's outgoing webhook endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import CurrentOrg, RuntimeDep, SessionDep, org_id
from app.webhooks.endpoints import (
    attempts_of,
    create_endpoint,
    delete_endpoint,
    endpoint_status,
    get_delivery,
    get_endpoint,
    list_endpoints,
    recent_deliveries,
    redeliver,
)
from app.webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint

router = APIRouter(prefix="/webhook-endpoints", tags=["webhooks out"])

PAYLOAD_DOC = """
Each event of the timeline the endpoint subscribes to is POSTed as JSON with
[Standard Webhooks](https://www.standardwebhooks.com/) headers, signed with the endpoint's
secret: `webhook-id` (the same on every retry of one delivery: deduplicate on it),
`webhook-timestamp` (Unix seconds of this attempt) and `webhook-signature` (`v1,<base64>`).

```json
{"type": "reminder.sent", "timestamp": "2026-11-23T09:00:00Z",
 "data": {"invoice": "inv-1001", "customer": "bakery", "at": "2026-11-23T09:00:00Z",
          "actor": "scheduler", "step": "upcoming", "tone": "friendly"}}
```

`invoice` and `customer` are your external ids (or null); the other fields of `data` are those
of the event on the invoice's timeline. Answer with any 2xx within 10 seconds; anything else
(a redirect too) is retried with exponential backoff and jitter for at least 24 hours. An
endpoint without a successful delivery for 3 days is disabled until an admin re-enables it.
"""


class EndpointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2000, examples=["https://erp.example.com/politely-events"])
    events: list[str] = Field(
        min_length=1, max_length=100, examples=[["reminder.sent", "invoice.paid"], ["*"]]
    )


class EndpointOut(BaseModel):
    id: int
    url: str
    events: list[str]
    status: str = Field(description="active, failing (no success lately) or disabled")
    created_at: datetime
    failing_since: datetime | None
    disabled_at: datetime | None
    disabled_reason: str | None


class EndpointCreated(EndpointOut):
    secret: str = Field(description="the signing secret; shown only in this answer")


class AttemptOut(BaseModel):
    attempted_at: datetime
    status_code: int | None
    error: str | None
    response_excerpt: str | None


class DeliveryOut(BaseModel):
    id: int
    event_kind: str
    status: str = Field(description="pending, delivered, failed or cancelled")
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    payload: dict[str, Any]
    log: list[AttemptOut] = Field(description="every attempt, newest first")


def endpoint_out(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "events": endpoint.events,
        "status": endpoint_status(endpoint),
        "created_at": endpoint.created_at,
        "failing_since": endpoint.failing_since,
        "disabled_at": endpoint.disabled_at,
        "disabled_reason": endpoint.disabled_reason,
    }


def delivery_out(delivery: WebhookDelivery, log: list[DeliveryAttempt]) -> DeliveryOut:
    assert delivery.id is not None
    return DeliveryOut(
        id=delivery.id,
        event_kind=delivery.event_kind,
        status=delivery.status,
        attempts=delivery.attempts,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        created_at=delivery.created_at,
        # While a sender holds it the lease shows here; it is not a retry time then.
        next_attempt_at=delivery.next_attempt_at if delivery.status == "pending" else None,
        delivered_at=delivery.delivered_at,
        payload=delivery.payload,
        log=[AttemptOut.model_validate(a, from_attributes=True) for a in log],
    )


@router.post("", response_model=EndpointCreated, status_code=201, description=PAYLOAD_DOC)
def add_endpoint(
    data: EndpointIn, session: SessionDep, organisation: CurrentOrg, runtime: RuntimeDep
) -> Any:
    """Send events to a URL; the answer holds the signing secret, which is never shown again."""
    endpoint = create_endpoint(
        session,
        organisation_id=org_id(organisation),
        url=data.url,
        events=data.events,
        allow_private=runtime.settings.allow_private_webhooks,
    )
    return {**endpoint_out(endpoint), "secret": endpoint.secret}


@router.get("", response_model=list[EndpointOut])
def read_endpoints(session: SessionDep, organisation: CurrentOrg) -> Any:
    """The endpoints that receive events (without their secrets)."""
    return [endpoint_out(e) for e in list_endpoints(session, organisation_id=org_id(organisation))]


@router.delete("/{endpoint_id}", status_code=204)
def remove_endpoint(endpoint_id: int, session: SessionDep, organisation: CurrentOrg) -> Response:
    """Stop sending to this endpoint; deliveries still waiting are cancelled."""
    endpoint = get_endpoint(session, organisation_id=org_id(organisation), endpoint_id=endpoint_id)
    delete_endpoint(session, endpoint)
    return Response(status_code=204)


@router.get("/{endpoint_id}/deliveries", response_model=list[DeliveryOut])
def read_deliveries(
    endpoint_id: int, session: SessionDep, organisation: CurrentOrg, limit: int = 50
) -> list[DeliveryOut]:
    """The delivery log: the latest deliveries, newest first, each with its attempts."""
    endpoint = get_endpoint(session, organisation_id=org_id(organisation), endpoint_id=endpoint_id)
    deliveries = recent_deliveries(
        session,
        organisation_id=org_id(organisation),
        endpoint_id=endpoint.id,
        limit=max(1, min(limit, 200)),
    )
    logs = attempts_of(session, [d.id for d in deliveries if d.id is not None])
    return [delivery_out(d, logs.get(d.id or 0, [])) for d in deliveries]


@router.post(
    "/{endpoint_id}/deliveries/{delivery_id}/redeliver",
    response_model=DeliveryOut,
    status_code=202,
)
def redeliver_delivery(
    endpoint_id: int, delivery_id: int, session: SessionDep, organisation: CurrentOrg
) -> DeliveryOut:
    """Send this delivery again within seconds, with a new round of retries if it fails."""
    endpoint = get_endpoint(session, organisation_id=org_id(organisation), endpoint_id=endpoint_id)
    delivery = get_delivery(session, endpoint=endpoint, delivery_id=delivery_id)
    redeliver(session, endpoint=endpoint, delivery=delivery)
    assert delivery.id is not None
    return delivery_out(delivery, attempts_of(session, [delivery.id])[delivery.id])
