"""A finance person in Chromium: works a customer's dispute, reads the dashboard and an invoice."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from playwright.sync_api import expect
from sqlalchemy import Engine

from tests.browser.conftest import LiveServer, eventually, screenshot
from tests.browser.test_admin_browser import sign_in
from tests.conftest import CUSTOMER, Inbox, invoice_body
from tests.portal_helpers import LONDON, THURSDAY_11

RESOLUTION = "Credit note CN-77 for the 10 loaves they did not order; the rest is due."


def test_a_dispute_from_the_portal_is_worked_from_the_worklist(
    live: LiveServer, db: Engine, inbox: Inbox, page: Any
) -> None:
    api = live.api
    api.set_clock(THURSDAY_11)
    api.put("/customers/bakery", CUSTOMER)
    assert api.put("/invoices/inv-1001", invoice_body(due_on="2026-11-20")).is_success
    api.run_scheduler()
    assert eventually(lambda: inbox.mails)
    page.set_content(inbox.mails[-1].message.get_body(("html",)).get_content())
    reply = page.get_by_role("link", name="let us know").get_attribute("href")
    assert reply and reply.startswith(live.base_url + "/p/")

    page.goto(reply)  # the customer, in the portal
    page.get_by_text("Something is wrong with this invoice").click()
    page.get_by_label("The amount is wrong").check()
    page.get_by_label("Tell us more").fill("We ordered 40 loaves, not 50.")
    page.get_by_role("button", name="Send to the accounts team").click()
    expect(page.get_by_role("heading", name="Thank you for telling us")).to_be_visible()
    assert api.get("/invoices/inv-1001").json()["reminders"]["state"] == "disputed"

    sign_in(page, live, db, "/admin/worklist")  # finance, at the office
    item = page.get_by_role("row").filter(has=page.get_by_text("Dispute", exact=True))
    expect(item).to_have_count(1)
    expect(item).to_contain_text("The amount is wrong. We ordered 40 loaves, not 50.")
    expect(item).to_contain_text("Harbour Street Bakery")
    item.get_by_role("link", name="INV-1001").click()

    expect(
        page.get_by_role("heading", name="Invoice INV-1001 · Harbour Street Bakery")
    ).to_be_visible()
    expect(page.get_by_role("heading", name="Open dispute: The amount is wrong")).to_be_visible()
    expect(
        page.get_by_text("No reminder is planned while the invoice is disputed.")
    ).to_be_visible()
    page.get_by_label("How was it resolved?").fill(RESOLUTION)
    page.get_by_role("button", name="Resolve the dispute and resume reminders").click()
    expect(page.get_by_role("status")).to_have_text("Dispute resolved; reminders resumed.")
    expect(page.get_by_role("heading", name=re.compile("Open dispute"))).to_have_count(0)
    schedule = page.get_by_role("table", name="Planned schedule")
    expect(schedule).to_contain_text("overdue_10")
    timeline = page.get_by_role("listitem").filter(has_text="dispute.resolved")
    expect(timeline).to_contain_text(f"Dispute (the amount is wrong) resolved: {RESOLUTION}")
    assert api.get("/invoices/inv-1001").json()["reminders"]["state"] == "active"
    kinds = [e["kind"] for e in api.get("/invoices/inv-1001/timeline").json()]
    assert kinds.index("dispute.opened") < kinds.index("dispute.resolved")

    page.get_by_role("link", name="Worklist").click()
    expect(page.get_by_role("heading", name="Worklist")).to_be_visible()
    expect(
        page.get_by_role("row").filter(has=page.get_by_text("Dispute", exact=True))
    ).to_have_count(0)


def _euros(number: str, amount: str, issued: str, due: str, customer: str) -> dict[str, str]:
    return invoice_body(
        customer=customer,
        number=number,
        currency="EUR",
        amount_total=amount,
        issued_on=issued,
        due_on=due,
        payment_url=f"https://pay.example.test/{number}",
    )


def _story(live: LiveServer, inbox: Inbox) -> None:
    """Invoices of every age, two reminders sent, a payment in full and one in part."""
    api = live.api
    api.set_clock(THURSDAY_11)
    for slug, name, email in (
        ("bakery", "Harbour Street Bakery", "accounts@harbour-bakery.test"),
        ("cafe", "Corner Cafe", "till@corner-cafe.test"),
        ("deli", "Market Deli", "orders@market-deli.test"),
    ):
        api.put(f"/customers/{slug}", {**CUSTOMER, "name": name, "email": email, "cc": []})
    api.put("/invoices/inv-1", _euros("A-1", "1000.00", "2026-10-01", "2026-11-20", "bakery"))
    api.put("/invoices/inv-2", _euros("A-2", "400.00", "2026-09-01", "2026-10-20", "cafe"))
    api.put("/invoices/inv-3", _euros("A-3", "250.00", "2026-11-10", "2026-12-20", "deli"))
    api.put("/invoices/inv-4", _euros("A-4", "600.00", "2026-07-01", "2026-08-01", "deli"))
    api.put("/invoices/inv-5", _euros("A-5", "320.00", "2026-10-15", "2026-11-14", "cafe"))
    outcomes = {o["invoice"]: (o["step"], o["result"]) for o in api.run_scheduler()["outcomes"]}
    assert outcomes == {
        "inv-1": ("overdue_3", "sent"),
        "inv-2": ("overdue_31", "sent"),
        "inv-5": ("overdue_10", "sent"),  # in one email with inv-2
        "inv-4": ("escalate", "escalated"),
    }
    assert eventually(lambda: len(inbox.mails) == 2)
    api.set_clock(datetime(2026, 11, 27, 10, 0, tzinfo=LONDON))
    for invoice, payment, amount in (("inv-5", "p1", "320.00"), ("inv-1", "p2", "350.00")):
        paid = api.post(f"/invoices/{invoice}/payments", {"external_id": payment, "amount": amount})
        assert paid.is_success, paid.text


def test_the_dashboard_and_an_invoice_story_are_readable(
    live: LiveServer, db: Engine, inbox: Inbox, page: Any
) -> None:
    _story(live, inbox)
    sign_in(page, live, db, "/admin/dashboard")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    receivables = page.get_by_role("region", name="Receivables", exact=True)
    expect(receivables).to_contain_text("€1,900.00")  # 650 + 400 + 250 + 600 still due
    ageing = page.get_by_role("img", name=re.compile("Amount due by age, EUR"))
    expect(ageing).to_be_visible()
    expect(ageing).to_contain_text("Over 90 days overdue")
    expect(page.get_by_role("img", name=re.compile("paid within 7 days", re.I))).to_be_visible()
    activity = page.get_by_role("region", name="Activity", exact=True)
    expect(activity).to_contain_text(re.compile(r"Reminders sent\s*3\b"))  # one per invoice
    expect(ageing).to_contain_text("€400.00")  # A-2, 38 days late
    screenshot(page, "admin-dashboard")

    page.get_by_role("link", name="Invoices").click()
    page.get_by_role("link", name="A-1", exact=True).click()
    expect(page.get_by_role("heading", name="Invoice A-1 · Harbour Street Bakery")).to_be_visible()
    page.get_by_label("Note for the timeline").fill("Rang the bakery: the rest comes on Friday.")
    page.get_by_role("button", name="Add note").click()
    expect(page.get_by_role("status")).to_be_visible()
    timeline = page.get_by_role("list").filter(has_text="invoice.created")
    for kind in ("invoice.created", "reminder.sent", "payment.received", "note.added"):
        expect(timeline).to_contain_text(kind)
    expect(timeline).to_contain_text("Rang the bakery: the rest comes on Friday.")
    expect(page.get_by_role("main")).to_contain_text(re.compile(r"Amount due\s*€650\.00"))
    screenshot(page, "admin-invoice")

    page.get_by_role("link", name="Read the email as it was sent").first.click()
    expect(
        page.get_by_role("heading", name=re.compile("Invoice A-1 from Northwind"))
    ).to_be_visible()
    expect(page.get_by_role("region", name="Text version")).to_contain_text("A-1")
