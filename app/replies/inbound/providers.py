"""SendGrid Inbound Parse (parsed and raw forms) and Postmark inbound JSON."""

from __future__ import annotations

from collections.abc import Mapping
from email.utils import formataddr
from typing import Any

from app.replies.inbound.build import Source, build, headers_from_block, source_from_mime
from app.replies.inbound.forms import field, json_field, require_mapping, strings
from app.replies.inbound.headers import Headers
from app.replies.inbound.model import InboundEmail, InboundFormatError


def parse_sendgrid(form: Mapping[str, str]) -> InboundEmail:
    """A SendGrid Inbound Parse POST; raw MIME when "email" is present ("POST the raw, full MIME
    message"), else the parsed fields."""
    form = require_mapping(form, "SendGrid")
    charsets = json_field(form, "charsets")
    charsets = charsets if isinstance(charsets, dict) else {}

    def text_field(name: str) -> str:
        charset = charsets.get(name)
        return field(form, name, charset if isinstance(charset, str) else None)

    raw = field(form, "email")
    if raw:
        source = source_from_mime(raw)
    elif field(form, "headers") or field(form, "from"):
        headers = headers_from_block(text_field("headers"))
        for name in ("From", "To", "Cc", "Subject"):
            headers.setdefault(name, text_field(name.lower()))
        source = Source(headers=headers, text=text_field("text"), html=text_field("html"))
    else:
        raise InboundFormatError(
            "SendGrid payload has neither 'email' (raw mode) nor 'headers'/'from' (parsed mode)"
        )
    envelope = json_field(form, "envelope")
    if isinstance(envelope, dict):
        source.envelope_recipients.extend(strings(envelope.get("to")))
        mail_from = envelope.get("from")
        if isinstance(mail_from, str):
            source.headers.setdefault("Return-Path", f"<{mail_from.strip()}>")
    return build(source)


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _mailbox(entry: object) -> tuple[str, str] | None:
    """(name, email) of a Postmark {"Email", "Name"} object."""
    if not isinstance(entry, Mapping):
        return None
    address, name = entry.get("Email"), entry.get("Name")
    if not isinstance(address, str) or not address.strip():
        return None
    return (_text(name), address.strip())


def _address_list(payload: Mapping[str, Any], plain: str, full: str) -> str:
    """The header value for To/Cc: Postmark's own string, else rebuilt from the *Full list."""
    value = payload.get(plain)
    if isinstance(value, str) and value.strip():
        return value
    entries = payload.get(full)
    mailboxes = [_mailbox(entry) for entry in entries] if isinstance(entries, list) else []
    return ", ".join(formataddr(mailbox) for mailbox in mailboxes if mailbox)


def _postmark_headers(payload: Mapping[str, Any]) -> Headers:
    listed = payload.get("Headers")
    pairs = []
    for item in listed if isinstance(listed, list) else []:
        if isinstance(item, Mapping):
            name, value = item.get("Name"), item.get("Value")
            if isinstance(name, str) and isinstance(value, str):
                pairs.append((name, value))
    headers = Headers(pairs)
    sender = _mailbox(payload.get("FromFull"))
    if sender is None:
        name, address = payload.get("FromName"), payload.get("From")
        sender = (_text(name), _text(address))
    headers.setdefault("From", formataddr(sender))
    headers.setdefault("To", _address_list(payload, "To", "ToFull"))
    headers.setdefault("Cc", _address_list(payload, "Cc", "CcFull"))
    headers.setdefault("Subject", _text(payload.get("Subject")))
    return headers


def parse_postmark(payload: Mapping[str, Any]) -> InboundEmail:
    """A Postmark inbound webhook. Its "MessageID" is Postmark's own id, so the Message-ID header
    comes from "Headers" only."""
    payload = require_mapping(payload, "Postmark")
    if not (isinstance(payload.get("From"), str) and payload["From"].strip()) and not _mailbox(
        payload.get("FromFull")
    ):
        raise InboundFormatError("Postmark payload lacks 'From'/'FromFull'")
    if not any(payload.get(name) for name in ("To", "ToFull", "OriginalRecipient")):
        raise InboundFormatError("Postmark payload lacks 'To'/'ToFull'/'OriginalRecipient'")
    raw = payload.get("RawEmail")  # present when "include raw email content" is enabled
    if isinstance(raw, str) and raw.strip():
        source = source_from_mime(raw)
    else:
        source = Source(
            headers=_postmark_headers(payload),
            text=_text(payload.get("TextBody")),
            html=_text(payload.get("HtmlBody")),
        )
    original = payload.get("OriginalRecipient")
    if isinstance(original, str):
        source.envelope_recipients.append(original)
    return build(source)
