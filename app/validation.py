"""Field validators shared by the request schemas."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, available_timezones

from babel import Locale, UnknownLocaleError

from app.money import is_currency

_EMAIL = re.compile(r"^[^@\s<>(),;:\"\[\]\\]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
_TIMEZONES = frozenset(available_timezones())


def email_address(value: str) -> str:
    value = value.strip()
    if len(value) > 320 or not _EMAIL.match(value):
        raise ValueError(f"{value!r} is not an email address")
    return value


def timezone_name(value: str) -> str:
    if value not in _TIMEZONES:
        raise ValueError(f"{value!r} is not an IANA time zone such as Europe/Berlin")
    ZoneInfo(value)
    return value


def locale_name(value: str) -> str:
    try:
        Locale.parse(value.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        raise ValueError(f"{value!r} is not a known locale such as en_GB or de_DE") from None
    return value.replace("-", "_")


def country_code(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z]{2}", value):
        raise ValueError("must be a two-letter ISO 3166 country code such as DE")
    return value.upper()


def currency_code(value: str) -> str:
    value = value.upper()
    if not is_currency(value):
        raise ValueError(f"{value!r} is not an ISO 4217 currency code")
    return value


def no_line_breaks(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError("must not contain line breaks")
    return value
