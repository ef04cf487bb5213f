"""Replies by email: raw MIME and the Mailgun, SendGrid and Postmark webhooks, matched to the
reminder they answer, with auto-replies and bounces told apart."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from email.message import EmailMessage

from sqlalchemy import Engine
from sqlmodel import select

from app.customers.models import Contact
from app.db import session_scope
from app.organisations.models import Organisation
from app.worklist.models import WorklistItem
from tests.conftest import Api, Inbox, api_key_for
from tests.portal_helpers import kinds, reminder_links


def _reminder_id(api: Api, inbox: Inbox) -> str:
    reminder_links(api, inbox)
    return str(inbox.mails[-1].message["Message-ID"])


def _reply(
    in_reply_to: str,
    *,
    body: str,
    sender: str = "accounts@harbour-bakery.test",
    to: str = "accounts@northwind.test",
    subject: str = "Re: Invoice INV-1001",
    headers: dict[str, str] | None = None,
    message_id: str = "<r1@bakery.test>",
) -> bytes:
    message = EmailMessage()
    message["From"] = f"Harbour Street Bakery <{sender}>"
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    return bytes(message)


def _post_mime(api: Api, raw: bytes, **kw: object) -> object:
    headers = {"Content-Type": "message/rfc822", **kw.pop("headers", {})}  # type: ignore[arg-type]
    return api.client.post("/api/v1/inbound/default/email", content=raw, headers=headers, **kw)


def _secret(db: Engine) -> str:
    with session_scope(db) as session:
        organisation = session.exec(
            select(Organisation).where(Organisation.slug == "default")
        ).one()
        assert organisation.inbound_secret
        return organisation.inbound_secret


def _worklist(db: Engine) -> list[str]:
    with session_scope(db) as session:
        return [i.kind for i in session.exec(select(WorklistItem).order_by(WorklistItem.id))]


QUOTED = (
    "We sent it on Monday, sorry for the wait.\n\n"
    "On Thu, 26 Nov 2026 at 11:00, Northwind Supplies <accounts@northwind.test> wrote:\n"
    "> Hello Harbour Street Bakery,\n> invoice INV-1001 is overdue.\n"
)


def test_a_reply_threads_to_its_invoice_pauses_and_reaches_a_person(
    api: Api, inbox: Inbox, db: Engine
) -> None:
    reminder_id = _reminder_id(api, inbox)
    response = _post_mime(
        api, _reply(reminder_id, body=QUOTED), headers={"Authorization": f"Bearer {api.key}"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["result"] == "matched" and response.json()["matched_by"] == "thread"
    assert response.json()["invoice"] == "inv-1001"
    reply = next(
        e for e in api.get("/invoices/inv-1001/timeline").json() if e["kind"] == "reply.received"
    )
    assert reply["data"]["text"] == "We sent it on Monday, sorry for the wait."
    assert reply["data"]["kind"] == "human"
    assert api.get("/invoices/inv-1001").json()["reminders"]["state"] == "paused"
    assert "reply" in _worklist(db)


def test_an_out_of_office_is_noted_but_pauses_nothing(api: Api, inbox: Inbox, db: Engine) -> None:
    reminder_id = _reminder_id(api, inbox)
    raw = _reply(
        reminder_id,
        body="I am away until Monday.",
        subject="Automatic reply: Invoice",
        headers={"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All"},
    )
    response = _post_mime(api, raw, params={"secret": _secret(db)})
    assert response.status_code == 200 and response.json()["kind"] == "auto_reply"
    assert "reply.received" in kinds(api)
    assert api.get("/invoices/inv-1001").json()["reminders"]["state"] == "active"
    assert "reply" not in _worklist(db)


def test_a_delivery_failure_report_marks_the_contact_bounced(
    api: Api, inbox: Inbox, db: Engine
) -> None:
    from tests.replies.builders import REMINDER_1, delivery_report

    reminder_id = _reminder_id(api, inbox)
    report = delivery_report(
        action="failed",
        status="5.1.1",
        diagnostic="smtp; 550 5.1.1 <jane@customer.example>: no such user",
        subject="Undelivered Mail Returned to Sender",
    )
    raw = report.as_bytes().replace(b"jane@customer.example", b"owner@harbour-bakery.test")
    raw = raw.replace(b"Jane@Customer.example", b"owner@harbour-bakery.test")
    # A forged report that quotes nothing we sent marks nobody.
    forged = _post_mime(api, raw, headers={"X-Politely-Inbound-Secret": _secret(db)})
    assert forged.status_code == 200 and forged.json()["bounced"] == []
    # The real one returns the headers of our reminder, Message-ID included.
    raw = raw.replace(REMINDER_1.encode(), reminder_id.encode()).replace(
        b"20240603100512.4F2A81C0042", b"20240603100512.4F2A81C0043"
    )
    response = _post_mime(api, raw, headers={"X-Politely-Inbound-Secret": _secret(db)})
    assert response.status_code == 200, response.text
    assert response.json()["kind"] == "bounce"
    assert response.json()["bounced"] == ["owner@harbour-bakery.test"]
    contacts = {c["email"]: c["bounced"] for c in api.get("/customers/bakery").json()["contacts"]}
    assert contacts["owner@harbour-bakery.test"] is True
    assert contacts["accounts@harbour-bakery.test"] is False
    assert "bounced" in _worklist(db)


def test_the_reply_address_token_matches_first(api: Api, inbox: Inbox, db: Engine) -> None:
    with session_scope(db) as session:
        organisation = session.exec(select(Organisation)).first()
        assert organisation is not None
        organisation.inbound_domain = "in.northwind.test"
        session.add(organisation)
    reminder_links(api, inbox)
    reply_to = inbox.mails[-1].message["Reply-To"].addresses[0].addr_spec
    raw = _reply("", body="Paid today.", sender="someone-else@elsewhere.test", to=reply_to)
    response = _post_mime(api, raw, params={"secret": _secret(db)})
    assert response.json()["matched_by"] == "token" and response.json()["invoice"] == "inv-1001"
    forged = reply_to.replace("reply+1-1-1-", "reply+1-1-2-")
    raw = _reply("", body="Hi", sender="x@elsewhere.test", to=forged, message_id="<r2@x.test>")
    assert _post_mime(api, raw, params={"secret": _secret(db)}).json()["result"] == "unmatched"


def test_a_known_sender_without_a_thread_still_reaches_their_invoices(
    api: Api, inbox: Inbox
) -> None:
    _reminder_id(api, inbox)
    raw = _reply("", body="Could you send me a copy of the invoice?")
    response = _post_mime(api, raw, headers={"Authorization": f"Bearer {api.key}"})
    assert response.json()["matched_by"] == "sender" and response.json()["customer"] == "bakery"
    assert api.get("/invoices/inv-1001").json()["reminders"]["state"] == "paused"


def test_the_same_email_twice_is_recorded_once(api: Api, inbox: Inbox) -> None:
    reminder_id = _reminder_id(api, inbox)
    raw = _reply(reminder_id, body="Paid.")
    auth = {"Authorization": f"Bearer {api.key}"}
    assert _post_mime(api, raw, headers=auth).json()["result"] == "matched"
    assert _post_mime(api, raw, headers=auth).json()["result"] == "duplicate"
    assert kinds(api).count("reply.received") == 1


def test_inbound_needs_the_organisations_key_secret_or_signature(
    api: Api, inbox: Inbox, db: Engine
) -> None:
    reminder_id = _reminder_id(api, inbox)
    raw = _reply(reminder_id, body="Paid.")
    assert _post_mime(api, raw).status_code == 401
    assert _post_mime(api, raw, params={"secret": "in_wrong"}).status_code == 401
    other_key = api_key_for(db, "acme")
    assert _post_mime(api, raw, headers={"Authorization": f"Bearer {other_key}"}).status_code == 401
    # Another organisation's endpoint with its own key: our reminder's thread matches nothing.
    response = api.client.post(
        "/api/v1/inbound/acme/email",
        content=raw,
        headers={"Content-Type": "message/rfc822", "Authorization": f"Bearer {other_key}"},
    )
    assert response.status_code == 200 and response.json()["result"] == "unmatched"
    assert "reply.received" not in kinds(api)
    assert (
        api.client.post(
            "/api/v1/inbound/nobody/email", content=raw, headers={"Content-Type": "message/rfc822"}
        ).status_code
        == 404
    )


def _mailgun_fields(
    reminder_id: str, key: str, *, timestamp: int | None = None, signature: str | None = None
) -> dict[str, str]:
    stamp = str(timestamp or int(time.time()))
    token = "c2a83e1e0e0b4c1f9f7d0d1fd1d2b0b5b1a9e0c7f6d5e4c3b2"
    fields = {
        "recipient": "accounts@northwind.test",
        "sender": "accounts@harbour-bakery.test",
        "from": "Harbour Street Bakery <accounts@harbour-bakery.test>",
        "subject": "Re: Invoice INV-1001",
        "body-plain": QUOTED,
        "stripped-text": "We sent it.",
        "Message-Id": "<mg1@bakery.test>",
        "In-Reply-To": reminder_id,
        "message-headers": json.dumps(
            [["In-Reply-To", reminder_id], ["Message-Id", "<mg1@bakery.test>"]]
        ),
        "timestamp": stamp,
        "token": token,
    }
    fields["signature"] = (
        signature or hmac.new(key.encode(), (stamp + token).encode(), hashlib.sha256).hexdigest()
    )
    return fields


def test_mailgun_webhooks_are_checked_by_their_signature(
    api: Api, inbox: Inbox, db: Engine
) -> None:
    reminder_id = _reminder_id(api, inbox)
    with session_scope(db) as session:
        organisation = session.exec(select(Organisation)).first()
        assert organisation is not None
        organisation.mailgun_signing_key = "key-mailgun-signing"
        session.add(organisation)
    url = "/api/v1/inbound/default/email?provider=mailgun"
    wrong = _mailgun_fields(reminder_id, "key-mailgun-signing", signature="0" * 64)
    assert api.client.post(url, data=wrong).status_code == 401
    stale = _mailgun_fields(reminder_id, "key-mailgun-signing", timestamp=int(time.time()) - 900)
    assert api.client.post(url, data=stale).status_code == 401
    assert "reply.received" not in kinds(api)
    good = api.client.post(url, data=_mailgun_fields(reminder_id, "key-mailgun-signing"))
    assert good.status_code == 200, good.text
    assert good.json()["matched_by"] == "thread"
    assert "reply.received" in kinds(api)


def test_sendgrid_inbound_parse_with_the_inbound_secret(api: Api, inbox: Inbox, db: Engine) -> None:
    reminder_id = _reminder_id(api, inbox)
    headers = (
        f"Message-ID: <sg1@bakery.test>\nIn-Reply-To: {reminder_id}\n"
        "From: Harbour Street Bakery <accounts@harbour-bakery.test>\n"
        "To: accounts@northwind.test\nSubject: Re: Invoice INV-1001\n"
    )
    response = api.client.post(
        f"/api/v1/inbound/default/email?secret={_secret(db)}",
        files={
            "headers": (None, headers),
            "text": (None, QUOTED),
            "from": (None, "Harbour Street Bakery <accounts@harbour-bakery.test>"),
            "to": (None, "accounts@northwind.test"),
            "subject": (None, "Re: Invoice INV-1001"),
            "envelope": (
                None,
                json.dumps(
                    {"to": ["accounts@northwind.test"], "from": "accounts@harbour-bakery.test"}
                ),
            ),
            "charsets": (None, json.dumps({"text": "utf-8", "subject": "utf-8"})),
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["invoice"] == "inv-1001" and response.json()["kind"] == "human"


def test_postmark_json_with_basic_auth(api: Api, inbox: Inbox, db: Engine) -> None:
    reminder_id = _reminder_id(api, inbox)
    payload = {
        "From": "accounts@harbour-bakery.test",
        "FromName": "Harbour Street Bakery",
        "FromFull": {"Email": "accounts@harbour-bakery.test", "Name": "Harbour Street Bakery"},
        "To": "accounts@northwind.test",
        "ToFull": [{"Email": "accounts@northwind.test", "Name": "", "MailboxHash": ""}],
        "Subject": "Re: Invoice INV-1001",
        "MessageID": "73e6d360-66eb-11e1-8e72-a8904824019b",
        "TextBody": QUOTED,
        "HtmlBody": "",
        "StrippedTextReply": "We sent it on Monday.",
        "Headers": [
            {"Name": "Message-ID", "Value": "<pm1@bakery.test>"},
            {"Name": "In-Reply-To", "Value": reminder_id},
        ],
    }
    credentials = base64.b64encode(f"postmark:{_secret(db)}".encode()).decode()
    response = api.client.post(
        "/api/v1/inbound/default/email",
        content=json.dumps(payload),
        headers={"Content-Type": "application/json", "Authorization": f"Basic {credentials}"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["matched_by"] == "thread"
    broken = api.client.post(
        "/api/v1/inbound/default/email",
        content=b"{not json",
        headers={"Content-Type": "application/json", "Authorization": f"Basic {credentials}"},
    )
    assert broken.status_code == 422


def _contacts(db: Engine) -> list[Contact]:
    with session_scope(db) as session:
        return list(session.exec(select(Contact)))
