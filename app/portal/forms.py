"""Reading the portal's form fields: each bad field gets a sentence a customer understands."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from babel.numbers import NumberFormatError, format_decimal, parse_decimal

from app import money, validation
from app.mail.context import normalise_locale


class FormErrors(Exception):
    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class Form:
    """Collects every error of a form before refusing it, so the customer fixes all at once."""

    def __init__(self, data: Mapping[str, Any], locale: str = "en"):
        self.data = {k: v for k, v in data.items() if isinstance(v, str)}
        self.errors: dict[str, str] = {}
        self.locale = normalise_locale(locale)

    def text(self, name: str, *, required: bool = True, max_length: int = 5000) -> str:
        value = self.data.get(name, "").strip()
        if required and not value:
            self.errors[name] = "Please fill this in."
        elif len(value) > max_length:
            self.errors[name] = f"Please keep this under {max_length} characters."
        else:
            try:
                return validation.message_text(value)
            except ValueError:
                self.errors[name] = "This contains characters we cannot accept."
        return ""

    def day(self, name: str) -> date | None:
        value = self.data.get(name, "").strip()
        try:
            return validation.calendar_date(date.fromisoformat(value))
        except ValueError:
            self.errors[name] = "Please enter a date, for example 2026-12-10."
            return None

    def amount(self, name: str, currency: str, *, required: bool = True) -> int | None:
        """Read as the customer writes numbers: "250,50" is 250.50 in German, an error in
        English (where the comma groups thousands), never silently 25050."""
        value = self.data.get(name, "").strip()
        if not value and not required:
            return None
        example = format_decimal(Decimal("250.50"), format="#,##0.00", locale=self.locale)
        try:
            if len(value) > 24 or not re.fullmatch(r"[\d.,\s\u00a0\u202f']+", value):
                raise ValueError
            minor = money.to_minor(parse_decimal(value, locale=self.locale, strict=True), currency)
            if not 0 < minor < 10**17:
                raise ValueError
            return minor
        except (ValueError, NumberFormatError, ArithmeticError):
            self.errors[name] = f"Please enter an amount, for example {example}."
            return None

    def number(self, name: str, *, low: int, high: int) -> int | None:
        value = self.data.get(name, "").strip()
        if value.isascii() and value.isdecimal() and low <= int(value) <= high:
            return int(value)
        self.errors[name] = f"Please choose a number from {low} to {high}."
        return None

    def choice(self, name: str, options: Mapping[str, Any] | tuple[str, ...]) -> str:
        value = self.data.get(name, "")
        if value not in options:
            self.errors[name] = "Please choose one of the options."
        return value

    def check(self) -> None:
        if self.errors:
            raise FormErrors(self.errors)
