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
from app.promises.models import Instalment


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
        # What was agreed and missed, as recorded when it broke.
        agreed = invoice.followup_data or {}
        amount = int(agreed.get("amount_minor", invoice.amount_due_minor))
        day = date.fromisoformat(str(agreed.get("date", invoice.due_on.isoformat())))
        extra = {
            "amount": format_money(amount, invoice.currency, locale),
            "date": format_day(day, locale),
        }
        return "promise_broken", {"promise": extra}
    return None
