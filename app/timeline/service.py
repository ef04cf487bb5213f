"""Appending events and reading a timeline back."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from sqlmodel import Session, col, select

from app.timeline.models import Event
from app.webhooks.outbound import fan_out


def record_event(
    session: Session,
    *,
    organisation_id: int,
    kind: str,
    at: datetime,
    actor: str,
    invoice_id: int | None = None,
    customer_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> Event:
    event = Event(
        organisation_id=organisation_id,
        invoice_id=invoice_id,
        customer_id=customer_id,
        kind=kind,
        at=at,
        recorded_at=datetime.now(UTC),
        actor=actor,
        data=data or {},
    )
    session.add(event)
    session.flush()
    # Same transaction: the deliveries exist exactly when the event does.
    fan_out(session, event)
    return event


def invoice_timeline(session: Session, *, organisation_id: int, invoice_id: int) -> list[Event]:
    statement = (
        select(Event)
        .where(Event.organisation_id == organisation_id, Event.invoice_id == invoice_id)
        .order_by(col(Event.at), col(Event.id))
    )
    return list(session.exec(statement).all())


class _InvoiceLike(Protocol):
    id: int | None
    organisation_id: int
    customer_id: int


def record_invoice_event(
    session: Session,
    invoice: _InvoiceLike,
    kind: str,
    *,
    at: datetime,
    actor: str,
    data: dict[str, Any] | None = None,
) -> Event:
    return record_event(
        session,
        organisation_id=invoice.organisation_id,
        invoice_id=invoice.id,
        customer_id=invoice.customer_id,
        kind=kind,
        at=at,
        actor=actor,
        data=data,
    )
