"""Delivering outgoing webhooks that are due, from the database."""

from __future__ import annotations

from app.runtime import Runtime


async def deliver_due_webhooks(runtime: Runtime) -> int:
    """Send what is due now; returns how many deliveries were attempted."""
    return 0
