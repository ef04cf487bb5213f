"""Raw MIME replies from real clients: sender, threading ids, body text and the reply itself."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.replies.inbound import InboundFormatError, parse_raw_mime, reply_tokens
from tests.replies.builders import (
    REMINDER_1,
    REMINDER_2,
    REPLY_ADDRESS,
    SENT_AT,
    gmail_reply,
    outlook_reply,
)


def test_gmail_reply_gives_sender_thread_ids_and_only_the_new_text() -> None:
    reply = parse_raw_mime(gmail_reply().as_bytes())

    assert reply.kind == "human"
    assert reply.sender == "jane.mueller@customer.example"
    assert reply.sender_name == "Jane Müller"
    assert reply.recipients == (REPLY_ADDRESS, "accounts@customer.example")
    assert reply_tokens(reply.recipients) == ["1-2-3-ab12cd34ef56"]
    assert reply.message_id == "<CAF+x9Yk=2mQ@mail.gmail.com>"
    assert reply.in_reply_to == (REMINDER_2,)
    assert reply.references == (REMINDER_1, REMINDER_2)
    assert reply.text.startswith("Hi,\n\nWe paid this on Friday")
    assert "> Dear Jane," in reply.text
    assert reply.reply_text == "Hi,\n\nWe paid this on Friday, bank reference 4711.\n\nBest,\nJane"
    assert reply.bounces == () and reply.auto_reply_reason is None


def test_outlook_reply_in_windows_1252_is_decoded_and_the_header_block_cut() -> None:
    reply = parse_raw_mime(outlook_reply().as_bytes())

    assert reply.kind == "human"
    assert reply.sender == "john.smith@bigcorp.example"
    assert reply.subject == "RE: Invoice INV-1001 – due"
    assert "We’ll pay the €1,250.00" in reply.text
    assert "\r" not in reply.text
    assert reply.reply_text == (
        "Hello,\n\nWe’ll pay the €1,250.00 by the end of the month – sorry for the delay.\n\n"
        "Kind regards\nJohn Smith\nHead of Finance"
    )
    assert reply.in_reply_to == (REMINDER_1,)


def test_html_only_reply_becomes_text_with_entities_and_line_breaks() -> None:
    message = EmailMessage()
    message["From"] = "Pierre Dupont <pierre@client.example>"
    message["To"] = REPLY_ADDRESS
    message["Subject"] = "Re: Facture INV-1002"
    message["Message-ID"] = "<5E2C3A1B-0F7D@icloud.com>"
    message["In-Reply-To"] = REMINDER_1
    message.set_content(
        "<html><head><style>p { margin: 0 }</style></head><body>"
        "<p>Bonjour,</p><p>Le paiement de 980&nbsp;&euro; part demain &amp; la "
        "r&eacute;f&eacute;rence est &laquo;&nbsp;INV-1002&nbsp;&raquo;.</p>"
        "<div>Cordialement,<br>Pierre</div>"
        '<blockquote type="cite"><div>Le 3 juin 2024 à 10:00, Acme &lt;billing@acme.example&gt;'
        " a écrit :</div><div>Votre facture est échue.</div></blockquote>"
        "<script>alert('x')</script></body></html>",
        subtype="html",
    )

    reply = parse_raw_mime(message.as_bytes())

    assert "<" not in reply.reply_text and "alert" not in reply.text and "margin" not in reply.text
    assert reply.reply_text == (
        "Bonjour,\n\nLe paiement de 980 € part demain & la référence est « INV-1002 ».\n\n"
        "Cordialement,\nPierre"
    )
    assert "> Votre facture est échue." in reply.text


def test_outlook_html_only_reply_is_cut_at_its_header_block() -> None:
    message = EmailMessage()
    message["From"] = "John Smith <john.smith@bigcorp.example>"
    message["To"] = REPLY_ADDRESS
    message["Subject"] = "RE: Invoice INV-1001 is due"
    message.set_content(
        "<html><body><div>Hi, the payment went out today.</div><div>Regards, John</div>"
        '<hr style="display:inline-block;width:98%"><div id="divRplyFwdMsg" dir="ltr">'
        "<font face=Calibri><b>From:</b> Acme Billing &lt;billing@acme.example&gt;<br>"
        "<b>Sent:</b> Monday, June 3, 2024 10:00 AM<br><b>To:</b> John Smith<br>"
        "<b>Subject:</b> Invoice INV-1001 is due</font></div><div>Dear John, pay now.</div>"
        "</body></html>",
        subtype="html",
        charset="windows-1252",
    )

    reply = parse_raw_mime(message.as_bytes())

    assert reply.reply_text == "Hi, the payment went out today.\nRegards, John"


def test_german_reply_with_am_schrieb_attribution() -> None:
    message = EmailMessage()
    message["From"] = "Jürgen Weiß <j.weiss@kunde.example>"
    message["To"] = "Acme Buchhaltung <reply+4-5-6-0f0f0f0f0f0f@in.acme.example>"
    message["Subject"] = "AW: Rechnung INV-1003 fällig"
    message["Message-ID"] = "<a1b2c3@kunde.example>"
    message["References"] = REMINDER_1
    message.set_content(
        "Hallo,\n\nwir überweisen den Betrag nächste Woche.\n\nGrüße\nJürgen Weiß\n\n"
        "Am Mo., 3. Juni 2024 um 10:00 Uhr schrieb Acme Buchhaltung <\nbilling@acme.example>:\n\n"
        "> Sehr geehrter Herr Weiß,\n> die Rechnung INV-1003 ist fällig.\n",
        cte="base64",
    )

    reply = parse_raw_mime(message.as_bytes())

    assert reply.sender_name == "Jürgen Weiß"
    assert reply.subject == "AW: Rechnung INV-1003 fällig"
    assert (
        reply.reply_text
        == "Hallo,\n\nwir überweisen den Betrag nächste Woche.\n\nGrüße\nJürgen Weiß"
    )
    assert reply.references == (REMINDER_1,)
    assert reply_tokens(reply.recipients) == ["4-5-6-0f0f0f0f0f0f"]


def test_recipients_are_to_cc_delivered_to_then_deduplicated() -> None:
    message = EmailMessage()
    message["From"] = "a@customer.example"
    message["To"] = "Billing <Billing@Acme.example>, other@customer.example"
    message["Cc"] = "billing@acme.example"
    message["Delivered-To"] = REPLY_ADDRESS
    message["X-Original-To"] = "reply+9-9-9-000000000000@in.acme.example"
    message.set_content("ok")

    reply = parse_raw_mime(message.as_bytes())

    assert reply.recipients == (
        "billing@acme.example",
        "other@customer.example",
        REPLY_ADDRESS,
        "reply+9-9-9-000000000000@in.acme.example",
    )


def test_raw_8bit_utf8_headers_and_unknown_charsets_are_read() -> None:
    raw = (
        "From: Zoë Ångström <zoe@kunde.example>\r\n"
        "To: billing@acme.example\r\n"
        "Subject: Rechnung fällig =?iso-8859-1?q?=FCberwiesen?=\r\n"
        "Message-ID: zoe.1@kunde.example\r\n"
        "Content-Type: text/plain; charset=x-no-such-charset\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
        "Schon bezahlt – danke.\r\n"
    ).encode()

    reply = parse_raw_mime(raw)

    assert reply.sender_name == "Zoë Ångström"
    assert reply.subject == "Rechnung fällig überwiesen"
    assert reply.message_id == "<zoe.1@kunde.example>"  # relays that drop the brackets
    assert reply.text == "Schon bezahlt – danke."


def test_latin1_labelled_body_with_windows_characters() -> None:
    raw = (
        b"From: x@customer.example\r\nSubject: =?ISO-8859-1?B?UmU6IFLpcG9uc2U=?=\r\n"
        b"Content-Type: text/plain; charset=ISO-8859-1\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        b"D=E9j=E0 pay=E9 =80 100 =93merci=94\r\n"
    )

    reply = parse_raw_mime(raw)

    assert reply.subject == "Re: Réponse"
    assert reply.text == "Déjà payé € 100 “merci”"


@pytest.mark.parametrize(
    "raw",
    [
        # multipart without a boundary, truncated mid-part
        b"From: a@b.example\r\nContent-Type: multipart/mixed\r\n\r\n--x\r\nhello",
        # boundary declared but never closed, broken base64 in the part
        b"From: a@b.example\r\nContent-Type: multipart/alternative; boundary=zz\r\n\r\n"
        b"--zz\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!###\r\n",
        # an encoded word that does not decode, NUL bytes, a header line without a colon
        b"From: =?utf-8?B?####?= <a@b.example>\r\nSubject: =?utf-8?Q?broken\r\nnot a header\r\n\r\n"
        b"body\x00with nul",
        # attribute soup in the address headers
        b'From: <<<@>>>, ,;;\r\nTo: "unterminated <x@y\r\nReferences: <a@b> <<c@d>> junk\r\n\r\nhi',
    ],
)
def test_malformed_mime_still_gives_a_best_effort_result(raw: bytes) -> None:
    reply = parse_raw_mime(raw)

    assert reply.kind == "human"
    assert "\x00" not in reply.text
    assert isinstance(reply.sender, str)


def test_deeply_nested_and_huge_messages_are_bounded() -> None:
    nested = b"From: a@b.example\r\n"
    for level in range(60):
        nested += f"Content-Type: multipart/mixed; boundary=b{level}\r\n\r\n--b{level}\r\n".encode()
    nested += b"Content-Type: text/plain\r\n\r\ndeep\r\n"
    assert parse_raw_mime(nested).sender == "a@b.example"

    huge = EmailMessage()
    huge["From"] = "a@b.example"
    huge.set_content("x" * 3_000_000)
    assert len(parse_raw_mime(huge.as_bytes()).text) == 100_000


@pytest.mark.parametrize("raw", [b"", b"   \r\n\r\n", b"just some text without headers"])
def test_payload_without_any_header_is_a_format_error(raw: bytes) -> None:
    with pytest.raises(InboundFormatError, match="no header fields"):
        parse_raw_mime(raw)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=2_000))
def test_arbitrary_bytes_never_raise_anything_but_the_format_error(raw: bytes) -> None:
    try:
        parse_raw_mime(b"From: fuzz@example.com\r\nDate: " + SENT_AT.encode() + b"\r\n" + raw)
        parse_raw_mime(raw)
    except InboundFormatError:
        pass
