"""Rendering portal pages: our own templates (autoescaped), amounts and dates in the
customer's locale, and the CSRF cookie set on every page that has a form."""

from __future__ import annotations

import secrets
from datetime import date
from pathlib import Path
from typing import Any

from babel.dates import format_date
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from app.disputes.models import DISPUTE_REASONS
from app.mail.context import format_money, normalise_locale, safe_brand_colour
from app.portal import csrf
from app.settings import Settings

_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(
    request: Request,
    settings: Settings,
    name: str,
    *,
    status: int = 200,
    link_token: str | None = None,
    locale: str = "en",
    **context: Any,
) -> HTMLResponse:
    cookie = csrf.cookie_value(request)
    locale = normalise_locale(locale)
    values = {
        "csrf_field": csrf.FIELD,
        "csrf_token": csrf.form_token(settings.secret_key, cookie, link_token)
        if link_token
        else "",
        "money": lambda minor, currency: format_money(minor, currency, locale),
        "day": lambda value: format_date(value, format="long", locale=locale),
        "iso": lambda value: value.isoformat() if isinstance(value, date) else "",
        "dispute_reasons": DISPUTE_REASONS,
        # A one-time token per rendered form: the second post of the same form does nothing.
        "nonce": lambda: secrets.token_urlsafe(16),
        "errors": {},
        "values": {},
        **context,
        "brand_colour": safe_brand_colour(context.get("brand_colour")),
    }
    response = HTMLResponse(_env.get_template(name).render(values), status_code=status)
    if link_token:
        csrf.set_cookie(response, cookie, secure=settings.base_url.startswith("https://"))
    # The page holds a secret link; it must not be cached or framed elsewhere.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https: data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    return response
