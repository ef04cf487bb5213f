"""Webhook signatures (pure): Stripe-Signature, and Standard Webhooks verification and signing."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from datetime import datetime

TOLERANCE_SECONDS = 300
STANDARD_PREFIX = "whsec_"


class SignatureError(ValueError):
    """The request is not signed by the holder of the secret, or not recently enough."""


def _check_timestamp(timestamp: int, now: float | None, tolerance: int) -> None:
    # The real clock, never the test clock: this guards against replayed captures.
    current = time.time() if now is None else now
    if timestamp < current - tolerance:
        raise SignatureError("the signature timestamp is too old (more than 5 minutes)")
    if timestamp > current + tolerance:
        raise SignatureError("the signature timestamp is in the future (more than 5 minutes)")


def _timestamp(text: str) -> int:
    text = text.strip()
    # Digits only: int() would also take "+1_614", and float() "nan" or "1e9".
    if not text.isascii() or not text.isdecimal() or len(text) > 12:
        raise SignatureError("the signature timestamp is not a whole number of seconds")
    return int(text)


# --- Stripe -----------------------------------------------------------------------------


def stripe_signature(payload: bytes, secret: str, timestamp: int) -> str:
    """The hex HMAC-SHA256 Stripe puts in a `v1=` entry."""
    signed = str(timestamp).encode() + b"." + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def verify_stripe(
    payload: bytes,
    header: str | None,
    secret: str,
    *,
    now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> int:
    """Check a `Stripe-Signature: t=...,v1=...[,v1=...]` header; returns its timestamp.

    While an endpoint secret is being rolled Stripe signs with both secrets, so any one
    matching `v1` entry is enough; other schemes (such as `v0`) are ignored.
    """
    if not header:
        raise SignatureError("the Stripe-Signature header is missing")
    stamps: list[str] = []
    signatures: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            stamps.append(value)
        elif key == "v1":
            signatures.append(value.strip())
    if len(stamps) != 1:
        raise SignatureError("the Stripe-Signature header needs exactly one t= entry")
    if not signatures:
        raise SignatureError("the Stripe-Signature header has no v1= signature")
    timestamp = _timestamp(stamps[0])
    expected = stripe_signature(payload, secret, timestamp).encode()
    # Every entry is compared, so the time taken does not say which one was close.
    matched = False
    for signature in signatures:
        matched |= hmac.compare_digest(expected, signature.encode("utf-8", "replace"))
    if not matched:
        raise SignatureError("no Stripe signature matches this endpoint's secret")
    _check_timestamp(timestamp, now, tolerance)
    return timestamp


# --- Standard Webhooks ------------------------------------------------------------------


def standard_key(secret: str) -> bytes:
    """The HMAC key of a "whsec_<base64>" secret (the prefix is optional)."""
    encoded = secret.strip().removeprefix(STANDARD_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("the webhook secret is not whsec_ followed by base64") from None
    if not key:
        raise SignatureError("the webhook secret is empty")
    return key


def sign_standard(secret: str, msg_id: str, timestamp: int | datetime, body: bytes | str) -> str:
    """The `webhook-signature` value for one message: "v1,<base64 HMAC-SHA256>"."""
    seconds = int(timestamp.timestamp()) if isinstance(timestamp, datetime) else int(timestamp)
    content = body.encode() if isinstance(body, str) else body
    signed = f"{msg_id}.{seconds}.".encode() + content
    digest = hmac.new(standard_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify_standard(
    secret: str,
    *,
    msg_id: str | None,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> int:
    """Check the `webhook-id`, `webhook-timestamp` and `webhook-signature` headers.

    The signature header may hold several space-separated "v1,<base64>" entries (a secret
    being rotated); one match is enough. Returns the timestamp.
    """
    if not msg_id or not timestamp or not signature:
        raise SignatureError("send the webhook-id, webhook-timestamp and webhook-signature headers")
    seconds = _timestamp(timestamp)
    expected = sign_standard(secret, msg_id, seconds, body).split(",", 1)[1]
    expected_bytes = base64.b64decode(expected)
    matched = False
    for entry in signature.split():
        version, _, value = entry.partition(",")
        if version != "v1":
            continue  # e.g. "v1a" asymmetric signatures, which this endpoint does not use
        try:
            candidate = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            continue
        matched |= hmac.compare_digest(expected_bytes, candidate)
    if not matched:
        raise SignatureError("no webhook-signature entry matches this organisation's secret")
    _check_timestamp(seconds, now, tolerance)
    return seconds
