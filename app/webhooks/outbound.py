"""Outgoing webhooks: which events go to which endpoint, the JSON they carry, when to retry.

Every event of the timeline becomes one delivery per subscribed endpoint, in the transaction
that records the event. The runner (app.webhooks.runner) sends it later, outside any request.

What a receiver gets (the body is signed with Standard Webhooks headers: `webhook-id`, the
same on every retry of one delivery; `webhook-timestamp`, Unix seconds of this attempt;
`webhook-signature`, `v1,<base64 HMAC-SHA256>` with the endpoint's `whsec_` secret):

    {"type": "reminder.sent",
     "timestamp": "2026-11-23T09:00:00Z",            # when it happened (business time)
     "data": {"invoice": "inv-1001",                 # your invoice id, or null
              "customer": "bakery",                  # your customer id, or null
              "at": "2026-11-23T09:00:00Z",
              "actor": "scheduler",                  # api, scheduler, customer, admin:<email>...
              ...}}                                  # the event's own fields, as on the timeline
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from app.customers.models import Customer
from app.invoices.models import Invoice
from app.timeline.models import Event
from app.webhooks.models import WebhookDelivery, WebhookEndpoint

ALL_EVENTS = "*"

# The kinds an endpoint may subscribe to: DESIGN.md's list and every kind the code records.
# A kind recorded that is missing here still reaches endpoints subscribed to "*".
KNOWN_KINDS = frozenset(
    {
        "reminder.sent",
        "reminder.failed",
        "reply.received",
        "link.clicked",
        "promise.created",
        "promise.kept",
        "promise.broken",
        "plan.created",
        "plan.completed",
        "dispute.opened",
        "dispute.resolved",
        "payment.received",
        "payment.claimed",
        "payment.refunded",
        "payment.unmatched",
        "payment.rejected",
        "invoice.paid",
        "invoice.escalated",
        "invoice.paused",
        "invoice.resumed",
        "invoice.voided",
        "invoice.written_off",
        "invoice.reopened",
        "invoice.created",
        "contact.bounced",
        "contact.unsubscribed",
        "note.added",
        "notice.sent",
        "notice.failed",
        "rating.received",
        "worklist.resolved",
        "organisation.updated",
    }
)

# After the n-th failed attempt, wait RETRY_DELAYS[n - 1]; after that, LATER_DELAY each time.
RETRY_DELAYS = (
    timedelta(seconds=5),
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=1),
    timedelta(hours=2),
)
LATER_DELAY = timedelta(hours=4)
RETRY_WINDOW = timedelta(hours=24)
# Jitter only lengthens a delay, so the retries always cover the whole window.
JITTER = 0.25
# An endpoint with no successful delivery for this long is disabled and put on the worklist.
DISABLE_AFTER = timedelta(days=3)


def real_now() -> datetime:
    # Retries are about a receiver being reachable: real time, never the test clock.
    return datetime.now(UTC)


def subscribed(events: list[str], kind: str) -> bool:
    return ALL_EVENTS in events or kind in events


def delay_after(attempts: int) -> timedelta:
    """How long to wait after `attempts` failed attempts, before jitter."""
    return RETRY_DELAYS[attempts - 1] if attempts <= len(RETRY_DELAYS) else LATER_DELAY


def jittered_delay(attempts: int, rng: random.Random | None = None) -> timedelta:
    # Spreads retries of a burst of deliveries so a receiver coming back is not stampeded.
    factor = 1 + (rng or random).random() * JITTER  # noqa: S311 - not a secret
    return delay_after(attempts) * factor


def _attempts_covering(window: timedelta) -> int:
    attempts, elapsed = 1, timedelta(0)
    while elapsed < window:
        elapsed += delay_after(attempts)
        attempts += 1
    return attempts


# The attempt after which a delivery gives up: the last one is at least RETRY_WINDOW after
# the first (14 attempts, about 28 hours, with the schedule above).
MAX_ATTEMPTS = _attempts_covering(RETRY_WINDOW)


def active_endpoints(session: Session, organisation_id: int) -> list[WebhookEndpoint]:
    statement = (
        select(WebhookEndpoint)
        .where(
            WebhookEndpoint.organisation_id == organisation_id,
            col(WebhookEndpoint.deleted_at).is_(None),
            col(WebhookEndpoint.disabled_at).is_(None),
        )
        .order_by(col(WebhookEndpoint.id))
    )
    return list(session.exec(statement).all())


def fan_out(session: Session, event: Event) -> list[WebhookDelivery]:
    """Queue the event for every active endpoint of its organisation that wants this kind."""
    assert event.id is not None
    endpoints = [
        endpoint
        for endpoint in active_endpoints(session, event.organisation_id)
        if subscribed(endpoint.events, event.kind)
    ]
    if not endpoints:
        return []
    payload = event_payload(session, event)
    now = real_now()
    deliveries = []
    for endpoint in endpoints:
        assert endpoint.id is not None
        delivery = WebhookDelivery(
            organisation_id=event.organisation_id,
            endpoint_id=endpoint.id,
            event_id=event.id,
            event_kind=event.kind,
            payload=payload,
            next_attempt_at=now,  # due at once: the runner picks it up within seconds
            created_at=now,
        )
        session.add(delivery)
        deliveries.append(delivery)
    session.flush()
    return deliveries


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def event_payload(session: Session, event: Event) -> dict[str, Any]:
    """The JSON body described at the top of this module (our ids never leave; theirs do)."""
    invoice = session.get(Invoice, event.invoice_id) if event.invoice_id else None
    customer_id = event.customer_id or (invoice.customer_id if invoice else None)
    customer = session.get(Customer, customer_id) if customer_id else None
    at = _iso(event.at)
    data = {
        **(event.data or {}),
        "invoice": invoice.external_id if invoice else None,
        "customer": customer.external_id if customer else None,
        "at": at,
        "actor": event.actor,
    }
    return {"type": event.kind, "timestamp": at, "data": data}


def message_id(delivery: WebhookDelivery) -> str:
    """`webhook-id`: one per delivery, unchanged across retries, so receivers can deduplicate."""
    return f"msg_{delivery.id}"
