"""Sending queued notices: logged as `sending` before SMTP, like reminders, so never twice."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from app.customers.models import Contact, Customer
from app.db import session_scope
from app.disputes.models import DISPUTE_REASONS
from app.dunning import repository
from app.dunning.delivery import keep_sent_message
from app.dunning.extras import format_day, plan_extra
from app.dunning.messages import LinkMaker, invoice_line, sender_for
from app.invoices.models import Invoice
from app.mail.compose import compose_reminder, make_message_id
from app.mail.context import ReminderFacts, build_reminder_context, format_money
from app.mail.transport import OutcomeUnknown, PermanentFailure, TemporaryFailure
from app.notices.models import Notice
from app.organisations.models import Organisation
from app.timeline.service import record_invoice_event
from app.worklist.service import add_item

if TYPE_CHECKING:
    from app.dunning.service import PassContext

log = logging.getLogger("politely.notices")
MAX_ATTEMPTS = 8


async def send_pending_notices(context: PassContext, *, limit: int = 200) -> int:
    """Send what is queued; returns how many went out."""
    now = context.clock.now()
    _mark_stale_in_doubt(context, now)
    with session_scope(context.engine) as session:
        ids = session.exec(
            select(Notice.id)
            .where(col(Notice.status).in_(("pending", "retry")), col(Notice.not_before) <= now)
            .order_by(col(Notice.id))
            .limit(limit)
        ).all()
    sent = 0
    for notice_id in ids:
        try:
            sent += await _send_one(context, notice_id, now)
        except Exception:  # one broken notice never blocks the others
            log.exception("notice %s failed", notice_id)
    return sent


async def _send_one(context: PassContext, notice_id: int | None, now: datetime) -> int:
    with session_scope(context.engine) as session:
        notice = session.get(Notice, notice_id)
        organisation = session.get(Organisation, notice.organisation_id) if notice else None
        if notice is None or organisation is None:
            return 0
        message_id = make_message_id(sender_for(organisation, context.settings).domain)
        # Claimed by a conditional UPDATE: of two workers, only one sees a row change.
        claimed = session.execute(
            update(Notice)
            .where(col(Notice.id) == notice_id, col(Notice.status).in_(("pending", "retry")))
            .values(
                status="sending",
                attempts=Notice.attempts + 1,
                message_id=message_id,
                logged_at=datetime.now(UTC),
            )
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return 0
    with session_scope(context.engine) as session:
        notice = session.get(Notice, notice_id)
        assert notice is not None
        invoice = session.get(Invoice, notice.invoice_id)
        customer = session.get(Customer, notice.customer_id)
        organisation = session.get(Organisation, notice.organisation_id)
        assert invoice is not None and customer is not None and organisation is not None
        contacts = _reachable(session, customer)
        if not contacts:
            notice.status, notice.last_error = "failed", "no address that accepts email"
            session.add(notice)
            return 0
        status, error = "sent", None
        try:
            message = _compose(
                context, session, notice, invoice, customer, organisation, contacts, now
            )
            await context.transport.send(message)
            keep_sent_message(session, message, organisation.id or 0, now)
        except TemporaryFailure as failure:
            status, error = "retry", str(failure)
        except (PermanentFailure, ValueError) as failure:
            status, error = "failed", str(failure)
        except OutcomeUnknown as failure:
            status, error = "in_doubt", str(failure)
        if status == "retry" and notice.attempts >= MAX_ATTEMPTS:
            status = "failed"
        notice.status, notice.last_error = status, error
        if status == "retry":
            notice.not_before = now + timedelta(minutes=5 * 2 ** (notice.attempts - 1))
        session.add(notice)
        record_invoice_event(
            session,
            invoice,
            "notice.sent" if status == "sent" else "notice.failed",
            at=now,
            actor="scheduler",
            data={"notice": notice.kind, "message_id": notice.message_id, "error": error},
        )
        return 1 if status == "sent" else 0


def _reachable(session: Session, customer: Customer) -> list[Contact]:
    """A notice answers the customer's own action: it goes even after an opt-out of reminders."""
    statement = select(Contact).where(
        Contact.customer_id == customer.id,
        col(Contact.active).is_(True),
        col(Contact.bounced_at).is_(None),
    )
    return list(session.exec(statement.order_by(col(Contact.id))).all())


