"""Field validators shared by the request schemas."""

from __future__ import annotations

import re
from datetime import date, datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, available_timezones

from babel import Locale, UnknownLocaleError

from app.mail.compose import usable_address
from app.money import is_currency

# Zone names such as "localtime" or "Factory" are not places a customer lives.
_TIMEZONES = frozenset(name for name in available_timezones() if "/" in name or name == "UTC")
# ISO 4217 codes that are not money: testing, "no currency", metals, accounting units.
_NOT_MONEY = frozenset(
    {"XXX", "XTS", "XAU", "XAG", "XPT", "XPD", "XBA", "XBB", "XBC", "XBD", "XDR", "XSU", "XUA"}
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
EARLIEST = date(1900, 1, 1)
LATEST = date(2199, 12, 31)


def email_address(value: str) -> str:
    value = value.strip()
    if len(value) > 254:
        raise ValueError("is longer than an email address can be")
    try:
        return usable_address(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an email address Politely can send to") from None


def timezone_name(value: str) -> str:
    if value not in _TIMEZONES:
        raise ValueError(f"{value!r} is not an IANA time zone such as Europe/Berlin")
    ZoneInfo(value)
    return value


def locale_name(value: str) -> str:
    try:
        Locale.parse(value.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        raise ValueError(f"{value!r} is not a known locale such as en_GB or de_DE") from None
    return value.replace("-", "_")


def country_code(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z]{2}", value):
        raise ValueError("must be a two-letter ISO 3166 country code such as DE")
    return value.upper()


def currency_code(value: str) -> str:
    value = value.upper()
    if not is_currency(value) or value in _NOT_MONEY:
        raise ValueError(f"{value!r} is not an ISO 4217 currency code")
    return value


def plain_text(value: str) -> str:
    """One line of text: no line breaks or other control characters (it may become a header)."""
    if _CONTROL.search(value):
        raise ValueError("must be one line of plain text, without control characters")
    return value


def message_text(value: str) -> str:
    """Free text: line breaks and tabs are fine, other control characters are not."""
    if re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", value):
        raise ValueError("must not contain control characters")
    return value


def http_url(value: str) -> str:
    parts = urlsplit(value)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or _CONTROL.search(value)
        or " " in value
    ):
        raise ValueError("must be an http(s) URL such as https://pay.example.com/inv-1")
    return value


def calendar_date(value: date) -> date:
    if not EARLIEST <= value <= LATEST:
        raise ValueError(f"must be between {EARLIEST} and {LATEST}")
    return value


def calendar_instant(value: datetime) -> datetime:
    calendar_date(value.date())
    return value
