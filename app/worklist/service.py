"""Adding items to the worklist, ranking the open ones, assigning and resolving them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TypeVar

from sqlalchemy import func
from sqlmodel import Session, col, select

from app import money
from app.customers.models import Customer
from app.errors import NotFound, Unprocessable
from app.invoices.models import Invoice
from app.promises.models import PaymentPlan, Promise
from app.timeline.service import record_event
from app.users.models import User
from app.worklist.models import WorklistItem
from app.worklist.priority import URGENT_KINDS, priority_score


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


@dataclass(frozen=True)
class RankedItem:
    """An open item with what the worklist page shows beside it."""

    item: WorklistItem
    score: float
    customer: Customer | None
    invoice: Invoice | None
    # What is owed: the invoice's balance, or every open invoice of the customer, per currency.
    amounts_due: dict[str, int]
    days_overdue: int
    assignee: str | None


def get_item(session: Session, *, organisation_id: int, item_id: int) -> WorklistItem:
    item = session.get(WorklistItem, item_id)
    if item is None or item.organisation_id != organisation_id:
        raise NotFound("no such worklist item")
    return item


def open_kinds(session: Session, *, organisation_id: int) -> list[str]:
    statement = select(WorklistItem.kind).where(
        WorklistItem.organisation_id == organisation_id, col(WorklistItem.resolved_at).is_(None)
    )
    return sorted(set(session.exec(statement).all()))


def ranked_open_items(
    session: Session,
    *,
    organisation_id: int,
    today: date,
    assigned_to: int | None = None,
    unassigned: bool = False,
    kind: str | None = None,
) -> list[RankedItem]:
    """Open items, most urgent first (see app.worklist.priority), ties oldest first."""
    statement = select(WorklistItem).where(
        WorklistItem.organisation_id == organisation_id, col(WorklistItem.resolved_at).is_(None)
    )
    if assigned_to is not None:
        statement = statement.where(WorklistItem.assigned_to == assigned_to)
    if unassigned:
        statement = statement.where(col(WorklistItem.assigned_to).is_(None))
    if kind:
        statement = statement.where(WorklistItem.kind == kind)
    items = list(session.exec(statement).all())
    invoice_ids = {i.invoice_id for i in items if i.invoice_id is not None}
    invoices = _by_id(session, Invoice, invoice_ids, organisation_id)
    customer_ids = {i.customer_id for i in items if i.customer_id is not None}
    customer_ids |= {invoice.customer_id for invoice in invoices.values()}
    customers = _by_id(session, Customer, customer_ids, organisation_id)
    users = _by_id(session, User, {i.assigned_to for i in items if i.assigned_to}, organisation_id)
    kept = _kept_promises(session, customer_ids)
    open_by_customer = _open_invoices_by_customer(session, customer_ids, organisation_id)
    ranked = []
    for item in items:
        invoice = invoices.get(item.invoice_id or 0)
        customer = customers.get(item.customer_id or (invoice.customer_id if invoice else 0))
        if invoice is not None:
            owed = [invoice] if invoice.status == "open" else []
        else:
            owed = open_by_customer.get(customer.id or 0, []) if customer else []
        amounts: dict[str, int] = {}
        for owing in owed:
            amounts[owing.currency] = amounts.get(owing.currency, 0) + owing.amount_due_minor
        days = max([(today - owing.due_on).days for owing in owed], default=0)
        score = priority_score(
            amount_due=float(sum(money.from_minor(m, c) for c, m in amounts.items())),
            days_overdue=days,
            kept_promises=kept.get(customer.id or 0, 0) if customer else 0,
            broken_promises=customer.broken_promises if customer else 0,
            urgent=item.kind in URGENT_KINDS,
        )
        assignee = users.get(item.assigned_to or 0)
        ranked.append(
            RankedItem(
                item=item,
                score=score,
                customer=customer,
                invoice=invoice,
                amounts_due=amounts,
                days_overdue=max(days, 0),
                assignee=assignee.email if assignee else None,
            )
        )
    ranked.sort(key=lambda row: (-row.score, row.item.created_at, row.item.id or 0))
    return ranked


_Row = TypeVar("_Row", Customer, Invoice, User)


def _by_id(
    session: Session, table: type[_Row], ids: set[int], organisation_id: int
) -> dict[int, _Row]:
    if not ids:
        return {}
    statement = select(table).where(
        col(table.id).in_(ids), col(table.organisation_id) == organisation_id
    )
    return {row.id: row for row in session.exec(statement).all() if row.id is not None}


def _kept_promises(session: Session, customer_ids: set[int]) -> dict[int, int]:
    """Promises kept plus payment plans completed, per customer."""
    counts: dict[int, int] = {}
    for table, status in ((Promise, "kept"), (PaymentPlan, "completed")):
        statement = (
            select(col(table.customer_id), func.count())
            .where(col(table.customer_id).in_(customer_ids), table.status == status)
            .group_by(col(table.customer_id))
        )
        for customer_id, count in session.exec(statement).all():
            counts[customer_id] = counts.get(customer_id, 0) + int(count)
    return counts


def _open_invoices_by_customer(
    session: Session, customer_ids: set[int], organisation_id: int
) -> dict[int, list[Invoice]]:
    statement = select(Invoice).where(
        col(Invoice.customer_id).in_(customer_ids),
        Invoice.organisation_id == organisation_id,
        Invoice.status == "open",
    )
    found: dict[int, list[Invoice]] = {}
    for invoice in session.exec(statement).all():
        found.setdefault(invoice.customer_id, []).append(invoice)
    return found


def assign_item(
    session: Session, *, item: WorklistItem, user_id: int | None, organisation_id: int
) -> User | None:
    """Give the item to one of the organisation's users, or to nobody (user_id None)."""
    if item.resolved_at is not None:
        raise Unprocessable("this item is already resolved", field="user")
    user = None
    if user_id is not None:
        user = session.get(User, user_id)
        if user is None or user.organisation_id != organisation_id:
            raise Unprocessable("choose one of your organisation's users", field="user")
    item.assigned_to = user_id
    session.add(item)
    return user


def resolve_item(
    session: Session, *, item: WorklistItem, resolution: str, now: datetime, actor: str
) -> None:
    """Close the item with a note; the note also goes on the invoice's or customer's timeline."""
    if item.resolved_at is not None:
        raise Unprocessable("this item is already resolved", field="resolution")
    if not resolution.strip():
        raise Unprocessable("say how it was resolved", field="resolution")
    item.resolved_at, item.resolution = now, resolution[:2000]
    item.resolved_by = actor.removeprefix("admin:")[:320]
    session.add(item)
    record_event(
        session,
        organisation_id=item.organisation_id,
        invoice_id=item.invoice_id,
        customer_id=item.customer_id,
        kind="worklist.resolved",
        at=now,
        actor=actor,
        data={"item": item.kind, "reason": item.reason, "resolution": item.resolution},
    )


def resolve_invoice_items(
    session: Session, *, invoice: Invoice, kind: str, resolution: str, now: datetime, actor: str
) -> int:
    """Close the invoice's open items of one kind, e.g. its dispute once the dispute is settled."""
    statement = select(WorklistItem).where(
        WorklistItem.invoice_id == invoice.id,
        WorklistItem.kind == kind,
        col(WorklistItem.resolved_at).is_(None),
    )
    items = list(session.exec(statement).all())
    for item in items:
        resolve_item(session, item=item, resolution=resolution, now=now, actor=actor)
    return len(items)