def _compose(
    context: PassContext,
    session: Session,
    notice: Notice,
    invoice: Invoice,
    customer: Customer,
    organisation: Organisation,
    contacts: list[Contact],
    now: datetime,
) -> Any:
    from app.dunning.plans import InvoicePlan

    plan = InvoicePlan(session, invoice)
    locale = customer.locale or organisation.default_locale or "en"
    links = LinkMaker(context.settings, organisation, customer)
    unsubscribe = links.url("unsubscribe", None, "/unsubscribe")
    facts = ReminderFacts(
        organisation_name=organisation.name,
        customer_name=customer.name,
        locale=locale,
        step_key=notice.kind,
        tone="friendly",
        invoices=[invoice_line(invoice, links)],
        today=plan.calendar.local_date(now),
        reply_link=links.url("portal", invoice.id),
        unsubscribe_link=unsubscribe,
        brand_colour=organisation.brand_colour,
        extra=notice_extra(notice, invoice, locale, links),
    )
    renderer = context.renderer_for(session, organisation.id or 0)
    rendered = renderer.render(notice.kind, locale, build_reminder_context(facts))
    sender = sender_for(organisation, context.settings)
    references = repository.earlier_message_ids(
        session, invoice_ids=[invoice.id or 0], current=notice.message_id or ""
    )
    main = [c.email for c in contacts if c.role == "to"] or [contacts[0].email]
    assert notice.message_id is not None
    return compose_reminder(
        rendered=rendered,
        from_name=sender.name,
        from_address=sender.address,
        to=main,
        cc=[c.email for c in contacts if c.email not in main],
        reply_to=organisation.reply_to,
        message_id=notice.message_id,
        in_reply_to=references[-1] if references else None,
        references=references,
        unsubscribe_url=unsubscribe,
        sent_at=now,
    )


def notice_extra(notice: Notice, invoice: Invoice, locale: str, links: LinkMaker) -> dict[str, Any]:
    data, currency = notice.data, invoice.currency
    if notice.kind == "promise_confirmed":
        return {
            "promise": {
                "amount": format_money(int(data["amount_minor"]), currency, locale),
                "date": format_day(date.fromisoformat(data["promised_on"]), locale),
                "full": bool(data["full"]),
            }
        }
    if notice.kind == "plan_confirmed":
        return {"plan": plan_extra(data["instalments"], currency, locale)}
    if notice.kind == "dispute_received":
        reason = DISPUTE_REASONS.get(data["reason"], data["reason"])
        return {"dispute": {"reason": reason, "message": data["message"]}}
    if notice.kind == "payment_claim_received":
        return {
            "claim": {
                "paid_on": format_day(date.fromisoformat(data["paid_on"]), locale),
                "amount": format_money(int(data["amount_minor"]), currency, locale),
                "reference": data.get("reference", ""),
            }
        }
    if notice.kind == "thank_you":
        return {
            "rating_links": [
                {"score": score, "url": links.url("rate", invoice.id, f"/rate?score={score}")}
                for score in range(1, 6)
            ]
        }
    raise ValueError(f"unknown notice kind {notice.kind!r}")


def _mark_stale_in_doubt(context: PassContext, now: datetime) -> None:
    """A notice left `sending` by a sender that died may or may not have arrived."""
    lease = timedelta(minutes=context.settings.sending_lease_minutes)
    with session_scope(context.engine) as session:
        stale = session.exec(
            select(Notice).where(
                Notice.status == "sending", col(Notice.logged_at) < datetime.now(UTC) - lease
            )
        ).all()
        for notice in stale:
            notice.status = "in_doubt"
            session.add(notice)
            add_item(
                session,
                organisation_id=notice.organisation_id,
                kind="in_doubt",
                reason=f"A {notice.kind.replace('_', ' ')} email may not have arrived; "
                "check the mail server's log before sending it again.",
                at=now,
                invoice_id=notice.invoice_id,
                customer_id=notice.customer_id,
            )
