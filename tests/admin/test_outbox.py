"""Sent mail: the list and the message as the customer saw it, for this organisation only."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from html import unescape

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import select

from app.db import session_scope
from app.dunning.models import SentMessage
from app.organisations.models import Organisation
from tests.admin.conftest import AdminSession
from tests.conftest import CUSTOMER, Api, Inbox, api_key_for, invoice_body
from tests.portal_helpers import reminder_links

ACME_CUSTOMER = {**CUSTOMER, "email": "ap@acme-buyer.test", "cc": []}


def _acme_reminder(api: Api, db: Engine, inbox: Inbox) -> tuple[int, str]:
    """Acme sends a reminder of its own; returns its sent_message id and Message-ID."""
    acme = Api(client=api.client, key=api_key_for(db, "acme"), slug="acme")
    acme.put("/customers/buyer", ACME_CUSTOMER)
    acme.put("/invoices/x-1", invoice_body(customer="buyer", number="ACME-7", due_on="2026-11-20"))
    acme.run_scheduler()
    assert any(ACME_CUSTOMER["email"] in mail.recipients for mail in inbox.mails)
    with session_scope(db) as session:
        org = session.exec(select(Organisation).where(Organisation.slug == "acme")).one()
        row = session.exec(select(SentMessage).where(SentMessage.organisation_id == org.id)).one()
        return row.id or 0, row.message_id


def _detail_path(html: str) -> str:
    match = re.search(r'href="(/admin/outbox/\d+)"', html)
    assert match, "no link to a sent email"
    return match.group(1)


def test_the_reminder_that_reached_the_server_is_listed_and_shown(
    admin: AdminSession, inbox: Inbox
) -> None:
    reminder_links(admin.api, inbox)
    mail = inbox.mails[-1].message
    listing = admin.get("/admin/outbox")
    assert listing.status_code == 200
    assert str(mail["Subject"]) in listing.text
    assert (
        "accounts@harbour-bakery.test" in listing.text
        and "owner@harbour-bakery.test" in listing.text
    )
    assert "2026-11-26 11:00" in listing.text

    page = admin.get(_detail_path(listing.text))
    assert page.status_code == 200
    for header in ("From", "To", "Cc", "Subject", "Date", "Message-ID"):
        assert f'<th scope="row">{header}</th>' in page.text
    assert "Northwind Supplies <accounts@northwind.test>" in unescape(page.text)
    assert str(mail["Message-ID"]) in unescape(page.text)
    # The HTML part sits in a sandboxed iframe, escaped inside the attribute, as it was sent
    # but for a <base> that sends links to a new window, which the sandbox refuses to open.
    srcdoc = re.search(r'<iframe sandbox srcdoc="([^"]*)"', page.text)
    assert srcdoc and "<" not in srcdoc.group(1)
    shown = unescape(srcdoc.group(1))
    assert '<head><base target="_blank">' in shown or '<base target="_blank"><' in shown
    html_part = mail.get_body(("html",)).get_content()
    assert shown.replace('<base target="_blank">', "", 1).strip() == html_part.strip()
    # The text part in a <pre>, with the real amount.
    pre = re.search(r"<pre>(.*?)</pre>", page.text, flags=re.S)
    assert pre and "£1,250.00" in unescape(pre.group(1))
    assert "<script" not in page.text


def test_a_message_id_leads_to_its_page(admin: AdminSession, inbox: Inbox) -> None:
    reminder_links(admin.api, inbox)
    message_id = str(inbox.mails[-1].message["Message-ID"])
    detail = _detail_path(admin.get("/admin/outbox").text)
    for wanted in (message_id, message_id.strip("<>")):
        found = admin.get(
            "/admin/outbox/by-message-id", params={"id": wanted}, follow_redirects=False
        )
        assert found.status_code == 303 and found.headers["location"] == detail
    missing = admin.get("/admin/outbox/by-message-id", params={"id": "<nope@politely.test>"})
    assert missing.status_code == 404 and "No email with that Message-ID" in missing.text
    empty = admin.get("/admin/outbox/by-message-id")
    assert empty.status_code == 422 and "Give the Message-ID" in empty.text


def test_another_organisations_email_is_not_found(
    admin: AdminSession, inbox: Inbox, db: Engine
) -> None:
    reminder_links(admin.api, inbox)
    acme_id, acme_message_id = _acme_reminder(admin.api, db, inbox)
    listing = admin.get("/admin/outbox")
    assert "ap@acme-buyer.test" not in listing.text and "ACME-7" not in listing.text
    theirs = admin.get(f"/admin/outbox/{acme_id}")
    assert theirs.status_code == 404 and "ACME-7" not in theirs.text
    by_id = admin.get("/admin/outbox/by-message-id", params={"id": acme_message_id})
    assert by_id.status_code == 404
    for wrong in ("not-a-number", "99999999999999999999999", "0"):
        assert admin.get(f"/admin/outbox/{wrong}").status_code == 404


def test_anonymous_visitors_are_sent_to_the_login_page(client: TestClient) -> None:
    for path in ("/admin/outbox", "/admin/outbox/1", "/admin/outbox/by-message-id?id=x"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/admin/login?next=/admin/outbox")


def _store(db: Engine, how_many: int) -> None:
    """Sent messages written straight to the table, one a minute, numbered in the subject."""
    start = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    with session_scope(db) as session:
        org = session.exec(select(Organisation).where(Organisation.slug == "default")).one()
        for n in range(how_many):
            message = EmailMessage()
            message["From"] = "accounts@northwind.test"
            message["To"] = f"customer{n}@example.test"
            message["Subject"] = f"Message number {n}"
            message["Message-ID"] = f"<m{n}@politely.test>"
            message.set_content("Hello")
            session.add(
                SentMessage(
                    organisation_id=org.id or 0,
                    message_id=f"<m{n}@politely.test>",
                    raw=message.as_string(),
                    sent_at=start + timedelta(minutes=n),
                )
            )


def test_fifty_a_page_newest_first(admin: AdminSession, db: Engine) -> None:
    _store(db, 51)
    first = admin.get("/admin/outbox")
    subjects = re.findall(r"Message number (\d+)", first.text)
    assert subjects[0] == "50" and subjects[-1] == "1" and len(subjects) == 50
    assert "Page 1 of 2" in first.text and 'href="/admin/outbox?page=2"' in first.text
    second = admin.get("/admin/outbox?page=2")
    assert re.findall(r"Message number (\d+)", second.text) == ["0"]
    # A message without an HTML part says so instead of showing an empty frame.
    plain = admin.get(_detail_path(second.text))
    assert "This email has no HTML version." in plain.text and "<iframe" not in plain.text
    beyond = admin.get("/admin/outbox?page=9")
    assert beyond.status_code == 200 and "There is nothing on page 9." in beyond.text
    for bad in ("0", "two", "-1", "99999999999999999999999"):
        refused = admin.get(f"/admin/outbox?page={bad}")
        assert refused.status_code == 422 and "whole number from 1" in refused.text
