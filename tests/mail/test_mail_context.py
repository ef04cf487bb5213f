from datetime import date
from decimal import Decimal

import pytest

from app.mail.context import (
    DEFAULT_BRAND_COLOUR,
    InvoiceLine,
    ReminderFacts,
    build_reminder_context,
    format_money,
    money_from_minor,
)


def line(number="INV-1", currency="EUR", due=123_450, total=None, due_on=date(2025, 3, 1), pay=""):
    return InvoiceLine(
        number=number,
        currency=currency,
        amount_total_minor=total if total is not None else due,
        amount_due_minor=due,
        due_on=due_on,
        pay_link=pay,
    )


def facts(*invoices, **overrides):
    values = dict(
        organisation_name="Northwind Joinery Ltd",
        customer_name="Harbour & Finch",
        locale="en",
        step_key="overdue_10",
        tone="gentle",
        invoices=invoices or (line(pay="https://pay.example/1"),),
        today=date(2025, 3, 11),
        reply_link="https://app.example/p/t/message",
        unsubscribe_link="https://app.example/p/t/unsubscribe",
    )
    values.update(overrides)
    return ReminderFacts(**values)


@pytest.mark.parametrize(
    ("minor", "currency", "expected"),
    [
        (123_450, "EUR", Decimal("1234.50")),
        (1234, "JPY", Decimal("1234")),
        (1234, "BHD", Decimal("1.234")),
    ],
)
def test_money_from_minor_uses_the_currency_exponent(minor, currency, expected):
    assert money_from_minor(minor, currency) == expected


def test_format_money_follows_the_locale():
    assert format_money(123_450, "EUR", "de_DE") == "1.234,50\xa0€"
    assert format_money(123_450, "EUR", "en") == "€1,234.50"
    assert format_money(123_450, "USD", "en_US") == "$1,234.50"


@pytest.mark.parametrize("locale", ["xx_YY", "../../etc", "", "not a locale"])
def test_unknown_locale_falls_back_to_english(locale):
    assert format_money(500, "EUR", locale) == "€5.00"
    assert build_reminder_context(facts(locale=locale))["locale"] == "en"


def test_bad_currency_code_is_refused():
    with pytest.raises(ValueError, match="ISO 4217"):
        money_from_minor(100, "euro")


def test_single_invoice_context_has_what_templates_use():
    context = build_reminder_context(
        facts(line(due=50_000, total=80_000, pay="https://pay.example/1"))
    )
    invoice = context["invoice"]
    assert invoice == context["invoices"][0]
    assert invoice["amount_due"] == "€500.00"
    assert invoice["amount_total"] == "€800.00"
    assert invoice["due_on"] == "March 1, 2025"
    assert invoice["days_overdue"] == 10
    assert invoice["days_until_due"] == -10
    assert context["count"] == 1
    assert context["total_due"] == "€500.00"
    assert context["links"] == {
        "reply": "https://app.example/p/t/message",
        "unsubscribe": "https://app.example/p/t/unsubscribe",
        "pay": "https://pay.example/1",
    }
    assert context["one_pay_link"] is True
    assert context["today"] == "March 11, 2025"
    assert context["sender_name"] == "The accounts team at Northwind Joinery Ltd"
    assert context["organisation"] == {"name": "Northwind Joinery Ltd"}
    assert context["customer"] == {"name": "Harbour & Finch"}
    assert context["step"] == {"key": "overdue_10", "tone": "gentle"}


def test_upcoming_invoice_has_negative_days_overdue():
    context = build_reminder_context(facts(line(due_on=date(2025, 3, 14))))
    assert context["invoice"]["days_overdue"] == -3
    assert context["invoice"]["days_until_due"] == 3


def test_consolidated_invoices_are_listed_oldest_first_and_summed_per_currency():
    context = build_reminder_context(
        facts(
            line("INV-2", "EUR", 10_000, due_on=date(2025, 2, 20), pay="https://pay.example/2"),
            line("INV-1", "EUR", 2_550, due_on=date(2025, 2, 1), pay="https://pay.example/1"),
        )
    )
    assert [item["number"] for item in context["invoices"]] == ["INV-1", "INV-2"]
    assert context["invoice"]["number"] == "INV-1"
    assert context["links"]["pay"] == "https://pay.example/1"
    assert context["total_due"] == "€125.50"
    assert context["totals"] == ["€125.50"]
    assert context["mixed_currencies"] is False
    assert context["one_pay_link"] is False
    assert context["days_overdue"] == 38


def test_mixed_currencies_are_never_added_together():
    context = build_reminder_context(
        facts(line("A", "EUR", 10_000), line("B", "USD", 5_000), line("C", "EUR", 1_000)),
    )
    assert context["totals"] == ["€110.00", "$50.00"]
    assert context["total_due"] == "€110.00 + $50.00"
    assert context["mixed_currencies"] is True


@pytest.mark.parametrize(
    "colour", ["red", "#12345", "#2f5d8a;background:url(https://x)", "</style>", ""]
)
def test_brand_colour_that_is_not_plain_hex_falls_back(colour):
    assert (
        build_reminder_context(facts(brand_colour=colour))["brand_colour"] == DEFAULT_BRAND_COLOUR
    )


def test_light_brand_colour_gets_dark_button_text():
    dark = build_reminder_context(facts(brand_colour="#1A1A80"))
    light = build_reminder_context(facts(brand_colour="#ffe066"))
    assert (dark["brand_colour"], dark["brand_text_colour"]) == ("#1a1a80", "#ffffff")
    assert light["brand_text_colour"] == "#1a1a1a"
    assert light["link_colour"] == "#1a1a1a"


def test_a_reminder_without_invoices_is_refused():
    with pytest.raises(ValueError):
        build_reminder_context(facts(invoices=()))
