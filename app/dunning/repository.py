"""Every query the dunning pass makes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, text, update
from sqlmodel import Session, col, select

from app.customers.models import Contact
from app.db import is_postgres
from app.dunning.models import SendLog
from app.invoices.models import Invoice


def due_customer_ids(session: Session, *, now: datetime, limit: int) -> list[int]:
    """Customers with an invoice due, oldest first; served by the next_action_at index."""
    oldest = func.min(Invoice.next_action_at)
    statement = (
        select(Invoice.customer_id, oldest)
        .where(col(Invoice.next_action_at).is_not(None), col(Invoice.next_action_at) <= now)
        .group_by(col(Invoice.customer_id))
        .order_by(oldest)
        .limit(limit)
    )
    return [row[0] for row in session.exec(statement).all()]


def claim_customer(session: Session, customer_id: int) -> bool:
    """On PostgreSQL, hold the customer for this transaction unless another worker has it.

    NO KEY UPDATE: inserting an event that references the customer (a payment does) only
    needs KEY SHARE, so a payment never deadlocks with the pass over this lock."""
    if not is_postgres(session):
        return True  # one sending process on SQLite; its write lock serialises the rest
    row = session.execute(
        text("SELECT id FROM customer WHERE id = :id FOR NO KEY UPDATE SKIP LOCKED"),
        {"id": customer_id},
    ).first()
    return row is not None


def due_invoices_of(session: Session, *, customer_id: int, now: datetime) -> list[Invoice]:
    statement = (
        select(Invoice)
        .where(
            Invoice.customer_id == customer_id,
            col(Invoice.next_action_at).is_not(None),
            col(Invoice.next_action_at) <= now,
        )
        .order_by(col(Invoice.due_on), col(Invoice.id))
    )
    return list(session.exec(statement).all())


def deliverable_contacts(session: Session, customer_id: int) -> list[Contact]:
    statement = (
        select(Contact)
        .where(
            Contact.customer_id == customer_id,
            col(Contact.active).is_(True),
            col(Contact.bounced_at).is_(None),
            col(Contact.opted_out_at).is_(None),
        )
        .order_by(col(Contact.id))
    )
    return list(session.exec(statement).all())


def emailed_since(session: Session, *, customer_id: int, since: datetime) -> bool:
    statement = select(SendLog.id).where(
        SendLog.customer_id == customer_id,
        col(SendLog.status).in_(("sending", "sent", "in_doubt")),
        col(SendLog.at) >= since,
    )
    return session.exec(statement.limit(1)).first() is not None


def send_log_row(session: Session, *, invoice_id: int, step: str) -> SendLog | None:
    return session.exec(
        select(SendLog).where(SendLog.invoice_id == invoice_id, SendLog.step == step)
    ).first()


def supersede_retries(session: Session, *, invoice_id: int, except_step: str) -> None:
    session.execute(
        update(SendLog)
        .where(
            col(SendLog.invoice_id) == invoice_id,
            col(SendLog.status) == "retry",
            col(SendLog.step) != except_step,
        )
        .values(status="superseded")
        .execution_options(synchronize_session=False)
    )


def rows_for_message(session: Session, message_id: str) -> list[SendLog]:
    statement = select(SendLog).where(SendLog.message_id == message_id).order_by(col(SendLog.id))
    return list(session.exec(statement).all())


def earlier_message_ids(session: Session, *, invoice_ids: list[int], current: str) -> list[str]:
    """Message-IDs already sent for these invoices, oldest first, for In-Reply-To/References."""
    statement = (
        select(SendLog.message_id, func.min(SendLog.id))
        .where(
            col(SendLog.invoice_id).in_(invoice_ids),
            col(SendLog.status).in_(("sent", "in_doubt")),
            col(SendLog.message_id).is_not(None),
            col(SendLog.message_id) != current,
        )
        .group_by(col(SendLog.message_id))
        .order_by(func.min(SendLog.id))
    )
    return [row[0] for row in session.exec(statement).all() if row[0]]


def stale_sending_rows(session: Session, *, logged_before: datetime) -> list[SendLog]:
    statement = select(SendLog).where(
        SendLog.status == "sending", col(SendLog.logged_at) < logged_before
    )
    return list(session.exec(statement).all())
