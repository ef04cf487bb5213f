"""Table: a message from a customer, by email or through the portal."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


class Reply(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    customer_id: int | None = Field(default=None, foreign_key="customer.id", index=True)
    invoice_id: int | None = Field(default=None, foreign_key="invoice.id", index=True)
    channel: str = Field(max_length=16)  # email, portal
    kind: str = Field(max_length=16)  # human, auto_reply, bounce
    sender: str = Field(default="", max_length=320)
    subject: str = Field(default="", max_length=1000)
    body: str = Field(default="", max_length=100_000)
    message_id: str | None = Field(default=None, max_length=300, index=True)
    matched_by: str | None = Field(default=None, max_length=32)  # token, thread, sender
    received_at: datetime = Field(sa_type=UTCDateTime)
