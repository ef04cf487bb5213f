"""Queueing a notice: it is sent by the next notices run, never inside a request."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from app.invoices.models import Invoice
from app.notices.models import NOTICE_KINDS, Notice


def queue_notice(
    session: Session, invoice: Invoice, kind: str, data: dict[str, Any], *, now: datetime
) -> Notice:
    if kind not in NOTICE_KINDS:
        raise ValueError(f"unknown notice kind {kind!r}")
    assert invoice.id is not None
    notice = Notice(
        organisation_id=invoice.organisation_id,
        customer_id=invoice.customer_id,
        invoice_id=invoice.id,
        kind=kind,
        data=data,
        not_before=now,
        created_at=now,
    )
    session.add(notice)
    session.flush()
    return notice
