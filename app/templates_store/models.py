"""Table: one saved version of a step's subject, text and HTML for one locale."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


class TemplateVersion(SQLModel, table=True):
    __tablename__ = "template_version"
    __table_args__ = (UniqueConstraint("organisation_id", "locale", "step", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    locale: str = Field(max_length=35)
    step: str = Field(max_length=64)
    version: int
    # All three None: "reset to the shipped default" (the files in templates/emails/).
    subject: str | None = Field(default=None, sa_type=Text)
    text: str | None = Field(default=None, sa_type=Text)
    html: str | None = Field(default=None, sa_type=Text)
    author: str = Field(max_length=320)
    note: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(sa_type=UTCDateTime)

    @property
    def is_default(self) -> bool:
        return self.subject is None
