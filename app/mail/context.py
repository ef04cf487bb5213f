"""Turns the plain facts of a reminder into the template context, formatted with Babel."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_currency, get_currency_precision

DEFAULT_LOCALE = "en"
DEFAULT_BRAND_COLOUR = "#2f5d8a"

_HEX_COLOUR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_CURRENCY_CODE = re.compile(r"[A-Z]{3}")


@dataclass(frozen=True)
class InvoiceLine:
    """One invoice as the email shows it; money in integer minor units."""

    number: str
    currency: str
    amount_total_minor: int
    amount_due_minor: int
    due_on: date
    pay_link: str


@dataclass(frozen=True)
class ReminderFacts:
    """Everything a reminder needs to know, already decided by the caller."""

    organisation_name: str
    customer_name: str
    locale: str
    step_key: str
    tone: str
    invoices: Sequence[InvoiceLine]
    today: date
    reply_link: str
    unsubscribe_link: str
    late_fee_note: str | None = None
    brand_colour: str = DEFAULT_BRAND_COLOUR
    sender_name: str = ""
    # When the account leaves the ladder (the `escalate` step); the final notice names it.
    escalation_on: date | None = None
    # Step-specific values (a promise, a plan, a dispute...), already formatted for the
    # customer's locale; added to the context at top level and never replacing a key.
    extra: Mapping[str, Any] = field(default_factory=dict)


def normalise_locale(locale: str | None) -> str:
    """Return a Babel-known locale identifier such as "de_DE", or "en" when unusable."""
    candidate = (locale or "").strip().replace("-", "_")
    # A customer's locale comes from an API payload; it must never stop a reminder.
    try:
        return str(Locale.parse(candidate))
    except (UnknownLocaleError, ValueError, TypeError):
        return DEFAULT_LOCALE


def _currency_code(currency: str) -> str:
    code = currency.strip().upper()
    if not _CURRENCY_CODE.fullmatch(code):
        raise ValueError(f"not an ISO 4217 currency code: {currency!r}")
    return code


def money_from_minor(amount_minor: int, currency: str) -> Decimal:
    """Convert integer minor units to a Decimal in major units (JPY has 0 decimals, BHD 3)."""
    exponent = get_currency_precision(_currency_code(currency))
    return Decimal(amount_minor).scaleb(-exponent)


def format_money(amount_minor: int, currency: str, locale: str) -> str:
    """Format minor units for a reader in `locale`, e.g. 123450 EUR in de_DE -> "1.234,50 €"."""
    code = _currency_code(currency)
    return format_currency(
        money_from_minor(amount_minor, code), code, locale=normalise_locale(locale)
    )


def safe_brand_colour(colour: str | None) -> str:
    """Return `colour` if it is a plain hex colour, else the default (it lands in inline CSS)."""
    if colour and _HEX_COLOUR.fullmatch(colour.strip()):
        return colour.strip().lower()
    return DEFAULT_BRAND_COLOUR


def readable_text_colour(background: str) -> str:
    """Pick dark or white button text so a light brand colour still gives readable contrast."""
    digits = background.lstrip("#")
    if len(digits) == 3:
        digits = "".join(ch * 2 for ch in digits)
    red, green, blue = (int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4))

    def linear(channel: float) -> float:
        return channel / 12.92 if channel <= 0.03928 else ((channel + 0.055) / 1.055) ** 2.4

    luminance = 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)
    # White wins when its WCAG contrast ratio beats near-black's.
    return "#ffffff" if (1.05 / (luminance + 0.05)) >= ((luminance + 0.05) / 0.05) else "#1a1a1a"


def _invoice_context(line: InvoiceLine, today: date, locale: str) -> dict[str, Any]:
    days_overdue = (today - line.due_on).days
    return {
        "number": line.number,
        "currency": _currency_code(line.currency),
        "amount_total": format_money(line.amount_total_minor, line.currency, locale),
        "amount_due": format_money(line.amount_due_minor, line.currency, locale),
        "due_on": format_date(line.due_on, format="long", locale=locale),
        "days_overdue": days_overdue,
        "days_until_due": -days_overdue,
        "pay_link": line.pay_link,
    }


def _totals(lines: Sequence[InvoiceLine], locale: str) -> list[str]:
    # Sums only within one currency; adding euros to dollars would state a wrong amount.
    sums: dict[str, int] = {}
    for line in lines:
        code = _currency_code(line.currency)
        sums[code] = sums.get(code, 0) + line.amount_due_minor
    return [format_money(amount, code, locale) for code, amount in sums.items()]


def build_reminder_context(facts: ReminderFacts) -> dict[str, Any]:
    """Build the dict every reminder template renders from (text and HTML alike)."""
    if not facts.invoices:
        raise ValueError("a reminder needs at least one invoice")
    locale = normalise_locale(facts.locale)
    # Oldest first, so `invoice` is the one the customer has owed longest.
    lines = sorted(facts.invoices, key=lambda line: (line.due_on, line.number))
    invoices = [_invoice_context(line, facts.today, locale) for line in lines]
    totals = _totals(lines, locale)
    brand_colour = safe_brand_colour(facts.brand_colour)
    text_colour = readable_text_colour(brand_colour)
    organisation_name = facts.organisation_name.strip()
    sender_name = facts.sender_name.strip() or f"The accounts team at {organisation_name}"
    context: dict[str, Any] = {
        "organisation": {"name": organisation_name},
        "customer": {"name": facts.customer_name.strip()},
        "step": {"key": facts.step_key, "tone": facts.tone},
        "locale": locale,
        "invoices": invoices,
        "invoice": invoices[0],
        "count": len(invoices),
        "total_due": " + ".join(totals),
        "totals": totals,
        "mixed_currencies": len(totals) > 1,
        "days_overdue": max(item["days_overdue"] for item in invoices),
        # True when one pay link covers every invoice, so a single button is honest.
        "one_pay_link": len({item["pay_link"] for item in invoices}) == 1
        and bool(invoices[0]["pay_link"]),
        "links": {
            "reply": facts.reply_link,
            "unsubscribe": facts.unsubscribe_link,
            "pay": invoices[0]["pay_link"],
        },
        "late_fee_note": facts.late_fee_note or None,
        "brand_colour": brand_colour,
        "brand_text_colour": text_colour,
        # Links on white need a dark colour; a light brand colour would be unreadable there.
        "link_colour": brand_colour if text_colour == "#ffffff" else "#1a1a1a",
        "sender_name": sender_name,
        "today": format_date(facts.today, format="long", locale=locale),
        "escalation_on": (
            format_date(facts.escalation_on, format="long", locale=locale)
            if facts.escalation_on
            else None
        ),
    }
    clashes = sorted(set(facts.extra) & set(context))
    if clashes:
        raise ValueError(f"extra values would replace reminder context keys: {', '.join(clashes)}")
    context.update(facts.extra)
    return context
