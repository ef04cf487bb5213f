"""Reminder email: context, sandboxed rendering, MIME composition and transports."""
