"""Table: a dispute raised by a customer about one invoice."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.db import UTCDateTime

DISPUTE_REASONS = {
    "not_received": "We did not receive the goods or service",
    "wrong_amount": "The amount is wrong",
    "already_paid": "We have already paid this invoice",
    "quality": "There is a problem with the goods or service",
    "not_ours": "This invoice is not for us",
    "other": "Something else",
}


class Dispute(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    reason: str = Field(max_length=32)
    message: str = Field(max_length=5000)
    status: str = Field(default="open", max_length=16)  # open, resolved
    resolution: str | None = Field(default=None, max_length=5000)
    created_at: datetime = Field(sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
