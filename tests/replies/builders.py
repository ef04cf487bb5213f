"""Realistic inbound messages built with the stdlib email package, as mail clients send them."""

from __future__ import annotations

from datetime import UTC, datetime
from email.charset import QP, Charset
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime

REPLY_ADDRESS = "reply+1-2-3-ab12cd34ef56@in.acme.example"
REMINDER_1 = "<reminder.1.7f3a@acme.example>"
REMINDER_2 = "<reminder.2.9c1e@acme.example>"
GMAIL_ID = "<CAF+x9Yk=2mQ@mail.gmail.com>"
GMAIL_TEXT = (
    "Hi,\n\nWe paid this on Friday, bank reference 4711.\n\nBest,\nJane\n\n"
    "On Mon, Jun 3, 2024 at 10:00 AM Acme Billing <billing@acme.example> wrote:\n\n"
    "> Dear Jane,\n> invoice INV-1001 over EUR 1,250.00 was due on 1 June.\n"
)
EXPECTED_REPLY = "Hi,\n\nWe paid this on Friday, bank reference 4711.\n\nBest,\nJane"
SENT_AT = format_datetime(datetime(2024, 6, 3, 10, 0, tzinfo=UTC))


def gmail_reply() -> EmailMessage:
    """Gmail: multipart/alternative, attribution wrapped over two lines, ">" quoting."""
    message = EmailMessage()
    message["From"] = Address("Jane Müller", addr_spec="Jane.Mueller@Customer.example")
    message["To"] = f"Acme Billing <{REPLY_ADDRESS}>"
    message["Cc"] = "Accounts <accounts@customer.example>"
    message["Subject"] = "Re: Invoice INV-1001 is due"
    message["Date"] = SENT_AT
    message["Message-ID"] = GMAIL_ID
    message["In-Reply-To"] = REMINDER_2
    message["References"] = f"{REMINDER_1} {REMINDER_2}"
    message.set_content(
        "Hi,\n\n"
        "We paid this on Friday, bank reference 4711.\n\n"
        "Best,\nJane\n\n"
        "On Mon, Jun 3, 2024 at 10:00 AM Acme Billing <billing@acme.example>\n"
        "wrote:\n\n"
        "> Dear Jane,\n"
        ">\n"
        "> invoice INV-1001 over EUR 1,250.00 was due on 1 June.\n"
        "> Pay now: https://acme.example/p/abc/pay\n"
    )
    message.add_alternative(
        '<div dir="ltr">Hi,<div><br></div><div>We paid this on Friday, bank reference 4711.</div>'
        "<div><br></div><div>Best,<br>Jane</div></div><br>"
        '<div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Mon, Jun 3, 2024 at 10:00'
        " AM Acme Billing &lt;billing@acme.example&gt; wrote:<br></div>"
        '<blockquote class="gmail_quote">Dear Jane,<br><br>invoice INV-1001 over EUR 1,250.00'
        " was due on 1 June.</blockquote></div>",
        subtype="html",
    )
    return message


def outlook_reply() -> Message:
    """Outlook desktop: windows-1252 quoted-printable, history under a separator and a
    From/Sent/To/Subject block, nothing marked with ">"."""
    charset = Charset("windows-1252")
    charset.body_encoding = QP
    body = (
        "Hello,\r\n\r\n"
        "We\u2019ll pay the \u20ac1,250.00 by the end of the month \u2013 sorry for the delay.\r\n"
        "\r\nKind regards\r\nJohn Smith\r\nHead of Finance\r\n\r\n"
        "________________________________\r\n"
        "From: Acme Billing <billing@acme.example>\r\n"
        "Sent: Monday, June 3, 2024 10:00 AM\r\n"
        "To: John Smith <john.smith@bigcorp.example>\r\n"
        "Subject: Invoice INV-1001 is due\r\n\r\n"
        "Dear John,\r\n\r\ninvoice INV-1001 over EUR 1,250.00 was due on 1 June.\r\n"
    )
    message = MIMEText(body, "plain", charset)
    message["From"] = "John Smith <John.Smith@BigCorp.example>"
    message["To"] = f'"Acme Billing" <{REPLY_ADDRESS}>'
    message["Subject"] = Header("RE: Invoice INV-1001 \u2013 due", "windows-1252")
    message["Date"] = SENT_AT
    message["Message-ID"] = "<DB9PR01MB1234ABCD@DB9PR01MB1234.eurprd01.prod.outlook.com>"
    message["In-Reply-To"] = REMINDER_1
    message["References"] = REMINDER_1
    message["Thread-Topic"] = "Invoice INV-1001 is due"
    message["X-MS-Has-Attach"] = ""
    message["Content-Language"] = "en-US"
    return message


def delivery_report(*, action: str, status: str, diagnostic: str, subject: str) -> MIMEMultipart:
    """Postfix's RFC 3464 report: human text, message/delivery-status, returned headers."""
    report = MIMEMultipart("report", **{"report-type": "delivery-status"})
    report["From"] = "Mail Delivery System <MAILER-DAEMON@mail.acme.example>"
    report["To"] = "billing@acme.example"
    report["Subject"] = subject
    report["Auto-Submitted"] = "auto-replied"
    report["Message-ID"] = "<20240603100512.4F2A81C0042@mail.acme.example>"
    report["Date"] = SENT_AT
    report.attach(
        MIMEText(
            "This is the mail system at host mail.acme.example.\n\n"
            "I'm sorry to have to inform you that your message could not\n"
            "be delivered to one or more recipients.\n\n"
            "                   The mail system\n\n"
            f"<jane@customer.example>: host mx.customer.example[203.0.113.5] said:\n"
            f"    {diagnostic.split('; ', 1)[-1]}\n"
        )
    )
    per_message = Message()
    per_message["Reporting-MTA"] = "dns; mail.acme.example"
    per_message["X-Postfix-Queue-ID"] = "4F2A81C0042"
    per_message["Arrival-Date"] = SENT_AT
    per_recipient = Message()
    per_recipient["Final-Recipient"] = "rfc822; jane@customer.example"
    per_recipient["Original-Recipient"] = "rfc822;Jane@Customer.example"
    per_recipient["Action"] = action
    per_recipient["Status"] = status
    per_recipient["Remote-MTA"] = "dns; mx.customer.example"
    per_recipient["Diagnostic-Code"] = diagnostic
    status_part = MIMEBase("message", "delivery-status")
    status_part.set_payload([per_message, per_recipient])
    report.attach(status_part)
    returned = MIMEText(
        "From: Acme Billing <billing@acme.example>\nTo: jane@customer.example\n"
        f"Subject: Invoice INV-1001 is due\nMessage-ID: {REMINDER_1}\n",
        "rfc822-headers",
    )
    report.attach(returned)
    return report
