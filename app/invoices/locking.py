"""Serialising writers of one invoice: payments, pauses and the sender.

An UPDATE takes the row lock on PostgreSQL and the database write lock on SQLite, so
whoever gets here second waits until the first commits, then reads fresh data.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import Session, col

from app.errors import NotFound
from app.invoices.models import Invoice


def lock_invoices(session: Session, invoice_ids: list[int]) -> list[Invoice]:
    """Lock the rows in id order (no deadlocks between two lockers) and return them fresh."""
    ids = sorted(set(invoice_ids))
    if not ids:
        return []
    session.execute(
        update(Invoice)
        .where(col(Invoice.id).in_(ids))
        .values(lock_version=Invoice.lock_version + 1)
        .execution_options(synchronize_session=False)
    )
    invoices = []
    for invoice_id in ids:
        invoice = session.get(Invoice, invoice_id, populate_existing=True)
        if invoice is None:
            raise NotFound("invoice not found")
        invoices.append(invoice)
    return invoices


def lock_invoice(session: Session, invoice: Invoice) -> Invoice:
    assert invoice.id is not None
    return lock_invoices(session, [invoice.id])[0]
