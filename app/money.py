"""Money as integer minor units of a currency; decimal strings at the edges, never floats."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from babel.numbers import get_currency_precision, list_currencies

_CURRENCIES = frozenset(list_currencies())


def is_currency(code: str) -> bool:
    return code in _CURRENCIES


def exponent(currency: str) -> int:
    return int(get_currency_precision(currency))


def to_minor(amount: str | Decimal | int, currency: str) -> int:
    """'1234.5' EUR -> 123450. Refuses floats, NaN and more decimals than the currency has."""
    if isinstance(amount, float) or isinstance(amount, bool):
        raise ValueError('must be a decimal string such as "120.50", not a number')
    try:
        value = Decimal(str(amount).strip())
    except InvalidOperation:
        raise ValueError(f"{amount!r} is not a decimal amount") from None
    if not value.is_finite() or value.adjusted() > 15:
        raise ValueError("must be a finite amount of at most 16 digits")
    places = exponent(currency)
    scaled = value.scaleb(places)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{currency} amounts have at most {places} decimal places")
    return int(scaled)


def from_minor(amount_minor: int, currency: str) -> Decimal:
    return Decimal(amount_minor).scaleb(-exponent(currency))


def to_decimal_string(amount_minor: int, currency: str) -> str:
    places = exponent(currency)
    return f"{from_minor(amount_minor, currency):.{places}f}"
