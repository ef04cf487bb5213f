"""Tables: an organisation and the API keys that act for it."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


class Organisation(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(unique=True, index=True, max_length=64)
    name: str = Field(max_length=200)
    from_name: str | None = Field(default=None, max_length=200)
    from_address: str | None = Field(default=None, max_length=320)
    reply_to: str | None = Field(default=None, max_length=320)
    inbound_domain: str | None = Field(default=None, max_length=253)
    brand_colour: str = Field(default="#2f5d8a", max_length=7)
    logo_url: str | None = Field(default=None, max_length=2000)
    default_locale: str = Field(default="en", max_length=35)
    default_timezone: str = Field(default="UTC", max_length=64)
    default_country: str | None = Field(default=None, max_length=2)
    default_currency: str = Field(default="EUR", max_length=3)
    created_at: datetime = Field(sa_type=UTCDateTime)


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    name: str = Field(max_length=200)
    # Only a prefix (to find the row and show it) and a SHA-256 of the whole key are kept.
    prefix: str = Field(index=True, max_length=16)
    key_hash: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
