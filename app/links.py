"""Signed customer links: which organisation, customer (and invoice), for what, until when.

A token is `<payload>.<signature>`, both base64url; the HMAC-SHA256 key is derived from
POLITELY_SECRET_KEY. Expiry is checked against the real clock: it is a security check.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

from app.security import same_secret

PURPOSES = ("pay", "portal", "unsubscribe", "rate")


class InvalidLink(Exception):
    """Tampered, expired, malformed or for another purpose."""


@dataclass(frozen=True)
class LinkClaims:
    organisation_id: int
    customer_id: int
    invoice_id: int | None
    purpose: str
    expires_at: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _key(secret: str, label: str) -> bytes:
    return hmac.new(secret.encode(), f"politely:{label}".encode(), hashlib.sha256).digest()


def sign_link(
    secret: str,
    *,
    organisation_id: int,
    customer_id: int,
    invoice_id: int | None,
    purpose: str,
    max_age_days: int,
    issued_at: float | None = None,
) -> str:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown link purpose {purpose!r}")
    issued = time.time() if issued_at is None else issued_at
    payload = {
        "o": organisation_id,
        "c": customer_id,
        "i": invoice_id,
        "p": purpose,
        "e": int(issued + max_age_days * 86400),
    }
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    signature = _b64(hmac.new(_key(secret, "link"), body.encode(), hashlib.sha256).digest())
    return f"{body}.{signature}"


def verify_link(secret: str, token: str, *, purpose: str) -> LinkClaims:
    body, _, signature = token.partition(".")
    if not token.isascii():
        raise InvalidLink("malformed token")
    expected = _b64(hmac.new(_key(secret, "link"), body.encode(), hashlib.sha256).digest())
    if not signature or not same_secret(signature, expected):
        raise InvalidLink("signature does not match")
    try:
        payload = json.loads(_unb64(body))
        claims = LinkClaims(
            organisation_id=int(payload["o"]),
            customer_id=int(payload["c"]),
            invoice_id=None if payload["i"] is None else int(payload["i"]),
            purpose=str(payload["p"]),
            expires_at=int(payload["e"]),
        )
    except (ValueError, KeyError, TypeError):
        raise InvalidLink("malformed token") from None
    if claims.purpose != purpose:
        raise InvalidLink("link is for something else")
    if claims.expires_at < time.time():
        raise InvalidLink("link has expired")
    return claims


def reply_token(secret: str, *, organisation_id: int, customer_id: int, invoice_id: int) -> str:
    """Short enough for an email local part: `<org>-<customer>-<invoice>-<mac>`."""
    ids = f"{organisation_id}-{customer_id}-{invoice_id}"
    mac = hmac.new(_key(secret, "reply"), ids.encode(), hashlib.sha256).hexdigest()[:12]
    return f"{ids}-{mac}"
