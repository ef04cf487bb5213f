"""Reading the portal's form fields: each bad field gets a sentence a customer understands."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from app import money, validation


class FormErrors(Exception):
    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class Form:
    """Collects every error of a form before refusing it, so the customer fixes all at once."""

    def __init__(self, data: Mapping[str, Any]):
        self.data = {k: v for k, v in data.items() if isinstance(v, str)}
        self.errors: dict[str, str] = {}

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
        value = self.data.get(name, "").strip().replace(",", "")
        if not value and not required:
            return None
        try:
            minor = money.to_minor(value, currency)
            if minor <= 0:
                raise ValueError
            return minor
        except ValueError:
            self.errors[name] = "Please enter an amount, for example 250.00."
            return None

    def number(self, name: str, *, low: int, high: int) -> int | None:
        value = self.data.get(name, "").strip()
        if value.isdigit() and low <= int(value) <= high:
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
