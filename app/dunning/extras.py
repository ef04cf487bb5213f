"""What the special emails say beyond a reminder: the agreed plan, the missed promise.

Values are formatted here for the customer's locale, then handed to the templates as-is.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from babel.dates import format_date
from sqlmodel import Session, col, select

from app.invoices.models import Invoice
from app.mail.context import format_money, normalise_locale
from app.planning.instalments import instalment_step
from app.planning.policy import Step
from app.promises.models import Instalment, Promise


def format_day(day: date, locale: str) -> str:
    return format_date(day, format="long", locale=normalise_locale(locale))


def plan_extra(instalments: list[dict[str, Any]], currency: str, locale: str) -> dict[str, Any]:
    """`plan` for templates, from rows of {number, due_on (ISO date), amount_minor}."""
    rows = [
        {
            "number": int(row["number"]),
            "amount": format_money(int(row["amount_minor"]), currency, locale),
            "due_on": format_day(date.fromisoformat(str(row["due_on"])), locale),
        }
        for row in instalments
    ]
    total = sum(int(row["amount_minor"]) for row in instalments)
    return {"instalments": rows, "count": len(rows), "total": format_money(total, currency, locale)}


def special_template(
    session: Session, invoice: Invoice, step: Step, locale: str
) -> tuple[str, dict[str, Any]] | None:
    """(template, extra) when this send is not a plain ladder step, else None."""
    parsed = instalment_step(step.key)
    if parsed is not None:
        plan_id, number, kind = parsed
        instalments = session.exec(
            select(Instalment).where(Instalment.plan_id == plan_id).order_by(col(Instalment.number))
        ).all()
        rows = [
            {"number": i.number, "due_on": i.due_on.isoformat(), "amount_minor": i.amount_minor}
            for i in instalments
        ]
        plan = plan_extra(rows, invoice.currency, locale)
        current = next(i for i in instalments if i.number == number)
        instalment = {
            "number": number,
            "count": len(rows),
            "amount": format_money(current.outstanding_minor, invoice.currency, locale),
            "due_on": format_day(current.due_on, locale),
        }
        return f"instalment_{kind}", {"plan": plan, "instalment": instalment}
    if invoice.followup == "promise_broken":
        promise = session.exec(
            select(Promise)
            .where(Promise.invoice_id == invoice.id, Promise.status == "broken")
            .order_by(col(Promise.id).desc())
        ).first()
        if promise is not None:
            extra = {
                "amount": format_money(promise.amount_minor, invoice.currency, locale),
                "date": format_day(promise.promised_on, locale),
            }
        else:  # a missed plan instalment: the event holds what was agreed
            extra = _missed_instalment(session, invoice, locale)
        return "promise_broken", {"promise": extra}
    return None


def _missed_instalment(session: Session, invoice: Invoice, locale: str) -> dict[str, str]:
    from app.promises.models import PaymentPlan

    plan = session.exec(
        select(PaymentPlan)
        .where(PaymentPlan.invoice_id == invoice.id, PaymentPlan.status == "broken")
        .order_by(col(PaymentPlan.id).desc())
    ).first()
    missed = None
    if plan is not None:
        missed = session.exec(
            select(Instalment)
            .where(Instalment.plan_id == plan.id, Instalment.paid_minor < Instalment.amount_minor)
            .order_by(col(Instalment.number))
        ).first()
    if missed is None:
        return {
            "amount": format_money(invoice.amount_due_minor, invoice.currency, locale),
            "date": format_day(invoice.due_on, locale),
        }
    return {
        "amount": format_money(missed.outstanding_minor, invoice.currency, locale),
        "date": format_day(missed.due_on, locale),
    }
