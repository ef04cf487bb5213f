"""Table: a person who signs in to the admin pages of one organisation."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    # One address signs in to one organisation, so the login form needs no organisation.
    email: str = Field(max_length=320, unique=True, index=True)
    password_hash: str = Field(max_length=200)
    # Changes at every login and logout: a cookie from before stops working.
    session_nonce: str = Field(max_length=64)
    failed_logins: int = 0
    # Real time, never the test clock: a security check.
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    last_login_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
