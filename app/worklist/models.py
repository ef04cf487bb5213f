"""Table: one item on an organisation's worklist."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


class WorklistItem(SQLModel, table=True):
    __tablename__ = "worklist_item"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    invoice_id: int | None = Field(default=None, foreign_key="invoice.id", index=True)
    customer_id: int | None = Field(default=None, foreign_key="customer.id", index=True)
    kind: str = Field(max_length=32)
    reason: str = Field(max_length=2000)
    created_at: datetime = Field(sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    assigned_to: int | None = Field(default=None, foreign_key="user.id", index=True)
    resolved_by: str | None = Field(default=None, max_length=320)
    resolution: str | None = Field(default=None, max_length=2000)
