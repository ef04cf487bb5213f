"""Table: the send log, one row per invoice and step, written before any SMTP call."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime

# sending: logged, outcome not yet known. sent/done: finished. retry: nothing left, try again.
# in_doubt: the server may have it; a human decides. bounced: refused for every recipient.
# superseded: a retry overtaken by a later step. failed: given up, a person was told.
COUNTS_AS_SENT = ("sending", "sent", "done", "in_doubt", "bounced", "failed")


class SendLog(SQLModel, table=True):
    __tablename__ = "send_log"
    __table_args__ = (UniqueConstraint("invoice_id", "step"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    step: str = Field(max_length=64)
    tone: str = Field(max_length=16)
    status: str = Field(max_length=16, index=True)
    message_id: str | None = Field(default=None, max_length=300, index=True)
    recipients: list[str] = Field(default_factory=list, sa_type=JSON)
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=2000)
    # `at` is business time (test clock aware): the day the customer was written to.
    at: datetime = Field(sa_type=UTCDateTime, index=True)
    # `logged_at` is real time, so a send stuck in `sending` is noticed even under a test clock.
    logged_at: datetime = Field(sa_type=UTCDateTime)


class SentMessage(SQLModel, table=True):
    """The exact bytes that went to the mail server, so a person can read what was sent."""

    __tablename__ = "sent_message"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    message_id: str = Field(max_length=300, unique=True, index=True)
    raw: str = Field(sa_type=Text)
    sent_at: datetime = Field(sa_type=UTCDateTime)
