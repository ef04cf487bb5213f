"""Request and response shapes for customers."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app import validation

Email = Annotated[str, AfterValidator(validation.email_address)]


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, AfterValidator(validation.plain_text)] = Field(
        min_length=1, max_length=300
    )
    email: Email
    cc: list[Email] = Field(default_factory=list, max_length=20)
    locale: Annotated[str, Field(max_length=35), AfterValidator(validation.locale_name)] | None = (
        None
    )
    timezone: Annotated[str, AfterValidator(validation.timezone_name)] | None = None
    country: Annotated[str, AfterValidator(validation.country_code)] | None = None
    policy: str | None = Field(default=None, max_length=64)
    tags: list[
        Annotated[str, Field(min_length=1, max_length=64), AfterValidator(validation.plain_text)]
    ] = Field(default_factory=list, max_length=50)


class ContactOut(BaseModel):
    email: str
    role: str
    bounced: bool
    opted_out: bool


class CustomerOut(BaseModel):
    external_id: str
    name: str
    email: str | None
    cc: list[str]
    locale: str | None
    timezone: str | None
    country: str | None
    policy: str | None
    tags: list[str]
    contacts: list[ContactOut]
