"""SendGrid and Postmark payloads as those providers document them; format errors of all three."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.replies.inbound import (
    InboundFormatError,
    parse_mailgun,
    parse_postmark,
    parse_sendgrid,
    reply_tokens,
)
from tests.replies.builders import (
    EXPECTED_REPLY,
    GMAIL_ID,
    GMAIL_TEXT,
    REMINDER_1,
    REMINDER_2,
    REPLY_ADDRESS,
    delivery_report,
    gmail_reply,
    outlook_reply,
)


def _sendgrid_parsed() -> dict[str, Any]:
    raw = gmail_reply().as_bytes().replace(b"\r\n", b"\n")
    header_block = raw.split(b"\n\n", 1)[0].decode()
    return {
        "headers": header_block,
        "dkim": "{@customer.example : pass}",
        "to": f"Acme Billing <{REPLY_ADDRESS}>",
        "cc": "Accounts <accounts@customer.example>",
        "from": "Jane Müller <jane.mueller@customer.example>",
        "subject": "Re: Invoice INV-1001 is due",
        "text": GMAIL_TEXT,
        "html": "<div dir=ltr>Hi,<br><br>We paid this on Friday.</div>",
        "sender_ip": "209.85.167.41",
        "spam_score": "0.1",
        "envelope": json.dumps({"to": [REPLY_ADDRESS], "from": "jane.mueller@customer.example"}),
        "attachments": "0",
        "charsets": json.dumps(
            {
                "to": "UTF-8",
                "cc": "UTF-8",
                "html": "UTF-8",
                "subject": "UTF-8",
                "from": "UTF-8",
                "text": "UTF-8",
            }  # fmt: skip
        ),
        "SPF": "pass",
    }


def test_sendgrid_parsed_form() -> None:
    reply = parse_sendgrid(_sendgrid_parsed())

    assert reply.kind == "human"
    assert (reply.sender, reply.sender_name) == ("jane.mueller@customer.example", "Jane Müller")
    assert reply.recipients == (REPLY_ADDRESS, "accounts@customer.example")
    assert reply.message_id == GMAIL_ID
    assert reply.references == (REMINDER_1, REMINDER_2)
    assert reply.reply_text == EXPECTED_REPLY


def test_sendgrid_fields_in_a_declared_charset_are_decoded() -> None:
    form = _sendgrid_parsed()
    form["text"] = "Déjà payé, merci.\n".encode("iso-8859-1")
    form["charsets"] = json.dumps({"text": "iso-8859-1"})

    assert parse_sendgrid(form).reply_text == "Déjà payé, merci."


def test_sendgrid_raw_form() -> None:
    form = {
        "email": outlook_reply().as_string(),
        "to": REPLY_ADDRESS,
        "from": "John Smith <John.Smith@BigCorp.example>",
        "subject": "RE: Invoice INV-1001 – due",
        "envelope": json.dumps({"to": [REPLY_ADDRESS], "from": "john.smith@bigcorp.example"}),
        "charsets": json.dumps({"to": "UTF-8", "subject": "UTF-8", "from": "UTF-8"}),
        "SPF": "pass",
        "spam_score": "0.0",
        "sender_ip": "40.107.22.50",
    }

    reply = parse_sendgrid(form)

    assert reply.sender == "john.smith@bigcorp.example"
    assert reply.reply_text.endswith("Kind regards\nJohn Smith\nHead of Finance")


def test_sendgrid_raw_delivery_report() -> None:
    report = delivery_report(
        action="failed",
        status="5.1.1",
        diagnostic="smtp; 550 5.1.1 user unknown",
        subject="Undelivered Mail Returned to Sender",
    )
    form = {"email": report.as_string(), "envelope": json.dumps({"to": ["b@acme.example"]})}

    bounce = parse_sendgrid(form)

    assert bounce.kind == "bounce"
    assert [(b.address, b.permanent) for b in bounce.bounces] == [("jane@customer.example", True)]


def _postmark(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "FromName": "Jane Müller",
        "MessageStream": "inbound",
        "From": "jane.mueller@customer.example",
        "FromFull": {"Email": "jane.mueller@customer.example", "Name": "Jane Müller"},
        "To": f'"Acme Billing" <{REPLY_ADDRESS}>',
        "ToFull": [
            {"Email": REPLY_ADDRESS, "Name": "Acme Billing", "MailboxHash": "1-2-3-ab12cd34ef56"}
        ],
        "Cc": "",
        "CcFull": [],
        "Bcc": "",
        "BccFull": [],
        "OriginalRecipient": REPLY_ADDRESS,
        "Subject": "Re: Invoice INV-1001 is due",
        "MessageID": "73e6d360-66eb-11e1-8e72-a8904824019b",
        "ReplyTo": "",
        "MailboxHash": "1-2-3-ab12cd34ef56",
        "Date": "Mon, 3 Jun 2024 12:04:11 +0200",
        "TextBody": GMAIL_TEXT,
        "HtmlBody": "<div dir=ltr>Hi,<br><br>We paid this on Friday.</div>",
        "StrippedTextReply": "Hi,\n\nWe paid this on Friday, bank reference 4711.",
        "Tag": "",
        "Headers": [
            {"Name": "X-Spam-Checker-Version", "Value": "SpamAssassin 3.3.1 on p-pm-inbound01"},
            {"Name": "X-Spam-Status", "Value": "No"},
            {"Name": "X-Spam-Score", "Value": "-0.1"},
            {"Name": "Received-SPF", "Value": "Pass (sender SPF authorized)"},
            {"Name": "MIME-Version", "Value": "1.0"},
            {"Name": "Message-ID", "Value": GMAIL_ID},
            {"Name": "In-Reply-To", "Value": REMINDER_2},
            {"Name": "References", "Value": f"{REMINDER_1} {REMINDER_2}"},
        ],
        "Attachments": [],
    }
    payload.update(overrides)
    return payload


def test_postmark_uses_the_real_message_id_not_postmarks_own() -> None:
    reply = parse_postmark(_postmark())

    assert reply.message_id == GMAIL_ID
    assert (reply.sender, reply.sender_name) == ("jane.mueller@customer.example", "Jane Müller")
    assert reply.recipients == (REPLY_ADDRESS,)
    assert reply.in_reply_to == (REMINDER_2,)
    assert reply.reply_text == EXPECTED_REPLY
    assert reply_tokens(reply.recipients) == ["1-2-3-ab12cd34ef56"]


def test_postmark_without_message_id_header_and_with_an_auto_reply_header() -> None:
    headers = [{"Name": "Auto-Submitted", "Value": "auto-replied"}]
    reply = parse_postmark(_postmark(Headers=headers, To="", Subject="Out of Office"))

    assert reply.message_id is None  # never Postmark's MessageID
    assert reply.recipients == (REPLY_ADDRESS,)  # rebuilt from ToFull
    assert reply.kind == "auto_reply"


def test_postmark_with_raw_email_reads_the_raw_message() -> None:
    reply = parse_postmark(_postmark(RawEmail=outlook_reply().as_string(), Headers=[]))

    assert reply.sender == "john.smith@bigcorp.example"
    assert reply.message_id == "<DB9PR01MB1234ABCD@DB9PR01MB1234.eurprd01.prod.outlook.com>"


@pytest.mark.parametrize(
    ("parse", "payload", "message"),
    [
        (parse_mailgun, {}, "recipient"),
        (parse_mailgun, {"recipient": REPLY_ADDRESS, "token": "c2b1a8d0"}, "body-mime"),
        (parse_mailgun, ["not", "a", "form"], "mapping"),
        (parse_sendgrid, {"to": REPLY_ADDRESS, "SPF": "pass"}, "headers"),
        (parse_sendgrid, None, "mapping"),
        (parse_sendgrid, {"email": "no headers here"}, "no header fields"),
        (parse_postmark, {"To": REPLY_ADDRESS, "TextBody": "hi"}, "From"),
        (parse_postmark, {"From": "a@b.example", "FromFull": {}, "TextBody": "hi"}, "To"),
        (parse_postmark, "{}", "mapping"),
    ],
)
def test_payload_lacking_its_format_fields_is_a_format_error(
    parse: Any, payload: Any, message: str
) -> None:
    with pytest.raises(InboundFormatError, match=message):
        parse(payload)


def test_provider_payloads_with_odd_field_types_do_not_crash() -> None:
    sendgrid = _sendgrid_parsed()
    sendgrid.update(envelope="[1, 2", charsets='"x"', text=["first", "second"])
    assert parse_sendgrid(sendgrid).text == "first"

    postmark = _postmark(Headers={"Name": "x"}, ToFull="nope", TextBody=None, HtmlBody=7)
    assert parse_postmark(postmark).text == ""
