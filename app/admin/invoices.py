"""Invoices: the filtered list and one invoice's story, schedule and actions."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, or_
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from app.admin.auth import Admin, AdminDep, read_form, runtime_of
from app.admin.invoice_actions import ACTIONS
from app.admin.pages import render
from app.customers.models import Contact, Customer
from app.db import session_scope
from app.disputes.models import DISPUTE_REASONS, Dispute
from app.dunning.plans import InvoicePlan
from app.errors import AppError, NotFound
from app.invoices.models import INVOICE_STATUSES, Invoice
from app.invoices.service import get_invoice, reminder_state
from app.portal.forms import Form, FormErrors
from app.replies.models import Reply
from app.timeline.models import Event

router = APIRouter(prefix="/admin/invoices", include_in_schema=False)

PAGE_SIZE = 50
# The reminder states an admin can filter on; "plan" is a state although the model omits it.
STATE_FILTERS = (
    "active",
    "paused",
    "promised",
    "plan",
    "disputed",
    "escalated",
    "opted_out",
    "unreachable",
)
# Days overdue, inclusive; None is open-ended. Only open invoices are overdue.
AGE_BUCKETS: dict[str, tuple[str, int | None, int | None]] = {
    "current": ("Current (not overdue)", None, 0),
    "1-30": ("1–30 days overdue", 1, 30),
    "31-60": ("31–60 days overdue", 31, 60),
    "61-90": ("61–90 days overdue", 61, 90),
    "90+": ("Over 90 days overdue", 91, None),
}
RESUMABLE = ("paused", "promised", "disputed", "unreachable")


def organisation_today(admin: Admin, now: datetime) -> date:
    return now.astimezone(ZoneInfo(admin.organisation.default_timezone or "UTC")).date()


@router.get("", response_class=HTMLResponse)
def invoice_list(
    request: Request,
    admin: AdminDep,
    status: str = "",
    age: str = "",
    customer: str = "",
    page: str = "1",
) -> HTMLResponse:
    today = organisation_today(admin, runtime_of(request).clock.now())
    number = int(page) if page.isdigit() and int(page) > 0 else 1
    filters = {"status": status, "age": age, "customer": customer.strip()[:200]}
    context: dict[str, Any] = {
        "filters": filters,
        "invoice_statuses": INVOICE_STATUSES,
        "state_filters": STATE_FILTERS,
        "age_buckets": AGE_BUCKETS,
        "today": today,
        "rows": [],
        "total": 0,
        "page": number,
        "pages": 1,
        "error": "",
    }
    if status and status not in INVOICE_STATUSES and status not in STATE_FILTERS:
        context["error"] = f"Unknown status {status!r}: choose one from the list."
    elif age and age not in AGE_BUCKETS:
        context["error"] = f"Unknown age bucket {age!r}: choose one from the list."
    if context["error"]:
        return render(request, admin, "invoices_list.html", status=422, **context)
    statement = (
        select(Invoice, Customer)
        .join(Customer, col(Customer.id) == col(Invoice.customer_id))
        .where(Invoice.organisation_id == admin.organisation_id)
    )
    if status in INVOICE_STATUSES:
        statement = statement.where(Invoice.status == status)
    elif status:
        statement = statement.where(Invoice.status == "open", Invoice.reminder_state == status)
    if age:
        _, low, high = AGE_BUCKETS[age]
        statement = statement.where(Invoice.status == "open")
        if low is not None:
            statement = statement.where(col(Invoice.due_on) <= today - timedelta(days=low))
        if high is not None:
            statement = statement.where(col(Invoice.due_on) >= today - timedelta(days=high))
    if filters["customer"]:
        term = filters["customer"].lower()
        statement = statement.where(
            or_(
                func.lower(Customer.name).contains(term, autoescape=True),
                func.lower(Customer.external_id).contains(term, autoescape=True),
            )
        )
    with session_scope(runtime_of(request).engine) as session:
        total = session.exec(select(func.count()).select_from(statement.subquery())).one()
        ordered = statement.order_by(col(Invoice.due_on), col(Invoice.id))
        rows = session.exec(ordered.offset((number - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all()
    query = {key: value for key, value in filters.items() if value}
    context.update(
        rows=[(invoice, owner, reminder_state(invoice)) for invoice, owner in rows],
        total=total,
        pages=max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
        query=lambda page_number: urlencode({**query, "page": page_number}),
    )
    return render(request, admin, "invoices_list.html", **context)


@router.get("/{external_id}", response_class=HTMLResponse)
def invoice_page(request: Request, admin: AdminDep, external_id: str) -> HTMLResponse:
    return _invoice_page(request, admin, external_id)


def _invoice_page(
    request: Request, admin: Admin, external_id: str, *, status: int = 200, **extra: Any
) -> HTMLResponse:
    runtime = runtime_of(request)
    now = runtime.clock.now()
    with session_scope(runtime.engine) as session:
        try:
            invoice = get_invoice(
                session, organisation_id=admin.organisation_id, external_id=external_id
            )
        except NotFound:
            return render(request, admin, "invoices_not_found.html", status=404)
        story = _story(session, invoice, now)
    context = {"errors": {}, "failed": "", "values": {}, **extra}
    today = organisation_today(admin, now)
    return render(
        request, admin, "invoices_detail.html", status=status, today=today, **story, **context
    )


class _EventData(dict[str, Any]):
    """Event data for the templates: a key an older event lacks reads as empty, not an error."""

    def __missing__(self, key: str) -> str:
        return ""


def _story(session: Session, invoice: Invoice, now: datetime) -> dict[str, Any]:
    plan = InvoicePlan(session, invoice)
    customer = plan.customer
    contacts = session.exec(
        select(Contact)
        .where(
            Contact.customer_id == customer.id, Contact.organisation_id == invoice.organisation_id
        )
        .order_by(col(Contact.role).desc(), col(Contact.id))
    ).all()
    # The invoice's own events, plus the customer's events about no invoice (bounces, opt-outs).
    events = session.exec(
        select(Event)
        .where(
            Event.organisation_id == invoice.organisation_id,
            or_(
                col(Event.invoice_id) == invoice.id,
                (col(Event.invoice_id).is_(None)) & (col(Event.customer_id) == customer.id),
            ),
        )
        .order_by(col(Event.at), col(Event.id))
    ).all()
    reply_ids = [e.data["reply_id"] for e in events if isinstance(e.data.get("reply_id"), int)]
    replies = session.exec(
        select(Reply).where(
            col(Reply.id).in_(reply_ids), Reply.organisation_id == invoice.organisation_id
        )
    ).all()
    disputes = session.exec(
        select(Dispute).where(Dispute.invoice_id == invoice.id, Dispute.status == "open")
    ).all()
    return {
        "invoice": invoice,
        "customer": customer,
        "contacts": contacts,
        "policy_name": plan.policy.name,
        "timezone": str(plan.timezone),
        "schedule": [(a.step, a.send_at.astimezone(plan.timezone)) for a in plan.schedule(now)],
        "state": reminder_state(invoice),
        "events": [(event, _EventData(event.data)) for event in events],
        "replies": {reply.id: reply for reply in replies},
        "disputes": disputes,
        "dispute_reasons": DISPUTE_REASONS,
        "resumable": RESUMABLE,
        "latest_promise": plan.calendar.local_date(now)
        + timedelta(days=plan.policy.promise_max_days),
    }


@router.post("/{external_id}/{action}", response_class=HTMLResponse)
async def invoice_action(
    request: Request, admin: AdminDep, external_id: str, action: str, background: BackgroundTasks
) -> Response:
    fields = await read_form(request, admin)
    if action not in ACTIONS:
        return render(request, admin, "invoices_not_found.html", status=404)
    return await run_in_threadpool(
        _run_action, request, admin, external_id, action, fields, background
    )


def _run_action(
    request: Request,
    admin: Admin,
    external_id: str,
    action: str,
    fields: dict[str, str],
    background: BackgroundTasks,
) -> Response:
    runtime = runtime_of(request)
    try:
        with session_scope(runtime.engine) as session:
            invoice = get_invoice(
                session, organisation_id=admin.organisation_id, external_id=external_id
            )
            done = ACTIONS[action](
                session, invoice, Form(fields), runtime.clock.now(), f"admin:{admin.user.email}"
            )
    except NotFound:
        return render(request, admin, "invoices_not_found.html", status=404)
    except (FormErrors, AppError) as error:
        # The transaction rolled back: nothing was stored. Show the page with the reasons.
        errors = (
            error.errors if isinstance(error, FormErrors) else {error.field or "": error.message}
        )
        values = {k: v for k, v in fields.items() if k != "csrf_token"}
        return _invoice_page(
            request, admin, external_id, status=422, errors=errors, failed=action, values=values
        )
    if action == "promise":
        background.add_task(runtime.send_notices_blocking)  # the customer's written confirmation
    target = f"/admin/invoices/{quote(external_id, safe='')}?{urlencode({'done': done})}"
    return RedirectResponse(target, status_code=303)
