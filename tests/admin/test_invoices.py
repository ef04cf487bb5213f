"""The invoice list and an invoice's page: filters, schedule, timeline, and every action."""

from __future__ import annotations

import re
from datetime import datetime
from email.message import EmailMessage
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from app.customers.models import Contact
from app.db import session_scope
from app.disputes.service import open_dispute
from app.invoices.service import get_invoice
from app.organisations.models import Organisation
from tests.admin.conftest import AdminSession
from tests.conftest import CUSTOMER, Api, Inbox, api_key_for, invoice_body
from tests.portal_helpers import THURSDAY_11, kinds

MILL = {
    "name": "Riverside Mill",
    "email": "ap@riverside-mill.test",
    "cc": ["boss@riverside-mill.test"],
    "locale": "en_GB",
    "timezone": "Europe/London",
    "country": "GB",
}
# Today is Thursday 26 November 2026 (the organisation's time zone is UTC).
INVOICES = {
    "inv-1001": ("bakery", "2026-11-20"),  # 6 days overdue
    "inv-2001": ("mill", "2026-12-10"),  # not due yet
    "inv-3001": ("mill", "2026-10-01"),  # 56 days
    "inv-4001": ("bakery", "2026-08-01"),  # 117 days: escalated by the first pass
    "inv-5001": ("mill", "2026-09-20"),  # 67 days, but paid
    "inv-6001": ("mill", "2026-09-10"),  # 77 days
}


def org_id(db: Engine, slug: str = "default") -> int:
    with session_scope(db) as session:
        organisation = session.exec(select(Organisation).where(Organisation.slug == slug)).one()
        assert organisation.id is not None
        return organisation.id


def build_scenario(admin: AdminSession, inbox: Inbox, db: Engine) -> None:
    """Two customers, invoices of every age, reminders sent, a payment, a bounce, a dispute."""
    api = admin.api
    api.set_clock(THURSDAY_11)
    assert api.put("/customers/bakery", CUSTOMER).status_code in (200, 201)
    assert api.put("/customers/mill", MILL).status_code in (200, 201)
    for external_id, (customer, due_on) in INVOICES.items():
        number = external_id.upper()
        body = invoice_body(customer=customer, number=number, due_on=due_on, issued_on="2026-07-01")
        assert api.put(f"/invoices/{external_id}", body).status_code in (200, 201)
    paid = api.post(
        "/invoices/inv-5001/payments",
        {"external_id": "pay-5001", "amount": "1250.00", "paid_at": "2026-11-25T10:00:00Z"},
    )
    assert paid.status_code in (200, 201), paid.text
    inbox.refuse["owner@harbour-bakery.test"] = "550 5.1.1 no such user"
    api.run_scheduler()
    with session_scope(db) as session:
        invoice = get_invoice(session, organisation_id=org_id(db), external_id="inv-3001")
        open_dispute(
            session,
            invoice=invoice,
            reason="wrong_amount",
            message="We were charged twice for the October delivery.",
            now=THURSDAY_11,
            actor="customer",
        )


def acme_api(admin: AdminSession, db: Engine) -> Api:
    acme = Api(client=admin.client, key=api_key_for(db, "acme"), slug="acme")
    acme.put("/customers/bakery", {**CUSTOMER, "name": "Acme Bakery Ltd"})
    for external_id in ("inv-9001", "inv-1001"):
        body = invoice_body(number=f"ACME-{external_id[-4:]}", due_on="2026-11-01")
        assert acme.put(f"/invoices/{external_id}", body).status_code in (200, 201)
    return acme


def numbers_on(page: str) -> set[str]:
    return set(re.findall(r">((?:INV|ACME)-\d{4})</a>", page))


@pytest.fixture
def scenario(admin: AdminSession, inbox: Inbox, db: Engine) -> AdminSession:
    build_scenario(admin, inbox, db)
    acme_api(admin, db)
    return admin


