"""Politely: invoice reminders that collect the money and keep the customer."""

__version__ = "0.1.0"
