"""CSRF for the portal's forms: a signed double-submit cookie, bound to the link's token.

Customers have no session, so the cookie carries a random value and each form carries an
HMAC of it with the link token; a cross-site form post has neither.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request, Response

from app.security import same_secret

COOKIE = "politely_csrf"
FIELD = "csrf_token"


def form_token(secret: str, cookie_value: str, link_token: str) -> str:
    message = f"{cookie_value}|{link_token}".encode()
    return hmac.new(f"csrf:{secret}".encode(), message, hashlib.sha256).hexdigest()


def cookie_value(request: Request) -> str:
    """The visitor's CSRF cookie value, or a new one to set on the response."""
    value = request.cookies.get(COOKIE)
    if not value or len(value) > 100:
        value = secrets.token_urlsafe(32)
    return value


def set_cookie(response: Response, value: str, *, secure: bool) -> None:
    response.set_cookie(
        COOKIE,
        value,
        httponly=True,
        samesite="strict",
        secure=secure,
        path="/p/",
        max_age=60 * 60 * 24 * 7,
    )


def is_valid(secret: str, request: Request, submitted: str | None, link_token: str) -> bool:
    cookie_value = request.cookies.get(COOKIE)
    if not cookie_value or not submitted:
        return False
    return same_secret(submitted, form_token(secret, cookie_value, link_token))