def test_the_list_filters_by_status_age_and_customer(scenario: AdminSession) -> None:
    expectations = {
        "": {"INV-1001", "INV-2001", "INV-3001", "INV-4001", "INV-5001", "INV-6001"},
        "status=paid": {"INV-5001"},
        "status=open": {"INV-1001", "INV-2001", "INV-3001", "INV-4001", "INV-6001"},
        "status=escalated": {"INV-4001"},
        "status=disputed": {"INV-3001"},
        "status=active": {"INV-1001", "INV-2001", "INV-6001"},
        "age=current": {"INV-2001"},
        "age=1-30": {"INV-1001"},
        "age=31-60": {"INV-3001"},
        "age=61-90": {"INV-6001"},  # the paid INV-5001 is not overdue
        "age=90%2B": {"INV-4001"},
        "customer=MILL": {"INV-2001", "INV-3001", "INV-5001", "INV-6001"},
        "customer=harbour": {"INV-1001", "INV-4001"},
        "customer=bak": {"INV-1001", "INV-4001"},  # the external id
        "customer=mill&age=61-90&status=active": {"INV-6001"},
        "customer=nobody": set(),
    }
    for query, expected in expectations.items():
        page = scenario.get(f"/admin/invoices?{query}")
        assert page.status_code == 200, query
        assert numbers_on(page.text) == expected, query
    everything = scenario.get("/admin/invoices").text
    row = everything[everything.index(">INV-1001<") :].split("</tr>")[0]
    assert "Harbour Street Bakery" in row and "£1,250.00" in row
    assert ">6<" in row and "overdue_10" in row  # days overdue, and the next reminder
    assert "Acme Bakery" not in everything and "ACME-" not in everything


def test_an_unknown_filter_value_is_refused(admin: AdminSession) -> None:
    page = admin.get("/admin/invoices?status=lost")
    assert page.status_code == 422 and "Unknown status" in page.text
    page = admin.get("/admin/invoices?age=ancient")
    assert page.status_code == 422 and "Unknown age bucket" in page.text


def test_the_list_pages_fifty_at_a_time(admin: AdminSession) -> None:
    admin.api.set_clock(THURSDAY_11)
    admin.api.put("/customers/bakery", CUSTOMER)
    invoices = [
        {**invoice_body(number=f"INV-{7000 + n}", due_on="2026-12-01"), "external_id": f"x{n}"}
        for n in range(55)
    ]
    assert admin.api.post("/invoices/batch", {"invoices": invoices}).status_code == 200
    first = admin.get("/admin/invoices")
    assert len(numbers_on(first.text)) == 50 and "Page 1 of 2" in first.text
    second = admin.get("/admin/invoices?page=2")
    assert len(numbers_on(second.text)) == 5 and "Page 2 of 2" in second.text


def test_the_invoice_page_tells_the_whole_story(
    scenario: AdminSession, inbox: Inbox, db: Engine
) -> None:
    with session_scope(db) as session:
        boss = session.exec(
            select(Contact).where(Contact.email == "boss@riverside-mill.test")
        ).one()
        boss.opted_out_at = THURSDAY_11
        session.add(boss)
    reminder = next(m for m in inbox.mails if "accounts@harbour-bakery.test" in m.recipients)
    message_id = str(reminder.message["Message-ID"])
    reply = reminder.message.get("Reply-To") or "accounts@northwind.test"
    raw = (
        f"From: Harbour Street Bakery <accounts@harbour-bakery.test>\r\nTo: {reply}\r\n"
        f"Subject: Re: {reminder.message['Subject']}\r\nMessage-ID: <r1@bakery.test>\r\n"
        f"In-Reply-To: {message_id}\r\nReferences: {message_id}\r\n\r\n"
        "The cheque went out on Monday, sorry for the delay.\r\n"
    ).encode()
    answered = scenario.client.post(
        "/api/v1/inbound/default/email",
        content=raw,
        headers={"Content-Type": "message/rfc822", "Authorization": f"Bearer {scenario.api.key}"},
    )
    assert answered.status_code == 200, answered.text

    page = scenario.get("/admin/invoices/inv-1001")
    assert page.status_code == 200
    text = page.text
    assert "Invoice INV-1001 · Harbour Street Bakery" in text
    assert "£1,250.00" in text and "standard" in text  # amounts and the policy
    assert "accounts@harbour-bakery.test" in text
    assert "bounced" in text and "550" in text  # the refused cc address is marked
    # The timeline, oldest first, each event readable.
    created, sent, replied = (text.index(k) for k in ("invoice.created", "reminder.sent", "reply."))
    assert created < sent < replied
    assert f"Subject: “{reminder.message['Subject']}”" in text
    assert f'href="/admin/outbox/by-message-id?id={quote(message_id, safe="/")}"' in text
    assert "The cheque went out on Monday, sorry for the delay." in text
    assert "Reminders paused until" in text  # the reply paused them

    mill = scenario.get("/admin/invoices/inv-3001").text
    assert "opted out" in mill and "boss@riverside-mill.test" in mill
    assert "The amount is wrong" in mill and "We were charged twice" in mill
    paid = scenario.get("/admin/invoices/inv-5001").text
    assert "Payment pay-5001 of 1250.00 GBP received; 0.00 GBP still due." in paid

    upcoming = scenario.get("/admin/invoices/inv-2001").text
    schedule = upcoming[upcoming.index('id="schedule"') : upcoming.index('id="timeline"')]
    assert "Europe/London" in schedule
    # Due Thursday 10 December: three days before is a Monday; +3 is a Sunday, so Monday.
    assert "upcoming" in schedule and "Mon 07 Dec 2026, 09:00" in schedule
    assert "due_today" in schedule and "Thu 10 Dec 2026, 09:00" in schedule
    assert "overdue_3" in schedule and "Mon 14 Dec 2026, 09:00" in schedule
    assert "and a call task on the worklist" in schedule  # overdue_31
    assert "the invoice is escalated to a person" in schedule


