"""Parsing of inbound email (raw MIME, Mailgun, SendGrid, Postmark) into one pure value type."""

from app.replies.inbound.build import parse_raw_mime
from app.replies.inbound.headers import reply_tokens
from app.replies.inbound.mailgun import parse_mailgun, verify_mailgun_signature
from app.replies.inbound.model import BouncedRecipient, InboundEmail, InboundFormatError
from app.replies.inbound.providers import parse_postmark, parse_sendgrid
from app.replies.inbound.quoted import strip_quoted

__all__ = [
    "BouncedRecipient",
    "InboundEmail",
    "InboundFormatError",
    "parse_mailgun",
    "parse_postmark",
    "parse_raw_mime",
    "parse_sendgrid",
    "reply_tokens",
    "strip_quoted",
    "verify_mailgun_signature",
]
