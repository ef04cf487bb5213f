"""Promises to pay and payment plans: agreements that hold the reminders while they are kept."""
