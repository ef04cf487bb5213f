"""Customers and the contacts reminders go to."""
