"""Mailgun route payloads (parsed and raw MIME forms) and Mailgun's webhook signature."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest

from app.replies.inbound import parse_mailgun, reply_tokens, verify_mailgun_signature
from tests.replies.builders import (
    EXPECTED_REPLY,
    GMAIL_ID,
    GMAIL_TEXT,
    REMINDER_1,
    REMINDER_2,
    REPLY_ADDRESS,
    SENT_AT,
    outlook_reply,
)

SIGNING_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
TIMESTAMP = "1717408800"
TOKEN = "c2b1a8d0e37e1fb5d46c2a9b1f0b8e4f7d6c5b4a3928170615"


def _sign(timestamp: str = TIMESTAMP, token: str = TOKEN, key: str = SIGNING_KEY) -> str:
    return hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()


def _mailgun_forward(**overrides: str) -> dict[str, str]:
    headers = [
        ["Received", "by mail-lf1-f41.google.com with SMTP id 2adb3069b0e04"],
        ["Mime-Version", "1.0"],
        ["From", "Jane =?utf-8?q?M=C3=BCller?= <Jane.Mueller@customer.example>"],
        ["Date", SENT_AT],
        ["Message-Id", GMAIL_ID],
        ["In-Reply-To", REMINDER_2],
        ["References", f"{REMINDER_1}\r\n {REMINDER_2}"],
        ["Subject", "Re: Invoice INV-1001 is due"],
        ["To", f"Acme Billing <{REPLY_ADDRESS}>"],
        ["Content-Type", 'multipart/alternative; boundary="000000000000a1b2c3"'],
    ]
    form = {
        "recipient": REPLY_ADDRESS,
        "sender": "jane.mueller@customer.example",
        "from": "Jane Müller <Jane.Mueller@customer.example>",
        "subject": "Re: Invoice INV-1001 is due",
        "body-plain": GMAIL_TEXT,
        "stripped-text": "Hi,\n\nWe paid this on Friday, bank reference 4711.",
        "stripped-signature": "Best,\nJane",
        "body-html": "<div dir=ltr>Hi,<br><br>We paid this on Friday.</div>",
        "attachment-count": "0",
        "timestamp": TIMESTAMP,
        "token": TOKEN,
        "signature": _sign(),
        "message-headers": json.dumps(headers),
        "Message-Id": GMAIL_ID,
        "In-Reply-To": REMINDER_2,
        "References": f"{REMINDER_1} {REMINDER_2}",
    }
    form.update(overrides)
    return form


def test_mailgun_forward_form() -> None:
    reply = parse_mailgun(_mailgun_forward())

    assert reply.kind == "human"
    assert (reply.sender, reply.sender_name) == ("jane.mueller@customer.example", "Jane Müller")
    assert reply.message_id == GMAIL_ID
    assert reply.in_reply_to == (REMINDER_2,)
    assert reply.references == (REMINDER_1, REMINDER_2)
    assert reply.reply_text == EXPECTED_REPLY
    assert reply_tokens(reply.recipients) == ["1-2-3-ab12cd34ef56"]


def test_mailgun_forward_form_without_message_headers_uses_the_separate_fields() -> None:
    form = _mailgun_forward()
    del form["message-headers"]

    reply = parse_mailgun(form)

    assert reply.sender == "jane.mueller@customer.example"
    assert reply.message_id == GMAIL_ID and reply.subject == "Re: Invoice INV-1001 is due"


def test_mailgun_forward_of_an_out_of_office_and_of_a_bounce() -> None:
    headers = [["From", "Jane <jane@customer.example>"], ["Auto-Submitted", "auto-replied"]]
    oof = parse_mailgun(_mailgun_forward(**{"message-headers": json.dumps(headers)}))
    assert (oof.kind, oof.auto_reply_reason) == ("auto_reply", "Auto-Submitted: auto-replied")

    # The parsed route keeps only the text part of a report; its Postfix text names the address.
    report_headers = [
        ["From", "MAILER-DAEMON@mail.customer.example (Mail Delivery System)"],
        ["Subject", "Undelivered Mail Returned to Sender"],
        ["Content-Type", 'multipart/report; report-type=delivery-status; boundary="B1"'],
    ]
    bounce = parse_mailgun(
        _mailgun_forward(
            sender="",
            **{
                "message-headers": json.dumps(report_headers),
                "body-plain": "The mail system\n\n<jane@customer.example>: host mx said: 550 5.1.1"
                " user unknown (in reply to RCPT TO command)\n",
            },
        )
    )
    assert bounce.kind == "bounce"
    assert [(b.address, b.status, b.permanent) for b in bounce.bounces] == [
        ("jane@customer.example", "5.1.1", True)
    ]


def test_mailgun_mime_form() -> None:
    form = {
        "recipient": REPLY_ADDRESS,
        "sender": "john.smith@bigcorp.example",
        "from": "John Smith <John.Smith@BigCorp.example>",
        "subject": "RE: Invoice INV-1001 – due",
        "body-mime": outlook_reply().as_string(),
        "timestamp": TIMESTAMP,
        "token": TOKEN,
        "signature": _sign(),
    }

    reply = parse_mailgun(form)

    assert reply.sender == "john.smith@bigcorp.example"
    assert reply.reply_text.startswith("Hello,\n\nWe’ll pay the €1,250.00")
    assert "Dear John" not in reply.reply_text
    assert reply.in_reply_to == (REMINDER_1,)


def test_mailgun_signature_valid() -> None:
    assert verify_mailgun_signature(
        signing_key=SIGNING_KEY,
        timestamp=TIMESTAMP,
        token=TOKEN,
        signature=_sign(),
        now=float(TIMESTAMP) + 120,
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"signing_key": "key-another"},
        {"token": TOKEN[:-1] + "0"},
        {"signature": _sign(key="key-another")},
        {"now": float(TIMESTAMP) + 301},  # stale: a replayed old request
        {"now": float(TIMESTAMP) - 301},  # from the future
        {"timestamp": "17174O8800"},
        {"timestamp": ""},
        {"timestamp": "-1"},
        {"signature": ""},
        {"signature": "é" * 64},
        {"signature": None},
        {"signing_key": ""},
        {"token": 12},
        {"now": float("nan")},
        {"tolerance_seconds": -5},
    ],
)
def test_mailgun_signature_rejected(changes: dict[str, Any]) -> None:
    arguments: dict[str, Any] = {
        "signing_key": SIGNING_KEY,
        "timestamp": TIMESTAMP,
        "token": TOKEN,
        "signature": _sign(),
        "now": float(TIMESTAMP),
    }
    arguments.update(changes)

    assert verify_mailgun_signature(**arguments) is False


def test_mailgun_message_headers_that_are_not_json_fall_back_to_the_fields() -> None:
    reply = parse_mailgun(_mailgun_forward(**{"message-headers": "{not json"}))

    assert reply.sender == "jane.mueller@customer.example"
    assert reply.in_reply_to == (REMINDER_2,)
