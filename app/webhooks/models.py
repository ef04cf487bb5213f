"""Tables: inbound webhook events seen (for idempotency), outbound endpoints and deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


class WebhookReceipt(SQLModel, table=True):
    """One event received from Stripe or an invoicing system: a replay changes nothing."""

    __tablename__ = "webhook_receipt"
    __table_args__ = (UniqueConstraint("organisation_id", "source", "event_id"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    source: str = Field(max_length=16)  # stripe, payments
    event_id: str = Field(max_length=255)
    event_type: str = Field(max_length=100)
    result: str = Field(max_length=16)  # applied, unmatched, ignored
    detail: str | None = Field(default=None, max_length=2000)
    received_at: datetime = Field(sa_type=UTCDateTime)


class WebhookEndpoint(SQLModel, table=True):
    """Where an organisation wants its events delivered."""

    __tablename__ = "webhook_endpoint"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    url: str = Field(max_length=2000)
    # The signing secret ("whsec_" + base64). It must be kept to sign; it is never shown again.
    secret: str = Field(max_length=200)
    events: list[str] = Field(default_factory=list, sa_type=JSON)  # event kinds, or ["*"]
    created_at: datetime = Field(sa_type=UTCDateTime)
    failing_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    disabled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    disabled_reason: str | None = Field(default=None, max_length=500)
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class WebhookDelivery(SQLModel, table=True):
    """One event for one endpoint, retried from the database until it lands or gives up."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (UniqueConstraint("endpoint_id", "event_id"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    endpoint_id: int = Field(foreign_key="webhook_endpoint.id", index=True)
    event_id: int = Field(foreign_key="event.id", index=True)
    event_kind: str = Field(max_length=64)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    status: str = Field(default="pending", max_length=16, index=True)  # pending delivered failed
    attempts: int = 0
    # Real time, not the test clock: retries are about the receiver being reachable.
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=2000)
    created_at: datetime = Field(sa_type=UTCDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class DeliveryAttempt(SQLModel, table=True):
    """The delivery log: every try, with what the receiver answered."""

    __tablename__ = "webhook_attempt"

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="webhook_delivery.id", index=True)
    attempted_at: datetime = Field(sa_type=UTCDateTime)
    status_code: int | None = None
    error: str | None = Field(default=None, max_length=2000)
    response_excerpt: str | None = Field(default=None, sa_type=Text)
