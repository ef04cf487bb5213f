"""Table: the one-time token of each portal form that was acted on, so a double post is not."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


class FormSubmission(SQLModel, table=True):
    __tablename__ = "form_submission"

    id: int | None = Field(default=None, primary_key=True)
    nonce: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
