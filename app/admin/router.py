"""HTTP for signing in and out of the admin pages; each area has its own router module."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from app.admin import dashboard, invoices, outbox, settings, templates_editor, webhooks, worklist
from app.admin.auth import AdminDep, check_csrf, clear_session, runtime_of, set_session
from app.admin.pages import render
from app.db import session_scope
from app.security import same_secret
from app.users.service import authenticate, end_sessions

router = APIRouter(include_in_schema=False)
for area in (dashboard, invoices, outbox, settings, templates_editor, webhooks, worklist):
    router.include_router(area.router)
LOGIN_COOKIE = "politely_login"


def _login_csrf(secret: str, value: str) -> str:
    return hmac.new(f"login:{secret}".encode(), value.encode(), hashlib.sha256).hexdigest()


def _safe_next(value: str | None) -> str:
    # Only our own pages: never an open redirect to another site.
    if value and value.startswith("/admin/") and not value.startswith("//"):
        return value
    return "/admin/dashboard"


def _secure(request: Request) -> bool:
    return runtime_of(request).settings.base_url.startswith("https://")


@router.get("/admin", response_class=HTMLResponse)
def admin_home() -> Response:
    return RedirectResponse("/admin/dashboard", status_code=303)


@router.get("/admin/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None) -> Response:
    return _login_form(request, next=_safe_next(next))


def _login_form(
    request: Request, *, next: str, error: str = "", email: str = "", status: int = 200
) -> Response:
    secret = runtime_of(request).settings.secret_key
    value = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    response = render(
        request,
        None,
        "login.html",
        status=status,
        error=error,
        email=email,
        next=next,
        login_csrf=_login_csrf(secret, value),
    )
    response.set_cookie(
        LOGIN_COOKIE,
        value,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/admin",
        max_age=3600,
    )
    return response


@router.post("/admin/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    form = dict(await request.form())
    response = await run_in_threadpool(_login, request, form)
    if response.status_code == 401:
        # Slows guessing a little more, on top of the lock-out, without holding a thread.
        await asyncio.sleep(0.3)
    return response


def _login(request: Request, form: dict[str, Any]) -> Response:
    runtime = runtime_of(request)
    secret = runtime.settings.secret_key
    next_page = _safe_next(str(form.get("next") or ""))
    email = str(form.get("email") or "")[:320]
    value = request.cookies.get(LOGIN_COOKIE) or ""
    submitted = str(form.get("csrf_token") or "")
    if not value or not same_secret(submitted, _login_csrf(secret, value)):
        return _login_form(
            request,
            next=next_page,
            email=email,
            status=403,
            error="The form expired. Please try again.",
        )
    with session_scope(runtime.engine) as session:
        result = authenticate(session, email=email, password=str(form.get("password") or ""))
        if result.user is None:
            failed = _login_form(
                request, next=next_page, email=email, status=401, error=result.reason or ""
            )
            return failed
        response = RedirectResponse(next_page, status_code=303)
        set_session(response, secret, result.user, secure=_secure(request))
        return response


@router.post("/admin/logout")
async def logout(request: Request, admin: AdminDep) -> Response:
    form = dict(await request.form())
    runtime = runtime_of(request)
    check_csrf(runtime.settings.secret_key, admin.user, str(form.get("csrf_token") or ""))
    with session_scope(runtime.engine) as session:
        user = session.merge(admin.user)
        end_sessions(session, user)
    response = RedirectResponse("/admin/login", status_code=303)
    clear_session(response)
    return response
