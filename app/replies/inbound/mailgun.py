"""Mailgun inbound routes: the parsed "forward" form, the raw "mime" form and the signature."""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from collections.abc import Mapping
from typing import Any

from app.replies.inbound.build import Source, build, source_from_mime
from app.replies.inbound.forms import field, has_field, json_field, require_mapping
from app.replies.inbound.headers import Headers
from app.replies.inbound.model import InboundEmail, InboundFormatError

# Headers Mailgun also posts as separate fields; used when message-headers lacks them.
_HEADER_FIELDS = ("From", "To", "Cc", "Subject", "Message-Id", "In-Reply-To", "References")
_TIMESTAMP = re.compile(r"\d{1,15}")


def _forward_headers(form: Mapping[str, Any]) -> Headers:
    listed = json_field(form, "message-headers")
    pairs: list[tuple[str, str]] = []
    if isinstance(listed, list):
        for item in listed:
            if isinstance(item, list | tuple) and len(item) == 2:
                name, value = item
                if isinstance(name, str) and isinstance(value, str):
                    pairs.append((name, value))
    headers = Headers(pairs)
    for name in _HEADER_FIELDS:
        headers.setdefault(name, field(form, name))
    return headers


def parse_mailgun(form: Mapping[str, str]) -> InboundEmail:
    """A Mailgun route POST, either form; raw MIME when "body-mime" is present."""
    form = require_mapping(form, "Mailgun")
    if not field(form, "recipient"):
        raise InboundFormatError("Mailgun payload lacks 'recipient'")
    raw = field(form, "body-mime")
    if raw:
        source = source_from_mime(raw)
    elif field(form, "message-headers") or field(form, "from"):
        source = Source(
            headers=_forward_headers(form),
            text=field(form, "body-plain"),
            html=field(form, "body-html"),
        )
    else:
        raise InboundFormatError(
            "Mailgun payload has neither 'body-mime' (raw MIME route) "
            "nor 'message-headers'/'from' (parsed route)"
        )
    # "sender" is the SMTP MAIL FROM: empty for bounces, which the null Return-Path signals.
    if has_field(form, "sender"):
        source.headers.setdefault("Return-Path", f"<{field(form, 'sender').strip()}>")
    source.envelope_recipients.append(field(form, "recipient"))
    return build(source)


def verify_mailgun_signature(
    *,
    signing_key: str,
    timestamp: str,
    token: str,
    signature: str,
    now: float,
    tolerance_seconds: int = 300,
) -> bool:
    """Mailgun's webhook signature (HMAC-SHA256 of timestamp + token) and its freshness; any
    malformed input is simply not valid."""
    try:
        values = (signing_key, timestamp, token, signature)
        if not all(isinstance(value, str) and value for value in values):
            return False
        if not _TIMESTAMP.fullmatch(timestamp) or not math.isfinite(now):
            return False
        if tolerance_seconds < 0 or abs(now - int(timestamp)) > tolerance_seconds:
            return False
        expected = hmac.new(
            signing_key.encode("utf-8"), (timestamp + token).encode("utf-8"), hashlib.sha256
        ).hexdigest()
        return hmac.compare_digest(expected.encode("ascii"), signature.lower().encode("utf-8"))
    except Exception:  # the contract is a yes/no answer, whatever arrives
        return False
