"""Payments and invoice updates that land while the pass is deciding or sending."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

import app.dunning.service as dunning_service
from app.db import session_scope
from app.dunning.delivery import deliver
from app.dunning.service import LoggedSend, _log_due_sends, run_dunning_pass
from app.invoices.service import get_invoice
from app.runtime import Runtime
from app.settings import Settings
from tests.conftest import CUSTOMER, Api, Inbox, invoice_body

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 11, 26, 11, 0, tzinfo=LONDON)


def _pay_while_planning(monkeypatch: pytest.MonkeyPatch, api: Api) -> dict[str, Any]:
    """Start a payment from another connection the moment the pass starts planning."""
    started: dict[str, Any] = {}
    original = dunning_service.InvoicePlan

    class PlanThatLetsAPaymentIn(original):  # type: ignore[misc, valid-type]
        def next_action(self, now: datetime) -> Any:
            if "thread" not in started:

                def pay() -> None:
                    started["status"] = api.post(
                        "/invoices/i0/payments", {"external_id": "p1", "amount": "1250.00"}
                    ).status_code

                started["thread"] = threading.Thread(target=pay)
                started["thread"].start()
                time.sleep(0.5)  # the payment is now waiting for (or holding) its locks
            return super().next_action(now)

    monkeypatch.setattr(dunning_service, "InvoicePlan", PlanThatLetsAPaymentIn)
    return started


def _kinds(api: Api) -> list[str]:
    return [e["kind"] for e in api.get("/invoices/i0/timeline").json()]


def test_a_payment_while_the_pass_plans_waits_and_is_kept(
    api: Api, inbox: Inbox, db: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.set_clock(NOW)
    api.put("/customers/bakery", CUSTOMER)
    api.put("/invoices/i0", invoice_body(due_on="2026-11-26"))
    started = _pay_while_planning(monkeypatch, api)
    asyncio.run(run_dunning_pass(Runtime(settings=settings, engine=db).pass_context()))
    started["thread"].join(60)
    assert started["status"] == 201  # never a deadlock, never lost
    kinds = _kinds(api)
    # Either the reminder left before the payment was committed, or it was cancelled.
    if "reminder.sent" in kinds:
        assert kinds.index("reminder.sent") < kinds.index("payment.received")
    assert kinds.count("reminder.sent") <= 1
    # What arrived is the reminder (if it left first) and the thank-you for paying.
    assert len(inbox.mails) == kinds.count("reminder.sent") + kinds.count("notice.sent")
    assert api.get("/invoices/i0").json()["status"] == "paid"


def test_an_invoice_paid_while_the_pass_plans_is_not_escalated_afterwards(
    api: Api, inbox: Inbox, db: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.set_clock(datetime(2027, 2, 26, 11, 0, tzinfo=LONDON))
    api.put("/customers/bakery", CUSTOMER)
    api.put("/invoices/i0", invoice_body(due_on="2026-11-20"))
    started = _pay_while_planning(monkeypatch, api)
    asyncio.run(run_dunning_pass(Runtime(settings=settings, engine=db).pass_context()))
    started["thread"].join(60)
    assert started["status"] == 201
    kinds = _kinds(api)
    # Serialised: escalated first (it was unpaid then), and the payment recorded after it.
    assert kinds[-3:] == ["invoice.escalated", "payment.received", "invoice.paid"]


def _log_then(api: Api, db: Engine, settings: Settings, change: Any) -> tuple[list[str], Inbox]:
    context = Runtime(settings=settings, engine=db).pass_context()
    with session_scope(db) as session:
        invoice = get_invoice(session, organisation_id=1, external_id="i0")
        logged = _log_due_sends(session, context, invoice.customer_id, NOW)
    assert isinstance(logged, LoggedSend)
    change()

    async def send() -> list[str]:
        async with context.transport:
            return [outcome.result for outcome in await deliver(context, logged, NOW)]

    return asyncio.run(send()), context  # type: ignore[return-value]


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(
            lambda api: api.post("/invoices/i0/pause", {"reason": "on the phone"}), id="pause"
        ),
        pytest.param(
            lambda api: api.put("/invoices/i0", invoice_body(status="void", due_on="2026-11-26")),
            id="void",
        ),
        pytest.param(
            lambda api: api.put("/invoices/i0", invoice_body(due_on="2027-01-26")),
            id="due-date-moved",
        ),
    ],
)
def test_a_change_after_the_send_was_logged_cancels_it(
    api: Api, inbox: Inbox, db: Engine, settings: Settings, change: Any
) -> None:
    api.set_clock(NOW)
    api.put("/customers/bakery", CUSTOMER)
    api.put("/invoices/i0", invoice_body(due_on="2026-11-26"))
    results, _ = _log_then(api, db, settings, lambda: change(api))
    assert results == ["cancelled"]
    assert inbox.mails == []
    assert "reminder.sent" not in _kinds(api)