def plain_text(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def post(admin: AdminSession, invoice: str, action: str, data: dict[str, str]) -> Any:
    return admin.post(
        f"/admin/invoices/{invoice}/{action}",
        data,
        csrf_from=f"/admin/invoices/{invoice}",
        follow_redirects=False,
    )


def state(api: Api, invoice: str) -> dict[str, object]:
    body = api.get(f"/invoices/{invoice}").json()
    return {"status": body["status"], **body["reminders"]}


def test_pause_until_a_date_and_resume(scenario: AdminSession) -> None:
    api = scenario.api
    bad = post(scenario, "inv-2001", "pause", {"until": "2026-11-01", "reason": "asked"})
    assert bad.status_code == 422 and "must be in the future" in bad.text
    bad = post(scenario, "inv-2001", "pause", {"until": "10/12/2026"})
    assert bad.status_code == 422 and "Please enter a date" in bad.text
    bad = post(scenario, "inv-2001", "pause", {"until": "2026-12-15", "reason": "two\nlines"})
    assert bad.status_code == 422 and "Reason: must be one line of plain text" in bad.text
    assert "invoice.paused" not in kinds(api, "inv-2001")

    done = post(scenario, "inv-2001", "pause", {"until": "2026-12-15", "reason": "On holiday"})
    assert done.status_code == 303
    assert done.headers["location"].startswith("/admin/invoices/inv-2001?done=")
    assert state(api, "inv-2001")["state"] == "paused"
    page = scenario.get(done.headers["location"]).text
    assert "Reminders paused until 2026-12-15." in page  # the flash message
    assert "Reminders paused until 2026-12-15 00:00: On holiday." in page
    assert "upcoming" not in page[page.index('id="schedule"') :].split('id="timeline"')[0]

    assert post(scenario, "inv-2001", "resume", {}).status_code == 303
    assert state(api, "inv-2001")["state"] == "active"
    assert kinds(api, "inv-2001")[-2:] == ["invoice.paused", "invoice.resumed"]
    again = post(scenario, "inv-2001", "resume", {})
    assert again.status_code == 422 and "not paused" in again.text


def test_add_a_note(scenario: AdminSession) -> None:
    empty = post(scenario, "inv-6001", "note", {"text": "   "})
    assert empty.status_code == 422 and "Please fill this in." in empty.text
    assert "note.added" not in kinds(scenario.api, "inv-6001")
    done = post(scenario, "inv-6001", "note", {"text": "Spoke to Jane <b>Mill</b>: pays Friday."})
    assert done.status_code == 303
    page = scenario.get("/admin/invoices/inv-6001").text
    assert "Spoke to Jane &lt;b&gt;Mill&lt;/b&gt;: pays Friday." in page
    event = scenario.api.get("/invoices/inv-6001/timeline").json()[-1]
    assert event["kind"] == "note.added" and event["actor"] == "admin:ann@northwind.test"


def test_record_a_promise_within_the_policy_limits(scenario: AdminSession, inbox: Inbox) -> None:
    api = scenario.api
    too_late = post(scenario, "inv-6001", "promise", {"promised_on": "2027-01-30"})
    assert too_late.status_code == 422 and "no later than 2026-12-26" in too_late.text
    too_much = post(
        scenario, "inv-6001", "promise", {"promised_on": "2026-12-04", "amount": "5000.00"}
    )
    assert too_much.status_code == 422 and "at most 1250.00" in too_much.text
    assert 'value="5000.00"' in too_much.text  # the form keeps what was typed
    assert "promise.created" not in kinds(api, "inv-6001")
    assert state(api, "inv-6001")["state"] == "active"

    before = len(inbox.mails)
    done = post(scenario, "inv-6001", "promise", {"promised_on": "2026-12-04", "amount": "500"})
    assert done.status_code == 303
    assert state(api, "inv-6001")["state"] == "promised"
    page = scenario.get("/admin/invoices/inv-6001").text
    assert "Promise to pay 500.00 GBP by 2026-12-04 (recorded by an admin)." in page
    # The customer gets the promise in writing.
    confirmation = [m for m in inbox.mails[before:] if "£500.00" in plain_text(m.message)]
    assert len(confirmation) == 1 and "ap@riverside-mill.test" in confirmation[0].recipients


def test_resolve_a_dispute_resumes_reminders(scenario: AdminSession) -> None:
    api = scenario.api
    assert "Dispute" in scenario.get("/admin/worklist").text
    empty = post(scenario, "inv-3001", "resolve-dispute", {"resolution": ""})
    assert empty.status_code == 422 and "Please fill this in." in empty.text
    assert state(api, "inv-3001")["state"] == "disputed"

    note = "Credit note CN-12 issued for the double charge."
    done = post(scenario, "inv-3001", "resolve-dispute", {"resolution": note})
    assert done.status_code == 303
    assert state(api, "inv-3001")["state"] == "active"
    assert kinds(api, "inv-3001")[-3:] == [
        "dispute.resolved",
        "worklist.resolved",
        "invoice.resumed",
    ]
    page = scenario.get("/admin/invoices/inv-3001").text
    assert f"Dispute (the amount is wrong) resolved: {note}" in page
    assert "Open dispute" not in page
    assert "We were charged twice" not in scenario.get("/admin/worklist").text

    none_left = post(scenario, "inv-3001", "resolve-dispute", {"resolution": "again"})
    assert none_left.status_code == 422 and "no open dispute" in none_left.text


def test_mark_escalated(scenario: AdminSession) -> None:
    api = scenario.api
    done = post(scenario, "inv-6001", "escalate", {"reason": "Passed to Acme Collections"})
    assert done.status_code == 303
    assert state(api, "inv-6001") == {"status": "open", "state": "escalated", "next": None}
    event = api.get("/invoices/inv-6001/timeline").json()[-1]
    assert event["kind"] == "invoice.escalated" and event["actor"] == "admin:ann@northwind.test"
    page = scenario.get("/admin/invoices/inv-6001").text
    assert "Escalated: no more automatic reminders: Passed to Acme Collections." in page
    again = post(scenario, "inv-6001", "escalate", {})
    assert again.status_code == 422 and "already escalated" in again.text
    closed = post(scenario, "inv-5001", "escalate", {})
    assert closed.status_code == 422 and "the invoice is paid" in closed.text


def test_write_off_stops_the_reminders(scenario: AdminSession, inbox: Inbox) -> None:
    api = scenario.api
    unconfirmed = post(scenario, "inv-2001", "write-off", {"reason": "Customer closed"})
    assert unconfirmed.status_code == 422 and "Tick the box" in unconfirmed.text
    assert state(api, "inv-2001")["status"] == "open"

    done = post(scenario, "inv-2001", "write-off", {"reason": "Customer closed", "confirm": "yes"})
    assert done.status_code == 303
    assert state(api, "inv-2001") == {"status": "written_off", "state": "written_off", "next": None}
    assert kinds(api, "inv-2001")[-1] == "invoice.written_off"
    page = scenario.get("/admin/invoices/inv-2001").text
    assert "Written off; reminders stopped. It was open. Reason: Customer closed" in page
    assert "No reminder is planned" in page
    before = len(inbox.mails)
    api.set_clock(datetime.fromisoformat("2026-12-10T10:00:00+00:00"))
    api.run_scheduler()
    assert not any("INV-2001" in str(m.message["Subject"]) for m in inbox.mails[before:])
    paid = post(scenario, "inv-5001", "write-off", {"confirm": "yes"})
    assert paid.status_code == 422 and "the invoice is paid" in paid.text


def test_another_organisations_invoice_is_not_found(admin: AdminSession, db: Engine) -> None:
    acme = acme_api(admin, db)
    admin.api.set_clock(THURSDAY_11)
    assert admin.get("/admin/invoices/inv-9001").status_code == 404
    assert "ACME-9001" not in admin.get("/admin/invoices").text
    for action, data in (("note", {"text": "hello"}), ("escalate", {}), ("resume", {})):
        response = admin.post(f"/admin/invoices/inv-9001/{action}", data, follow_redirects=False)
        assert response.status_code == 404, action
    assert [e["kind"] for e in acme.get("/invoices/inv-9001/timeline").json()] == [
        "invoice.created"
    ]
    # The same external id in both organisations: each sees its own.
    admin.api.put("/customers/bakery", CUSTOMER)
    admin.api.put("/invoices/inv-1001", invoice_body())
    page = admin.get("/admin/invoices/inv-1001").text
    assert "INV-1001" in page and "ACME-1001" not in page
    assert admin.post("/admin/invoices/inv-1001/dance", {}).status_code == 404


def test_actions_need_the_csrf_token(scenario: AdminSession) -> None:
    forged = scenario.client.post("/admin/invoices/inv-6001/note", data={"text": "forged"})
    assert forged.status_code == 403
    assert "note.added" not in kinds(scenario.api, "inv-6001")
