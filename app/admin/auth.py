"""Admin sessions and CSRF.

The session is a signed HttpOnly SameSite=Strict cookie naming the user and their current
session nonce, so logging out (a new nonce) ends it everywhere. The CSRF token of a form is
an HMAC of that nonce: it changes with every login and cannot be made without the cookie.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response
from sqlmodel import Session

from app.db import session_scope
from app.organisations.models import Organisation
from app.runtime import Runtime
from app.security import same_secret
from app.users.models import User

COOKIE = "politely_admin"
MAX_AGE = 12 * 60 * 60


class NotSignedIn(Exception):
    """Handled in main: pages redirect to the login page, JSON answers 401."""


class BadCsrf(Exception):
    """A state-changing request without this session's CSRF token (403)."""


@dataclass
class Admin:
    user: User
    organisation: Organisation

    @property
    def organisation_id(self) -> int:
        assert self.organisation.id is not None
        return self.organisation.id


def _sign(secret: str, payload: bytes) -> str:
    return (
        base64.urlsafe_b64encode(
            hmac.new(f"admin:{secret}".encode(), payload, hashlib.sha256).digest()
        )
        .decode()
        .rstrip("=")
    )


def session_cookie(secret: str, user: User) -> str:
    payload = json.dumps(
        {"u": user.id, "n": user.session_nonce, "e": int(time.time()) + MAX_AGE},
        separators=(",", ":"),
    ).encode()
    body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    return f"{body}.{_sign(secret, payload)}"


def set_session(response: Response, secret: str, user: User, *, secure: bool) -> None:
    response.set_cookie(
        COOKIE,
        session_cookie(secret, user),
        max_age=MAX_AGE,
        httponly=True,
        samesite="strict",
        secure=secure,
        path="/admin",
    )


def clear_session(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/admin")


def _read_cookie(secret: str, value: str) -> tuple[int, str] | None:
    body, _, signature = value.partition(".")
    try:
        payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        if not same_secret(signature, _sign(secret, payload)):
            return None
        data = json.loads(payload)
        if int(data["e"]) < time.time():
            return None
        return int(data["u"]), str(data["n"])
    except (ValueError, KeyError, TypeError):
        return None


def current_admin(session: Session, request: Request, secret: str) -> Admin:
    value = request.cookies.get(COOKIE)
    found = _read_cookie(secret, value) if value and value.isascii() else None
    if found is None:
        raise NotSignedIn()
    user = session.get(User, found[0])
    if user is None or not same_secret(found[1], user.session_nonce):
        raise NotSignedIn()
    organisation = session.get(Organisation, user.organisation_id)
    assert organisation is not None
    return Admin(user=user, organisation=organisation)


def csrf_token(secret: str, user: User) -> str:
    return hmac.new(
        f"admin-csrf:{secret}".encode(), user.session_nonce.encode(), hashlib.sha256
    ).hexdigest()


def check_csrf(secret: str, user: User, submitted: str | None) -> None:
    if not same_secret(submitted, csrf_token(secret, user)):
        raise BadCsrf()


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_admin(request: Request) -> Admin:
    """Dependency for every admin route: the signed-in user, or NotSignedIn."""
    runtime = runtime_of(request)
    with session_scope(runtime.engine) as session:
        admin = current_admin(session, request, runtime.settings.secret_key)
        session.expunge(admin.user)
        session.expunge(admin.organisation)
        return admin


AdminDep = Annotated[Admin, Depends(get_admin)]


async def read_form(request: Request, admin: Admin) -> dict[str, str]:
    """The posted form's text fields, after checking this session's CSRF token."""
    form = await request.form()
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    check_csrf(runtime_of(request).settings.secret_key, admin.user, fields.get("csrf_token"))
    return fields
