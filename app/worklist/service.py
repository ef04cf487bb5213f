"""Adding items to the worklist."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from app.worklist.models import WorklistItem


def add_item(
    session: Session,
    *,
    organisation_id: int,
    kind: str,
    reason: str,
    at: datetime,
    invoice_id: int | None = None,
    customer_id: int | None = None,
) -> WorklistItem:
    item = WorklistItem(
        organisation_id=organisation_id,
        invoice_id=invoice_id,
        customer_id=customer_id,
        kind=kind,
        reason=reason,
        created_at=at,
    )
    session.add(item)
    session.flush()
    return item
