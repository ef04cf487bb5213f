"""Request and response shapes for the organisation: its identity, defaults and secrets."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, field_validator

from app import validation
from app.mail.compose import usable_address

Line = Annotated[str, AfterValidator(validation.plain_text)]
Email = Annotated[str, AfterValidator(validation.email_address)]
_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
_HOSTNAME = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
_SECRET = re.compile(r"[\x21-\x7e]+")  # printable ASCII without spaces: what dashboards show


def colour_code(value: str) -> str:
    if not _COLOUR.fullmatch(value):
        raise ValueError("must be a colour written as #rrggbb, such as #2f5d8a")
    return value.lower()


def https_url(value: str) -> str:
    validation.http_url(value)
    if not value.startswith("https://"):
        raise ValueError("must be an https:// URL (emails and pages load it over https)")
    return value


def domain_name(value: str) -> str:
    value = value.strip().lower().rstrip(".")
    if not _HOSTNAME.fullmatch(value):
        raise ValueError("must be a domain name such as reply.example.com")
    usable_address(f"x@{value}")  # the mail composer must accept it in a Reply-To
    return value


def pasted_secret(value: str) -> str:
    value = value.strip()
    if not _SECRET.fullmatch(value):
        raise ValueError("must be the secret exactly as shown, without spaces or line breaks")
    return value


def stripe_secret(value: str) -> str:
    value = pasted_secret(value)
    if not value.startswith("whsec_"):
        raise ValueError("must be the endpoint's signing secret from Stripe, starting with whsec_")
    return value


Rotatable = Literal["payments_webhook_secret", "inbound_secret"]
ROTATABLE: tuple[str, ...] = ("payments_webhook_secret", "inbound_secret")
WRITE_ONLY: tuple[str, ...] = ("stripe_webhook_secret", "mailgun_signing_key")
REQUIRED = (
    "name",
    "brand_colour",
    "default_locale",
    "default_timezone",
    "default_currency",
    "thank_you_email",
)


class OrganisationPatch(BaseModel):
    """Only the fields sent change; null clears an optional field (not a required one)."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[Line, Field(min_length=1, max_length=200)] | None = None
    from_name: Annotated[Line, Field(min_length=1, max_length=200)] | None = None
    from_address: Email | None = None
    reply_to: Email | None = None
    inbound_domain: Annotated[str, AfterValidator(domain_name)] | None = None
    brand_colour: Annotated[str, AfterValidator(colour_code)] | None = None
    logo_url: Annotated[str, Field(max_length=2000), AfterValidator(https_url)] | None = None
    default_locale: (
        Annotated[str, Field(max_length=35), AfterValidator(validation.locale_name)] | None
    ) = None
    default_timezone: Annotated[str, AfterValidator(validation.timezone_name)] | None = None
    default_currency: Annotated[str, AfterValidator(validation.currency_code)] | None = None
    default_country: Annotated[str, AfterValidator(validation.country_code)] | None = None
    payment_instructions: (
        Annotated[str, Field(max_length=4000), AfterValidator(validation.message_text)] | None
    ) = None
    thank_you_email: StrictBool | None = None
    stripe_webhook_secret: (
        Annotated[str, Field(max_length=200), AfterValidator(stripe_secret)] | None
    ) = Field(default=None, description="write-only: paste the endpoint secret from Stripe")
    mailgun_signing_key: (
        Annotated[str, Field(max_length=200), AfterValidator(pasted_secret)] | None
    ) = Field(default=None, description="write-only: paste the HTTP webhook signing key")
    rotate: list[Rotatable] = Field(
        default_factory=list,
        max_length=2,
        description="generate new payments_webhook_secret and/or inbound_secret values",
    )

    @field_validator(*REQUIRED)
    @classmethod
    def _not_null(cls, value: object) -> object:
        # Optional only so that leaving the field out is possible; null is not a value here.
        if value is None:
            raise ValueError("cannot be null; leave the field out to keep its value")
        return value

    def changes(self) -> dict[str, object]:
        """The sent fields other than `rotate`, with their validated values."""
        return {name: getattr(self, name) for name in self.model_fields_set if name != "rotate"}


class SecretStatus(BaseModel):
    """A write-only secret: whether it is set and its last four characters, never more."""

    set: bool
    last4: str | None


class OrganisationOut(BaseModel):
    slug: str
    name: str
    from_name: str | None
    from_address: str | None
    reply_to: str | None
    inbound_domain: str | None
    brand_colour: str
    logo_url: str | None
    default_locale: str
    default_timezone: str
    default_currency: str
    default_country: str | None
    payment_instructions: str | None
    thank_you_email: bool
    inbound_secret: str | None = Field(description="generated; rotate with PATCH")
    payments_webhook_secret: str | None = Field(description="generated; rotate with PATCH")
    stripe_webhook_secret: SecretStatus
    mailgun_signing_key: SecretStatus
