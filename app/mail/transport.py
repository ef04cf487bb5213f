"""The mail transports other code uses: SMTP in production, the .eml outbox in development."""

from __future__ import annotations

from pathlib import Path

from app.mail.delivery import (
    DeliveryError,
    MailTransport,
    OutcomeUnknown,
    PermanentFailure,
    SendResult,
    TemporaryFailure,
    envelope,
)
from app.mail.outbox import OutboxTransport, list_outbox
from app.mail.smtp import SmtpSettings, SmtpTransport, parse_smtp_url

__all__ = [
    "DeliveryError",
    "MailTransport",
    "OutboxTransport",
    "OutcomeUnknown",
    "PermanentFailure",
    "SendResult",
    "SmtpSettings",
    "SmtpTransport",
    "TemporaryFailure",
    "envelope",
    "list_outbox",
    "parse_smtp_url",
    "transport_from_url",
]


def transport_from_url(smtp_url: str | None, outbox_dir: Path) -> MailTransport:
    """SMTP when a URL is configured, else the development outbox."""
    if smtp_url and smtp_url.strip():
        return SmtpTransport.from_url(smtp_url)
    return OutboxTransport(outbox_dir)
