"""Disputes: a customer says an invoice is wrong; reminders wait for a person to resolve it."""
