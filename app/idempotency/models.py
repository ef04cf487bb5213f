"""Table: the stored answer to a POST made with an Idempotency-Key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


class IdempotentRequest(SQLModel, table=True):
    __tablename__ = "idempotent_request"
    __table_args__ = (UniqueConstraint("organisation_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    key: str = Field(max_length=255)
    method: str = Field(max_length=10)
    path: str = Field(max_length=2000)
    request_hash: str = Field(max_length=64)  # the same key with another body is refused
    status_code: int
    response_body: str = Field(sa_type=Text)
    created_at: datetime = Field(sa_type=UTCDateTime)
