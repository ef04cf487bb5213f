"""The timeline: every action on an invoice or customer, appended as an event."""
