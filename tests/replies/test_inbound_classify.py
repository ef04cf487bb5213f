"""Auto-replies and delivery reports are told apart from a person's reply."""

from __future__ import annotations

from email.message import EmailMessage
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

import pytest

from app.replies.inbound import BouncedRecipient, parse_raw_mime
from tests.replies.builders import REMINDER_1, REPLY_ADDRESS, SENT_AT, delivery_report


def _message(subject: str = "Re: Invoice INV-1001 is due", **headers: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Jane Doe <jane@customer.example>"
    message["To"] = REPLY_ADDRESS
    message["Subject"] = subject
    message["Date"] = SENT_AT
    message["In-Reply-To"] = REMINDER_1
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content("I am out of the office until 14 June with limited access to email.\n")
    return message


def test_rfc3834_out_of_office_is_an_auto_reply() -> None:
    message = _message(Auto_Submitted="auto-replied (vacation)")

    reply = parse_raw_mime(message.as_bytes())

    assert reply.kind == "auto_reply"
    assert reply.auto_reply_reason == "Auto-Submitted: auto-replied (vacation)"
    assert reply.in_reply_to == (REMINDER_1,)  # still matchable to the invoice for the timeline


def test_exchange_oof_is_recognised_by_its_suppress_header() -> None:
    message = _message(
        "Automatic reply: Invoice INV-1001 is due",
        X_Auto_Response_Suppress="All",
        X_MS_Exchange_Inbox_Rules_Loop="jane@customer.example",
        Thread_Topic="Invoice INV-1001 is due",
    )

    reply = parse_raw_mime(message.as_bytes())

    assert reply.kind == "auto_reply"
    assert reply.auto_reply_reason == "X-Auto-Response-Suppress: All"


@pytest.mark.parametrize(
    ("subject", "headers", "reason"),
    [
        ("Automatic reply: Invoice INV-1001", {}, "Subject: Automatic reply: Invoice INV-1001"),
        ("Out of Office: Re: Invoice", {}, "Subject: Out of Office: Re: Invoice"),
        ("AUTO: Jane is away", {}, "Subject: AUTO: Jane is away"),
        ("Abwesenheitsnotiz: Rechnung", {}, "Subject: Abwesenheitsnotiz: Rechnung"),
        ("Réponse automatique : Facture", {}, "Subject: Réponse automatique : Facture"),
        ("Fuera de la oficina: Factura", {}, "Subject: Fuera de la oficina: Factura"),
        ("Autoreply: thanks", {}, "Subject: Autoreply: thanks"),
        ("Re: Invoice", {"X-Autoreply": "yes"}, "X-Autoreply: yes"),
        ("Re: Invoice", {"X-Autorespond": "Vacation"}, "X-Autorespond: Vacation"),
        ("Re: Invoice", {"Precedence": "bulk"}, "Precedence: bulk"),
        ("Re: Invoice", {"Precedence": "auto_reply"}, "Precedence: auto_reply"),
        ("Re: Invoice", {"X-Precedence": "auto_reply"}, "X-Precedence: auto_reply"),
        (
            "Re: Invoice",
            {"X-Auto-Response-Suppress": "DR, OOF"},
            "X-Auto-Response-Suppress: DR, OOF",
        ),
    ],
)
def test_each_auto_reply_signal(subject: str, headers: dict[str, str], reason: str) -> None:
    message = _message(subject)
    for name, value in headers.items():
        message[name] = value

    reply = parse_raw_mime(message.as_bytes())

    assert (reply.kind, reply.auto_reply_reason) == ("auto_reply", reason)


@pytest.mark.parametrize(
    "headers",
    [
        {"List-Id": "<accounts.customer.example>"},
        {"Auto-Submitted": "no"},
        {"X-Auto-Response-Suppress": "DR, RN"},
        {"Precedence": "first-class"},
    ],
)
def test_these_alone_do_not_make_a_reply_automatic(headers: dict[str, str]) -> None:
    message = _message("Re: Out of office on Friday?")
    for name, value in headers.items():
        message[name] = value

    reply = parse_raw_mime(message.as_bytes())

    assert reply.kind == "human" and reply.auto_reply_reason is None


def test_postfix_report_with_permanent_failure() -> None:
    report = delivery_report(
        action="failed",
        status="5.1.1",
        diagnostic="smtp; 550 5.1.1 <jane@customer.example>: Recipient address rejected: "
        "User unknown in virtual mailbox table",
        subject="Undelivered Mail Returned to Sender",
    )

    bounce = parse_raw_mime(report.as_bytes())

    # Postfix also sets Auto-Submitted: the report wins, it is not an out-of-office.
    assert bounce.kind == "bounce"
    assert bounce.auto_reply_reason is None
    assert bounce.bounces == (
        BouncedRecipient(
            address="jane@customer.example",
            status="5.1.1",
            diagnostic="smtp; 550 5.1.1 <jane@customer.example>: Recipient address rejected: "
            "User unknown in virtual mailbox table",
            permanent=True,
        ),
    )
    assert bounce.sender == "mailer-daemon@mail.acme.example"


def test_postfix_report_of_a_delay_is_not_permanent() -> None:
    report = delivery_report(
        action="delayed",
        status="4.4.1",
        diagnostic="X-Postfix; connect to mx.customer.example[203.0.113.5]:25: timed out",
        subject="Delayed Mail (still being retried)",
    )

    bounce = parse_raw_mime(report.as_bytes())

    assert bounce.kind == "bounce"
    (recipient,) = bounce.bounces
    assert (recipient.address, recipient.status, recipient.permanent) == (
        "jane@customer.example",
        "4.4.1",
        False,
    )


def test_report_of_successful_delivery_names_no_bounced_recipient() -> None:
    report = delivery_report(
        action="delivered", status="2.0.0", diagnostic="smtp; 250 2.0.0 Ok", subject="Delivered"
    )

    bounce = parse_raw_mime(report.as_bytes())

    assert bounce.kind == "bounce" and bounce.bounces == ()


def _daemon_message(subject: str, body: str, **headers: str) -> bytes:
    message = EmailMessage()
    message["From"] = "Mail Delivery Subsystem <MAILER-DAEMON@mx.oldhost.example>"
    message["To"] = "billing@acme.example"
    message["Subject"] = subject
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message.as_bytes()


def test_exim_bounce_from_mailer_daemon_names_the_failed_address() -> None:
    raw = _daemon_message(
        "Mail delivery failed: returning message to sender",
        "This message was created automatically by mail delivery software.\n\n"
        "A message that you sent could not be delivered to one or more of its\n"
        "recipients. This is a permanent error. The following address(es) failed:\n\n"
        "  bob@gone.example\n"
        "    host mx.gone.example [198.51.100.7]\n"
        "    SMTP error from remote mail server after RCPT TO:<bob@gone.example>:\n"
        "    550 5.1.1 <bob@gone.example>: Recipient address rejected: User unknown\n\n"
        "------ This is a copy of the message, including all the headers. ------\n\n"
        "To: bob@gone.example\n",
        X_Failed_Recipients="bob@gone.example",
        Return_Path="<>",
    )

    bounce = parse_raw_mime(raw)

    assert bounce.kind == "bounce"
    (recipient,) = bounce.bounces
    assert recipient.address == "bob@gone.example"
    assert recipient.status == "5.1.1" and recipient.permanent
    assert "User unknown" in recipient.diagnostic


def test_vague_mailer_daemon_bounce_is_a_bounce_without_guessed_addresses() -> None:
    raw = _daemon_message(
        "Undelivered Mail Returned to Sender",
        "Your message could not be delivered. Please contact your administrator.\n",
    )

    bounce = parse_raw_mime(raw)

    assert bounce.kind == "bounce" and bounce.bounces == ()


def test_null_return_path_with_failure_subject_is_a_bounce() -> None:
    message = EmailMessage()
    message["Return-Path"] = "<>"
    message["From"] = "Microsoft Outlook <noreply@customer.example>"
    message["To"] = "billing@acme.example"
    message["Subject"] = "Delivery Status Notification (Failure)"
    message.set_content(
        "Delivery has failed to these recipients or groups:\n\n"
        "<mary@customer.example>: 550 5.4.1 Recipient address rejected: Access denied.\n"
    )

    bounce = parse_raw_mime(message.as_bytes())

    assert bounce.kind == "bounce"
    assert [(b.address, b.status, b.permanent) for b in bounce.bounces] == [
        ("mary@customer.example", "5.4.1", True)
    ]


def test_a_customer_writing_from_postmaster_about_something_else_is_human() -> None:
    message = _message("Re: Invoice INV-1001 is due")
    message.replace_header("From", "postmaster@customer.example")

    assert parse_raw_mime(message.as_bytes()).kind == "human"


def test_read_receipt_is_automatic_not_a_reply() -> None:
    receipt = MIMEMultipart("report", **{"report-type": "disposition-notification"})
    receipt["From"] = "Jane Doe <jane@customer.example>"
    receipt["To"] = REPLY_ADDRESS
    receipt["Subject"] = "Read: Invoice INV-1001 is due"
    receipt.attach(MIMEText("Your message was read on 3 June 2024 10:05."))
    notification = MIMEBase("message", "disposition-notification")
    notification.set_payload("Final-Recipient: rfc822;jane@customer.example\n")
    receipt.attach(notification)

    reply = parse_raw_mime(receipt.as_bytes())

    assert reply.kind == "auto_reply"
    assert (
        reply.auto_reply_reason is not None
        and "disposition-notification" in reply.auto_reply_reason
    )


def test_gmail_style_sentence_names_the_address() -> None:
    raw = _daemon_message(
        "Delivery Status Notification (Failure)",
        "Address not found\n\nYour message wasn't delivered to bob@gone.example. "
        "The address couldn't be found, or is unable to receive mail.\n",
    )

    bounce = parse_raw_mime(raw)

    assert [(b.address, b.permanent) for b in bounce.bounces] == [("bob@gone.example", True)]
