"""Rendering admin pages: our own autoescaped templates, the CSRF token, safe headers."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from app.admin.auth import Admin, csrf_token, runtime_of
from app.admin.inert import without_live_links
from app.mail.context import format_money, normalise_locale

_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["inert_links"] = without_live_links


def _helpers(admin: Admin | None) -> dict[str, Any]:
    organisation = admin.organisation if admin else None
    locale = normalise_locale(organisation.default_locale if organisation else "en")
    zone = ZoneInfo(organisation.default_timezone if organisation else "UTC")

    def when(value: datetime | None) -> str:
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M") if value else ""

    return {
        "money": lambda minor, currency: format_money(minor, currency, locale),
        "day": lambda value: format_date(value, format="medium", locale=locale) if value else "",
        "when": when,
        "iso": lambda value: value.isoformat() if isinstance(value, date) else "",
    }


def render(
    request: Request, admin: Admin | None, name: str, *, status: int = 200, **context: Any
) -> HTMLResponse:
    runtime = runtime_of(request)
    values = {
        "admin": admin,
        "csrf_token": csrf_token(runtime.settings.secret_key, admin.user) if admin else "",
        "dev_outbox": runtime.settings.smtp_url is None,
        "path": request.url.path,
        "flash": request.query_params.get("done", ""),
        **_helpers(admin),
        **context,
    }
    response = HTMLResponse(_env.get_template(name).render(values), status_code=status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "frame-src 'self'; form-action 'self'; frame-ancestors 'self'; base-uri 'none'; "
        "script-src 'none'"
    )
    return response
