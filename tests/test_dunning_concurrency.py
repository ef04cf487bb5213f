"""Several senders, and payments racing sends: nothing twice, nothing after a payment."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from app.db import session_scope
from app.dunning.delivery import deliver
from app.dunning.service import LoggedSend, _log_due_sends, run_dunning_pass
from app.invoices.models import Invoice
from app.invoices.service import get_invoice
from app.payments.schemas import PaymentIn
from app.payments.service import record_payment
from app.runtime import Runtime
from app.settings import Settings
from tests.conftest import CUSTOMER, Api, Inbox, invoice_body

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 11, 26, 11, 0, tzinfo=LONDON)


def _customers_with_due_invoices(api: Api, count: int, per_customer: int = 1) -> None:
    api.set_clock(NOW)
    for index in range(count):
        api.put(f"/customers/c{index}", {**CUSTOMER, "email": f"ap{index}@customer.test", "cc": []})
        for extra in range(per_customer):
            suffix = f"-{extra}" if extra else ""
            api.put(
                f"/invoices/i{index}{suffix}",
                invoice_body(
                    customer=f"c{index}", number=f"INV-{index}{suffix}", due_on="2026-11-26"
                ),
            )


@pytest.mark.postgres_only  # several sending processes are a PostgreSQL deployment
def test_two_workers_on_postgres_never_send_twice(
    api: Api, inbox: Inbox, db: Engine, settings: Settings
) -> None:
    assert db.dialect.name == "postgresql"
    _customers_with_due_invoices(api, 30, per_customer=2)
    results: list[list[str]] = []

    def worker() -> None:
        runtime = Runtime(settings=settings, engine=db)
        report = asyncio.run(run_dunning_pass(runtime.pass_context()))
        results.append([o.invoice for o in report.outcomes if o.result == "sent"])

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    sent = [invoice for batch in results for invoice in batch]
    assert sorted(sent) == sorted([f"i{i}" for i in range(30)] + [f"i{i}-1" for i in range(30)])
    # One email per customer, listing both invoices: no customer written to twice.
    assert sorted(m.recipients[0] for m in inbox.mails) == sorted(
        f"ap{index}@customer.test" for index in range(30)
    )


def test_a_payment_landing_after_the_send_was_logged_cancels_it(
    api: Api, inbox: Inbox, db: Engine, settings: Settings
) -> None:
    _customers_with_due_invoices(api, 1)
    runtime = Runtime(settings=settings, engine=db)
    context = runtime.pass_context()
    with session_scope(db) as session:
        invoice = session.get(Invoice, get_invoice(session, organisation_id=1, external_id="i0").id)
        assert invoice is not None
        logged = _log_due_sends(session, context, invoice.customer_id, NOW)
    assert isinstance(logged, LoggedSend)
    paid = api.post("/invoices/i0/payments", {"external_id": "p1", "amount": "1250.00"})
    assert paid.status_code == 201

    async def send() -> list[str]:
        async with context.transport:
            return [o.result for o in await deliver(context, logged, NOW)]

    assert asyncio.run(send()) == ["cancelled"]
    assert inbox.mails == []
    kinds = [e["kind"] for e in api.get("/invoices/i0/timeline").json()]
    assert "reminder.sent" not in kinds and kinds[-1] == "invoice.paid"


def test_a_payment_during_a_send_waits_until_the_email_is_out(
    api: Api, inbox: Inbox, db: Engine, settings: Settings
) -> None:
    """The send holds the invoice lock through SMTP; the payment commits after it."""
    _customers_with_due_invoices(api, 1)
    accepted_at: list[float] = []
    original = inbox.handle_DATA
    entered = threading.Event()

    async def slow_data(server, session, envelope):  # type: ignore[no-untyped-def]
        entered.set()
        await asyncio.sleep(1.0)
        accepted_at.append(time.monotonic())
        return await original(server, session, envelope)

    inbox.handle_DATA = slow_data  # type: ignore[method-assign]
    try:
        runtime = Runtime(settings=settings, engine=db)
        sender = threading.Thread(target=runtime.run_pass_blocking)
        sender.start()
        assert entered.wait(10)
        with session_scope(db) as session:
            invoice = get_invoice(session, organisation_id=1, external_id="i0")
            record_payment(
                session,
                invoice=invoice,
                data=PaymentIn(external_id="p1", amount="1250.00"),
                now=NOW,
                actor="test",
            )
        committed_at = time.monotonic()
        sender.join(30)
    finally:
        del inbox.handle_DATA
    assert len(inbox.mails) == 1
    assert committed_at >= accepted_at[0]
    kinds = [e["kind"] for e in api.get("/invoices/i0/timeline").json()]
    assert kinds.index("reminder.sent") < kinds.index("payment.received")
