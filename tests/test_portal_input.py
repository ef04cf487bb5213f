"""What customers and mail systems actually send: forms posted twice, amounts written the
customer's way, tokens from another page, and inbound requests that are not quite right."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from app.db import session_scope
from app.timeline.models import Event
from tests.conftest import CUSTOMER, Api, Inbox, invoice_body
from tests.portal_helpers import (
    THURSDAY_11,
    events,
    form_fields,
    kinds,
    links_in,
    reminder_links,
    run_at,
    submit,
    text_of,
)

CAFE = {**CUSTOMER, "name": "Quayside Cafe", "email": "ap@quayside-cafe.test", "cc": []}
NOTHING_STORED = ("promise.created", "payment.claimed", "plan.created", "dispute.opened")


def _portal_for(inbox: Inbox, address: str) -> str:
    mail = next(m for m in reversed(inbox.mails) if address in m.recipients)
    return links_in(text_of(mail))["portal"]


def _customer_events(db: Engine) -> list[str]:
    with session_scope(db) as session:
        return [e.kind for e in session.exec(select(Event).where(Event.invoice_id.is_(None)))]  # type: ignore[union-attr]


# 11 -----------------------------------------------------------------------------------------


def test_the_same_form_posted_twice_is_stored_once(api: Api, inbox: Inbox) -> None:
    portal = reminder_links(api, inbox)["portal"]
    hidden = form_fields(api.client.get(portal).text, "promise")
    action = hidden.pop("_action")
    assert len(hidden["nonce"]) >= 8
    fields = {**hidden, "promised_on": "2026-12-04"}
    first = api.client.post(action, data=fields)
    assert first.status_code == 200 and "that is agreed" in first.text
    second = api.client.post(action, data=fields)
    assert second.status_code == 200
    assert "We already have this" in second.text
    api.run_scheduler()  # anything still queued would go out now
    assert kinds(api).count("promise.created") == 1
    confirmations = [m for m in inbox.mails if "payment date, confirmed" in m.message["Subject"]]
    assert len(confirmations) == 1
    # A fresh page gives a fresh form: changing the date is a new answer.
    moved = submit(api, portal, "promise", {"promised_on": "2026-12-08"})
    assert moved.status_code == 200 and "8 December 2026" in moved.text
    assert kinds(api).count("promise.created") == 2


# 12 -----------------------------------------------------------------------------------------


def test_a_german_customer_writes_amounts_the_german_way(api: Api, inbox: Inbox) -> None:
    api.set_clock(THURSDAY_11)
    api.put("/customers/bakery", {**CUSTOMER, "locale": "de_DE"})
    api.put("/invoices/inv-1001", invoice_body(due_on="2026-11-20"))
    api.run_scheduler()
    portal = links_in(text_of(inbox.mails[-1]))["portal"]
    done = submit(api, portal, "promise", {"promised_on": "2026-12-04", "amount": "1.250,00"})
    assert done.status_code == 200, done.text[-1500:]
    [created] = events(api, kind="promise.created")
    assert created["data"]["amount"] == "1250.00"
    claimed = submit(api, portal, "paid", {"paid_on": "2026-11-25", "amount": "250,50"})
    assert claimed.status_code == 200
    assert events(api, kind="payment.claimed")[0]["data"]["amount"] == "250.50"


@pytest.mark.parametrize(
    ("action", "fields", "message"),
    [
        # In English the comma groups thousands: never silently 25050.
        ("promise", {"promised_on": "2026-12-04", "amount": "250,50"}, "for example 250.50"),
        ("paid", {"paid_on": "2026-11-25", "amount": "1e999999"}, "for example 250.50"),
        ("paid", {"paid_on": "2026-11-25", "amount": "9" * 30}, "for example 250.50"),
        ("promise", {"promised_on": "2026-12-04", "amount": "9" * 20}, "for example 250.50"),
        ("paid", {"paid_on": "2026-11-25", "amount": "NaN"}, "for example 250.50"),
        ("paid", {"paid_on": "2026-11-25", "amount": "-5"}, "for example 250.50"),
        (
            "plan/preview",
            {"count": "²", "frequency": "monthly", "first_on": "2026-12-01"},
            "2 to 6",
        ),
        ("plan/preview", {"count": "3", "frequency": "monthly", "first_on": "²"}, "a date"),
        ("paid", {"paid_on": "9999999-01-01", "amount": "1.00"}, "Please enter a date"),
    ],
)
def test_amounts_and_numbers_the_form_cannot_read_are_explained(
    api: Api, inbox: Inbox, action: str, fields: dict[str, str], message: str
) -> None:
    portal = reminder_links(api, inbox)["portal"]
    page = submit(api, portal, action, fields)
    assert page.status_code == 422
    assert message in page.text
    assert "nothing has been saved" in page.text
    assert not set(kinds(api)) & set(NOTHING_STORED)
    assert api.get("/invoices/inv-1001").json()["reminders"]["state"] == "active"
    assert len(inbox.mails) == 1


# 13 -----------------------------------------------------------------------------------------


def test_a_token_from_another_customers_page_is_refused(api: Api, inbox: Inbox) -> None:
    api.set_clock(THURSDAY_11)
    api.put("/customers/bakery", CUSTOMER)
    api.put("/customers/cafe", CAFE)
    api.put("/invoices/inv-1001", invoice_body(due_on="2026-11-20"))
    api.put("/invoices/cafe-1", invoice_body(customer="cafe", number="C-1", due_on="2026-11-20"))
    api.run_scheduler()
    bakery = _portal_for(inbox, "accounts@harbour-bakery.test")
    cafe = _portal_for(inbox, "ap@quayside-cafe.test")
    api.client.get(bakery)  # the same browser opens both links: one CSRF cookie
    theirs = form_fields(api.client.get(cafe).text, "promise")
    theirs.pop("_action")
    forged = api.client.post(
        bakery + "/promise", data={**theirs, "invoice": "inv-1001", "promised_on": "2026-12-04"}
    )
    assert forged.status_code == 403
    as_is = api.client.post(bakery + "/promise", data={**theirs, "promised_on": "2026-12-04"})
    assert as_is.status_code == 404  # the cafe's invoice is not the bakery's
    assert "promise.created" not in kinds(api) + kinds(api, "cafe-1")
    assert api.get("/invoices/inv-1001").json()["reminders"]["state"] == "active"


def test_the_portals_stop_reminder_emails_form(api: Api, inbox: Inbox, db: Engine) -> None:
    portal = reminder_links(api, inbox)["portal"]
    done = submit(api, portal, "opt-out", {})
    assert done.status_code == 200
    assert "We will stop emailing you reminders" in done.text
    assert "contact.unsubscribed" in _customer_events(db)
    assert api.get("/invoices/inv-1001").json()["reminders"] == {"state": "opted_out", "next": None}
    before = len(inbox.mails)
    for day in range(27, 31):
        run_at(api, 2026, 11, day)
    for day in range(1, 32):
        run_at(api, 2026, 12, day)
    assert len(inbox.mails) == before
    assert api.get("/invoices/inv-1001").json()["reminders"]["state"] == "opted_out"


def test_a_non_ascii_csrf_token_is_refused_not_an_error(api: Api, inbox: Inbox) -> None:
    portal = reminder_links(api, inbox)["portal"]
    hidden = form_fields(api.client.get(portal).text, "promise")
    action = hidden.pop("_action")
    for token in ("é" * 64, "\u202e\U0001f600", "\x00"):
        page = api.client.post(
            action, data={**hidden, "csrf_token": token, "promised_on": "2026-12-04"}
        )
        assert page.status_code == 403, token
    assert "promise.created" not in kinds(api)


# 15 -----------------------------------------------------------------------------------------

INBOUND = "/api/v1/inbound/default/email"
RAW = (
    b"From: Harbour Street Bakery <accounts@harbour-bakery.test>\r\n"
    b"To: accounts@northwind.test\r\nSubject: Re: Invoice INV-1001\r\n"
    b"Message-ID: <in-1@harbour-bakery.test>\r\n\r\nWe will pay on Friday.\r\n"
)


def test_inbound_without_a_content_length_is_refused(api: Api, inbox: Inbox) -> None:
    reminder_links(api, inbox)

    def chunks() -> Iterator[bytes]:
        yield RAW

    response = api.client.post(
        INBOUND,
        content=chunks(),
        headers={"Authorization": f"Bearer {api.key}", "Content-Type": "message/rfc822"},
    )
    assert response.status_code == 411
    assert "reply.received" not in kinds(api)


def test_inbound_postmark_with_a_form_body_is_refused(api: Api, inbox: Inbox) -> None:
    reminder_links(api, inbox)
    response = api.client.post(
        INBOUND + "?provider=postmark",
        data={"From": "accounts@harbour-bakery.test", "TextBody": "Paid"},
        headers={"Authorization": f"Bearer {api.key}"},
    )
    assert response.status_code == 422
    assert "reply.received" not in kinds(api)


@pytest.mark.parametrize(
    ("query", "headers", "body"),
    [
        ("", {"Content-Type": "message/rfc822"}, b"not an email at all \xff\xfe"),
        ("", {}, {"signature": "x", "token": "y", "timestamp": "1"}),
        ("?secret=%C3%A9%E2%82%AC%F0%9F%98%80", {"Content-Type": "message/rfc822"}, RAW),
        ("?secret=%FF%FE", {"Content-Type": "message/rfc822"}, RAW),
        ("", {"Content-Type": "message/rfc822", "Authorization": "Bearer ключ"}, RAW),
        ("", {"Content-Type": "message/rfc822", "Authorization": "Basic w6k6w6k="}, RAW),
    ],
)
def test_inbound_strangers_are_refused_before_the_body_matters(
    api: Api, inbox: Inbox, query: str, headers: dict[str, str], body: object
) -> None:
    reminder_links(api, inbox)
    encoded = {k: v.encode() for k, v in headers.items()}
    if isinstance(body, dict):
        response = api.client.post(INBOUND + query, data=body, headers=encoded)
    else:
        response = api.client.post(INBOUND + query, content=body, headers=encoded)
    assert response.status_code == 401, response.text
    assert "reply.received" not in kinds(api)
