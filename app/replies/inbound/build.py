"""Reads raw MIME and assembles an InboundEmail from headers, bodies and delivery reports."""

from __future__ import annotations

import contextlib
import email.parser
from dataclasses import dataclass, field
from email.message import Message
from email.policy import Compat32
from typing import Any

from app.replies.inbound.classify import classify
from app.replies.inbound.decoding import clean_text, decode_bytes
from app.replies.inbound.headers import Headers, dedupe, message_ids, parse_addresses
from app.replies.inbound.html_text import html_to_text
from app.replies.inbound.model import (
    MAX_HTML_CHARS,
    MAX_RAW_BYTES,
    MAX_TEXT_CHARS,
    InboundEmail,
    InboundFormatError,
)
from app.replies.inbound.quoted import strip_quoted

_STATUS_TYPES = {
    "message/delivery-status",
    "message/global-delivery-status",
    "text/delivery-status",
}
_MAX_DEPTH = 20
_MAX_SUBJECT = 1_000


class _RawPolicy(Compat32):
    """Header values exactly as received: decoding is done here, so odd bytes cannot raise."""

    def header_fetch_parse(self, name: str, value: str) -> Any:
        return value


_POLICY = _RawPolicy()


@dataclass
class Source:
    """What every input format provides before the common interpretation."""

    headers: Headers
    text: str = ""
    html: str = ""
    report_blocks: list[Headers] | None = None
    envelope_recipients: list[str] = field(default_factory=list)


def build(source: Source) -> InboundEmail:
    headers = source.headers
    senders = parse_addresses(headers.get_all("from"))
    sender_name, sender = senders[0] if senders else ("", "")
    addressed = headers.get_all("to") + headers.get_all("cc")
    delivered = headers.get_all("delivered-to") + headers.get_all("x-original-to")
    recipients = dedupe(
        [address for _, address in parse_addresses(addressed)]
        + [address for _, address in parse_addresses(delivered)]
        + [address for _, address in parse_addresses(source.envelope_recipients)]
    )
    subject = headers.text("subject")[:_MAX_SUBJECT]
    own_ids = message_ids(headers.get("message-id"))
    text = clean_text(source.text[: MAX_TEXT_CHARS * 4])
    if not text.strip() and source.html.strip():
        text = html_to_text(clean_text(source.html[:MAX_HTML_CHARS]))
    text = text[:MAX_TEXT_CHARS].rstrip().lstrip("\n")
    kind, bounces, reason = classify(
        headers, sender=sender, subject=subject, text=text, report_blocks=source.report_blocks
    )
    return InboundEmail(
        sender=sender,
        sender_name=sender_name,
        recipients=recipients,
        subject=subject,
        message_id=own_ids[0] if own_ids else None,
        in_reply_to=tuple(message_ids(" ".join(headers.get_all("in-reply-to")))),
        references=tuple(message_ids(" ".join(headers.get_all("references")))),
        text=text,
        reply_text=strip_quoted(text),
        kind=kind,
        bounces=bounces,
        auto_reply_reason=reason,
    )


def _part_text(part: Message) -> str:
    try:
        payload = part.get_payload(decode=True)
        charset = part.get_content_charset()
    except Exception:  # a broken part is skipped, not fatal
        return ""
    if isinstance(payload, str):
        payload = payload.encode("utf-8", "surrogateescape")
    if not isinstance(payload, bytes):
        return ""
    return decode_bytes(payload[: MAX_HTML_CHARS * 4], charset)


def headers_from_block(text: str) -> Headers:
    """The fields of a raw header block, as a provider passes it on."""
    block = text.replace("\r\n", "\n").strip("\n") + "\n\n"
    return Headers(email.parser.Parser(policy=_POLICY).parsestr(block, headersonly=True).items())


def _status_blocks(text: str) -> list[Headers]:
    """Blocks of "Name: value" fields separated by blank lines (RFC 3464 section 2.1)."""
    chunks = text.replace("\r\n", "\n").split("\n\n")[:200]
    return [headers_from_block(chunk) for chunk in chunks if chunk.strip()]


@dataclass
class _Found:
    text: str | None = None
    html: str | None = None
    blocks: list[Headers] | None = None


def _walk(part: Message, found: _Found, depth: int) -> None:
    if depth > _MAX_DEPTH:
        return
    content_type = part.get_content_type()
    payload = part.get_payload()
    if content_type in _STATUS_TYPES:
        if isinstance(payload, list):  # the stdlib pre-splits message/delivery-status
            blocks = [block for block in payload if isinstance(block, Message)]
            found.blocks = [Headers(block.items()) for block in blocks]
        else:
            found.blocks = _status_blocks(_part_text(part))
        return
    if content_type.startswith("message/"):
        return  # an attached or returned message: its text is not this message's body
    if isinstance(payload, list):
        for child in payload[:100]:
            if isinstance(child, Message):
                _walk(child, found, depth + 1)
        return
    disposition = str(part.get("content-disposition") or "").split(";", 1)[0].strip().lower()
    if disposition == "attachment":
        return
    if content_type == "text/plain" and found.text is None:
        found.text = _part_text(part)
    elif content_type == "text/html" and found.html is None:
        found.html = _part_text(part)


def source_from_mime(data: bytes | str) -> Source:
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InboundFormatError("raw MIME must be bytes")
    raw = bytes(data[:MAX_RAW_BYTES])
    try:
        message = email.parser.BytesParser(policy=_POLICY).parsebytes(raw)
    except Exception:  # fall back to the header block alone
        message = email.parser.BytesHeaderParser(policy=_POLICY).parsebytes(raw)
    headers = Headers(message.items())
    if not message.items():
        raise InboundFormatError("not a MIME message: no header fields found")
    found = _Found()
    with contextlib.suppress(Exception):  # keep the headers and whatever body was read
        _walk(message, found, 0)
    return Source(
        headers=headers, text=found.text or "", html=found.html or "", report_blocks=found.blocks
    )


def parse_raw_mime(data: bytes) -> InboundEmail:
    """An InboundEmail from a complete RFC 5322 message; best effort on malformed MIME."""
    return build(source_from_mime(data))
