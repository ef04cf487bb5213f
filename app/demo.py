"""Demo data for `politely serve --demo`: one customer with invoices at several stages."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from app.customers.schemas import CustomerIn
from app.customers.service import upsert_customer
from app.db import get_engine, session_scope
from app.invoices.models import Invoice
from app.invoices.schemas import InvoiceIn
from app.invoices.service import upsert_invoice
from app.organisations.service import create_api_key, ensure_default_organisation
from app.runtime import Runtime
from app.settings import get_settings


def add_demo_data(host: str, port: int) -> None:
    runtime = Runtime(settings=get_settings(), engine=get_engine())
    now = runtime.clock.now()
    with session_scope() as session:
        organisation = ensure_default_organisation(session)
        assert organisation.id is not None
        _, key = create_api_key(session, organisation=organisation, name="demo")
        if session.exec(select(Invoice).where(Invoice.organisation_id == organisation.id)).first():
            print(f"Demo: data already present. A new API key for it: {key}")
            return
        upsert_customer(
            session,
            organisation_id=organisation.id,
            external_id="demo-customer",
            data=CustomerIn(
                name="Harbour Street Bakery",
                email="accounts@harbour-bakery.example",
                locale="en_GB",
                timezone="Europe/London",
                country="GB",
            ),
            now=now,
        )
        today = now.date()
        for number, days, amount in (
            ("INV-1001", 3, "480.00"),
            ("INV-0987", -4, "1250.00"),
            ("INV-0950", -12, "96.40"),
        ):
            upsert_invoice(
                session,
                organisation_id=organisation.id,
                external_id=number.lower(),
                data=InvoiceIn(
                    customer="demo-customer",
                    number=number,
                    currency="GBP",
                    amount_total=amount,
                    issued_on=today - timedelta(days=30 - days),
                    due_on=today + timedelta(days=days),
                    payment_url="https://pay.example/" + number,
                ),
                now=now,
                actor="demo",
            )
    print("Demo: added customer 'demo-customer' with three invoices.")
    print(f"Demo: API key: {key}")
    print(
        f"Demo: try  curl -H 'Authorization: Bearer {key}' "
        f"http://{host}:{port}/api/v1/invoices/inv-0987/schedule"
    )
